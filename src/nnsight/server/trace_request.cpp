// Parsing trace requests: the envelope around a graph document.

#include "nnsight/server/trace_request.h"

#include <nlohmann/json.hpp>
#include <set>

#include "nnsight/base/error.h"
#include "nnsight/format/value_json.h"

namespace nnsight::server {

using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxNameLength = 64;

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out + (s.size() > 80 ? "..." : "");
}

}  // namespace

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  };
  for (char c : name)
    if (!ok(c)) return false;
  if (name.front() == '.' || name.front() == '-') return false;
  return name.find("..") == std::string_view::npos;
}

void check_name(std::string_view name, const char* what) {
  if (!is_valid_name(name))
    throw Error(std::string(what) + " '" + printable(name) + "' is not allowed", "request",
                "names are 1 to 64 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-' "
                "and without '..'");
}

std::string TraceRequest::output_name(int32_t save) const {
  for (const auto& [name, node] : names)
    if (node == save) return name;
  return "node_" + std::to_string(save);
}

namespace {}  // namespace

json parse_request_json(std::string_view text, const format::DecodeLimits& limits) {
  return format::parse_graph_text(text, limits);
}

TraceRequest parse_trace_request_text(std::string_view text, const format::DecodeLimits& limits,
                                      const format::TensorSource* tensors) {
  return parse_trace_request(parse_request_json(text, limits), limits, tensors);
}

TraceRequest parse_trace_request(const json& j, const format::DecodeLimits& limits,
                                 const format::TensorSource* tensors) {
  TraceRequest request;
  const format::DecodeOptions options{.limits = limits, .source = tensors};
  if (!j.is_object())
    throw Error("the request is " + format::json_kind(j) + ", expected an object", "request",
                "send {\"model\": NAME, \"graph\": {...}} or a graph document");
  if (j.contains("format")) {  // a bare graph document
    request.doc = format::document_from_json(j, options);
    return request;
  }
  for (const auto& [key, value] : j.items())
    if (key != "model" && key != "graph" && key != "outputs")
      throw Error("unknown request field '" + printable(key) + "'", "request",
                  "request fields are \"model\", \"graph\" and \"outputs\"");
  if (j.contains("model")) {
    if (!j["model"].is_string()) throw Error("\"model\" must be a string", "request");
    request.model = j["model"].get<std::string>();
    check_name(request.model, "model name");
  }
  if (!j.contains("graph"))
    throw Error("the request has no \"graph\"", "request", "put the graph document under \"graph\"");
  request.doc = format::document_from_json(j["graph"], options);

  if (j.contains("outputs")) {
    const json& outputs = j["outputs"];
    if (!outputs.is_object()) throw Error("\"outputs\" must be an object {name: save node id}", "request at outputs");
    std::set<int32_t> named;
    for (const auto& [name, id] : outputs.items()) {
      check_name(name, "output name");
      const std::string where = "request at outputs." + name;
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= request.doc.graph->size())
        throw Error("output '" + name + "' must name a node id of the graph, got " + printable(id.dump()), where);
      const auto node = static_cast<int32_t>(id.get<int64_t>());
      if (request.doc.graph->node(node).kind != graph::NodeKind::Save)
        throw Error("output '" + name + "' names " + request.doc.graph->label(node) + ", which is not a save node",
                    where, "name the id of the save node (kind \"save\") that keeps the value");
      if (!named.insert(node).second)
        throw Error("save node " + std::to_string(node) + " is named twice", where, "give each save one name");
      if (name.rfind("node_", 0) == 0 && name != "node_" + std::to_string(node))
        throw Error("output name '" + name + "' could clash with the default name of another save", where,
                    "names starting with 'node_' are reserved for unnamed saves");
      request.names.emplace_back(name, node);
    }
  }
  return request;
}

}  // namespace nnsight::server
