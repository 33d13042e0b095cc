#pragma once
/// @file
/// Intervention graphs as versioned JSON (docs/graph-format.md, schema in
/// docs/graph-format.schema.json): the wire format of `nnsight run` and
/// `nnsight serve`, modelled on NNsight 0.4's JSON graph.
///
/// ```
///   GraphDocument doc{graph};                       // a recorded session or trace
///   doc.traces[0].invokes = {Value("Once upon a time")};
///   TensorBlob blob;
///   nlohmann::json j = to_json(doc, {.sink = &blob});
///   ...
///   GraphDocument back = document_from_json(j, {.source = &blob});   // untrusted input is fine
///   back.graph->run(runner);
/// ```
///
/// Node ids are positions in "nodes": a decoded graph has exactly the encoded
/// graph's index space (same nodes, edges, contexts, entry points), so results
/// are reported by node id. Nodes of kind `apply` (local C++ callables) cannot
/// be encoded. Decoding validates everything and never crashes: each problem is
/// an nnsight::Error whose location is a JSON path ("nodes[12].args[1]").

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nnsight/format/decode_limits.h"
#include "nnsight/format/tensor_blob.h"
#include "nnsight/graph/graph.h"
#include "nnsight/runtime/generation/generate.h"

namespace nnsight::format {

/// The format version this build writes and reads.
inline constexpr int kGraphFormatVersion = 1;
/// The "format" field's value.
inline constexpr const char* kGraphFormatName = "nnsight-graph";

/// Where the client created a node.
struct SourceLocation {
  std::string file;                             ///< shortened like format_location: "examples/patch.cpp"
  int64_t line = 0;                             ///< 1-based; 0 when unknown
  std::string function;                         ///< the enclosing function, as the compiler names it
  bool known() const { return !file.empty(); }  ///< false when the client sent no location
  /// "file:line" (or "" when unknown).
  std::string str() const;
};

/// How one trace runs, beyond its graph (the tracing API keeps this beside
/// the graph): the inputs of its invokes and how the model is driven.
struct TraceSettings {
  /// Inputs of explicit invokes: prompts, token id lists, tensors (constants).
  /// Batch group k is invoke k; a trace with an input (the Trace node's
  /// argument) has no explicit invokes: that input is batch group 0.
  std::vector<Value> invokes;
  bool strict_order = true;  ///< out-of-order module access is an error
  /// Set: the trace is a generation (call k of a module = step k).
  std::optional<GenerateOptions> generate;
};

/// A graph with its per-trace settings and its nodes' client source lines.
struct GraphDocument {
  std::shared_ptr<graph::Graph> graph;  ///< the nodes (a session or one stand-alone trace)
  /// By Trace node index. Encoding: absent = defaults. Decoding: every trace has one.
  std::map<int32_t, TraceSettings> traces;
  /// By node index. Encoding: empty = taken from the nodes' std::source_location.
  /// Decoding: the client's locations (unknown ones empty).
  std::vector<SourceLocation> locations;

  /// "file:line" of node i: the client's location when known, else the graph's.
  std::string where(int32_t i) const;
  /// The settings of trace `t` (defaults when absent).
  const TraceSettings& trace(int32_t t) const;
};

/// How to_json writes tensors.
struct EncodeOptions {
  /// Tensors larger than this many bytes go to `sink` when one is given;
  /// without a sink every tensor is inlined.
  std::size_t inline_tensor_bytes = 64u << 10;
  TensorSink* sink = nullptr;  ///< receives the large tensors; null = inline every tensor
};

/// What decoding accepts: limits, and where attached tensors come from.
struct DecodeOptions {
  DecodeLimits limits;  ///< bounds on size and nesting (the defaults suit a local run)
  /// The attached tensors ({"tensor": {"blob": name}}); none when null.
  const TensorSource* source = nullptr;
};

/// Encodes a recorded graph (every context closed), as a document or as a bare
/// graph with default trace settings. Throws Error naming the node and its
/// source line for nodes that cannot be sent (apply).
///@{
nlohmann::json to_json(const GraphDocument& doc, const EncodeOptions& options = {});
nlohmann::json to_json(const graph::Graph& g, const EncodeOptions& options = {});
///@}

/// Decodes and validates a graph document from untrusted JSON.
GraphDocument document_from_json(const nlohmann::json& j, const DecodeOptions& options = {});
/// document_from_json(...).graph.
std::shared_ptr<graph::Graph> graph_from_json(const nlohmann::json& j, const DecodeOptions& options = {});

/// Parses JSON text with the nesting limited to limits.max_json_depth() (no
/// stack exhaustion on hostile input); syntax errors name the byte offset.
nlohmann::json parse_graph_text(std::string_view text, const DecodeLimits& limits = {});

}  // namespace nnsight::format
