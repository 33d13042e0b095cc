#include "nnsight/remote/remote_model.h"

#include <cstdio>

#include "nnsight/base/error.h"
#include "nnsight/format/graph_json.h"
#include "nnsight/format/value_json.h"
#include "nnsight/remote/module_skeleton.h"

namespace nnsight::remote {
namespace {

using json = nlohmann::json;

/// A generation trace's run function: it only carries the options to the
/// encoder (the server runs the generation).
struct RemoteGeneration {
  GenerateOptions options;
  Value operator()(Inputs&) const {
    throw Error("a remote generation cannot run on the client", "remote model",
                "it is sent to the server when the trace ends");
  }
};

json find_model(const json& models, const std::string& name, const std::string& url) {
  if (!models.is_object() || !models.contains("models") || !models["models"].is_array())
    throw Error("the server's model list is malformed", "remote " + url + "/v1/models");
  std::string names;
  for (const json& m : models["models"]) {
    const std::string n = m.value("name", std::string());
    if (n == name || (name.empty() && models["models"].size() == 1)) return m;
    names += (names.empty() ? "'" : ", '") + n + "'";
  }
  throw Error(name.empty() ? "the server hosts several models: name one" : "the server has no model '" + name + "'",
              "remote " + url, "models there: " + (names.empty() ? std::string("none") : names));
}

}  // namespace

RemoteModel::RemoteModel(Connection connection, std::string name, json description)
    : Model(build_skeleton(description)),
      connection_(std::move(connection)),
      name_(std::move(name)),
      description_(std::move(description)) {}

RemoteModel RemoteModel::connect(const Endpoint& endpoint, const std::string& name) {
  Connection connection(endpoint);
  json description = find_model(connection.get("/v1/models"), name, endpoint.url);
  std::string resolved = description.value("name", name);
  return RemoteModel(std::move(connection), std::move(resolved), std::move(description));
}

std::function<Value(Inputs&)> RemoteModel::remote_generation(const GenerateOptions& options) {
  return RemoteGeneration{options};
}

void RemoteModel::run_recording(api_detail::Recording& recording) {
  if (recording.shape_only())
    throw Error("a remote model cannot be scanned or validated on the client (it has no weights here)",
                "remote model '" + name_ + "'", "run the trace; shape errors come back naming your line");
  format::GraphDocument doc;
  doc.graph = recording.graph;
  for (const auto& [t, setup] : recording.setups) {
    format::TraceSettings settings;
    settings.invokes = setup->invoke_inputs;
    settings.strict_order = setup->strict_order;
    if (setup->run) {
      const auto* generation = setup->run.target<RemoteGeneration>();
      if (generation == nullptr)
        throw Error("this trace drives the model with a local function, which cannot be sent", setup->describe(),
                    "use model.trace or model.generate of the remote model");
      settings.generate = generation->options;
    }
    doc.traces[t] = std::move(settings);
  }
  format::TensorBlob blob;
  json request = {{"model", name_}, {"graph", format::to_json(doc, {.sink = &blob})}};
  const json result = connection_.run(request, blob);

  graph::Graph& g = *recording.graph;
  format::ValueDecoder decoder(format::DecodeLimits{}, nullptr);
  const format::JsonPath root;
  const format::JsonPath outputs_at(root, "outputs"), generated_at(root, "generated");
  if (result.contains("logs") && result["logs"].is_array())
    for (const json& line : result["logs"])
      if (line.is_string()) {
        if (g.log_sink())
          g.log_sink()(line.get<std::string>());
        else
          std::printf("%s\n", line.get<std::string>().c_str());
      }
  if (result.contains("outputs") && result["outputs"].is_object()) {
    for (const auto& [name, out] : result["outputs"].items()) {
      const int64_t save = out.value("node", int64_t{-1});
      if (save < 0 || save >= g.size() || g.node(static_cast<int32_t>(save)).kind != graph::NodeKind::Save)
        throw Error("the server returned a value for node " + std::to_string(save) + ", which is not a save",
                    "remote model '" + name_ + "'");
      const Value& target = g.node(static_cast<int32_t>(save)).args.at(0);
      g.set_value(static_cast<int32_t>(target.as_ref()),
                  decoder.decode(out.at("value"), format::JsonPath(outputs_at, name)));
    }
  }
  if (result.contains("generated") && result["generated"].is_object())
    for (const auto& [trace, rows] : result["generated"].items()) {
      auto it = recording.setups.find(std::stoi(trace));
      if (it != recording.setups.end())
        it->second->output = decoder.decode(rows, format::JsonPath(generated_at, trace));
    }
}

}  // namespace nnsight::remote
