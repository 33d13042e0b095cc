// Results and errors of a run, as JSON and safetensors.

#include "nnsight/server/results.h"

#include <ATen/ops/scalar_tensor.h>
#include <ATen/ops/tensor.h>

#include <optional>

#include "nnsight/format/value_json.h"

namespace nnsight::server {

using json = nlohmann::json;

namespace {

void add_tensors(format::TensorBlob& blob, const std::string& name, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Tensor:
      if (v.as_tensor().defined()) blob.add(name, v.as_tensor().detach().contiguous());
      return;
    case Value::Kind::Int: blob.add(name, at::scalar_tensor(v.as_int(), at::kLong)); return;
    case Value::Kind::Float: blob.add(name, at::scalar_tensor(v.as_double(), at::kDouble)); return;
    case Value::Kind::Bool: blob.add(name, at::scalar_tensor(v.as_bool(), at::kBool)); return;
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      const auto& items = v.items();
      for (std::size_t i = 0; i < items.size(); ++i) add_tensors(blob, name + "." + std::to_string(i), items[i]);
      return;
    }
    case Value::Kind::Dict: {
      const Dict& d = v.as_dict();
      for (std::size_t i = 0; i < d.size(); ++i) {
        const std::string& key = d.keys[i];
        add_tensors(blob, name + "." + (is_valid_name(key) ? key : std::to_string(i)), d.values[i]);
      }
      return;
    }
    default: return;  // strings, None, slices: nothing a tensor file can hold
  }
}

void add_generated(format::TensorBlob& blob, int32_t trace, const Value& rows) {
  if (!rows.is_sequence()) return;
  const std::string name = "generated_" + std::to_string(trace);
  std::size_t width = 0;
  bool equal = true;
  for (const Value& row : rows.items()) {
    if (width != 0 && row.items().size() != width) equal = false;
    width = std::max(width, row.items().size());
  }
  if (equal) {
    std::vector<int64_t> ids;
    for (const Value& row : rows.items())
      for (const Value& id : row.items()) ids.push_back(id.as_int());
    blob.add(
        name,
        at::tensor(ids, at::kLong).reshape({static_cast<int64_t>(rows.items().size()), static_cast<int64_t>(width)}));
  } else {
    add_tensors(blob, name, rows);
  }
}

// The id N of the first "node N (" in an error text (how graph errors name their node). Parsed by hand:
// the text can quote user input, and std::regex recurses per character on long inputs.
std::optional<int64_t> node_id_in(const std::string& text) {
  for (std::size_t at = text.find("node "); at != std::string::npos; at = text.find("node ", at + 1)) {
    std::size_t i = at + 5;
    int64_t id = 0;
    std::size_t digits = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 10; ++i, ++digits)
      id = id * 10 + (text[i] - '0');
    if (digits > 0 && digits < 10 && text.compare(i, 2, " (") == 0) return id;
  }
  return std::nullopt;
}

}  // namespace

json results_to_json(const TraceRequest& request, const DocumentResult& result) {
  json outputs = json::object();
  for (const auto& [save, value] : result.saved)
    outputs[request.output_name(save)] = {{"node", save}, {"value", format::value_to_json(value)}};
  json generated = json::object();
  for (const auto& [trace, rows] : result.generated) generated[std::to_string(trace)] = format::value_to_json(rows);
  return {{"outputs", std::move(outputs)}, {"generated", std::move(generated)}, {"logs", result.logs}};
}

format::TensorBlob results_to_blob(const TraceRequest& request, const DocumentResult& result) {
  format::TensorBlob blob;
  for (const auto& [save, value] : result.saved) add_tensors(blob, request.output_name(save), value);
  for (const auto& [trace, rows] : result.generated) add_generated(blob, trace, rows);
  return blob;
}

json error_to_json(const std::string& code, const Error& error, const format::GraphDocument* doc) {
  json j = {{"code", code}, {"message", error.message()}};
  if (!error.where().empty()) j["where"] = error.where();
  if (!error.hint().empty()) j["hint"] = error.hint();
  if (doc == nullptr || !doc->graph) return j;
  std::optional<int64_t> id = node_id_in(error.where());
  if (!id) id = node_id_in(error.message());
  if (!id || *id >= doc->graph->size()) return j;
  const auto node = static_cast<int32_t>(*id);
  const graph::Graph& g = *doc->graph;
  j["node"] = node;
  const graph::Node& n = g.node(node);
  if (n.kind == graph::NodeKind::Op && n.op != nullptr) {
    j["op"] = std::string(n.op->name);
  } else {
    const std::string label = g.label(node);  // "node 7 (model.layers.2.output, iteration 0)"
    const auto open = label.find('(');
    j["op"] = open == std::string::npos ? label : label.substr(open + 1, label.size() - open - 2);
  }
  j["location"] = doc->where(node);
  return j;
}

}  // namespace nnsight::server
