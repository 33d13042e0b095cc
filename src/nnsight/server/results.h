#pragma once
/// @file
/// What a run returns to its client: the saved values by name as JSON (values
/// in the graph format's encoding) or as safetensors, and errors as JSON that
/// name the failing node, its op and the client's source line.

#include <nlohmann/json.hpp>
#include <string>

#include "nnsight/api/document_runner.h"
#include "nnsight/format/tensor_blob.h"
#include "nnsight/server/trace_request.h"

namespace nnsight::server {

/// {"outputs": {name: {"node": save id, "value": value JSON}}, "generated":
/// {"<trace node id>": [[token ids], ...]}, "logs": [lines]}. Tensors are
/// inline ({"tensor": {"dtype", "shape", "data"}}).
nlohmann::json results_to_json(const TraceRequest& request, const DocumentResult& result);

/// The saved values' tensors for a safetensors file: a tensor value under its
/// name; tensors inside lists / tuples / dicts under "name.0", "name.key"
/// (keys that are not valid names use their position); numbers and bools as
/// 0-dim tensors (int64, float64, bool); strings and None are left out.
/// Generated tokens of trace t are "generated_<t>" (int64 [rows, steps],
/// padded with -1) when rows have equal length, else "generated_<t>.<row>".
format::TensorBlob results_to_blob(const TraceRequest& request, const DocumentResult& result);

/// {"code", "message", "where", "hint", "node", "op", "location"}: the node
/// (and its op and client location from `doc`) is the first "node N (...)"
/// the error's location (or message) names; absent when none or no `doc`.
nlohmann::json error_to_json(const std::string& code, const Error& error, const format::GraphDocument* doc);

}  // namespace nnsight::server
