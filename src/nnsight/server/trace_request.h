#pragma once
/// @file
/// A trace request: the graph document plus what travels around it (which
/// model runs it, names for its saved values), as `nnsight run` reads it from a
/// file and `nnsight serve` receives it (docs/server.md).
///
/// ```
///   {"model": "stories", "graph": {"format": "nnsight-graph", ...}, "outputs": {"clean": 5}}
/// ```
///
/// or a bare graph document ({"format": "nnsight-graph", ...}). Saved values
/// are named "node_<id>" (the Save node's id) unless "outputs" names them.
/// Names (of models and outputs) are restricted to a safe alphabet so they can
/// never be paths: "../x" is rejected.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nnsight/format/graph_json.h"

namespace nnsight::server {

/// One parsed and validated trace request.
struct TraceRequest {
  /// The "model" field; empty when absent (a bare graph or `nnsight run`).
  std::string model;
  format::GraphDocument doc;  ///< the "graph" field (or the whole request when it is a bare graph)
  /// Names given in "outputs": (name, Save node id), in the request's order.
  std::vector<std::pair<std::string, int32_t>> names;

  /// The name of Save node `save`: its "outputs" name or "node_<save>".
  std::string output_name(int32_t save) const;
};

/// Parses and validates a request (JSON text from an untrusted source) under
/// `limits`; `tensors` are the attached tensors ({"tensor": {"blob": ...}}),
/// null for none. Throws Error: JSON syntax errors say "is not valid JSON".
TraceRequest parse_trace_request_text(std::string_view text, const format::DecodeLimits& limits,
                                      const format::TensorSource* tensors = nullptr);
/// The same for parsed JSON (format::parse_graph_text parses text safely).
TraceRequest parse_trace_request(const nlohmann::json& j, const format::DecodeLimits& limits,
                                 const format::TensorSource* tensors = nullptr);

/// Parses request JSON text in linear time with the nesting capped at
/// limits.max_json_depth(): a syntax check and depth count (SAX) first, then
/// a plain parse. (format::parse_graph_text's callback parser is quadratic in
/// the length of an array of objects: a million nodes take minutes.) Errors
/// read like parse_graph_text's ("is not valid JSON", "nested deeper than").
nlohmann::json parse_request_json(std::string_view text, const format::DecodeLimits& limits);

/// Whether `name` is a valid model or output name: 1 to 64 characters of
/// [A-Za-z0-9_.-], starting with a letter, digit or '_', without "..".
bool is_valid_name(std::string_view name);
/// Throws Error (naming `what`: "model name", "output name") unless is_valid_name.
void check_name(std::string_view name, const char* what);

}  // namespace nnsight::server
