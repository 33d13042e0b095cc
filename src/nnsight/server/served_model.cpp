// Loading and describing hosted models.

#include "nnsight/server/served_model.h"

#include "nnsight/base/error.h"
#include "nnsight/runtime/model_loader.h"
#include "nnsight/server/trace_request.h"

namespace nnsight::server {

using json = nlohmann::json;

std::pair<std::string, std::string> parse_model_spec(const std::string& spec) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw Error("--model expects NAME=PATH, got '" + spec + "'", "--model",
                "e.g. --model stories=../shared/models/stories260K-hf");
  std::string name = spec.substr(0, eq);
  check_name(name, "model name");
  return {std::move(name), spec.substr(eq + 1)};
}

namespace {

json describe(LanguageModel& lm, const std::string& name) {
  const ModelConfig& c = lm.config();
  json modules = json::array();
  for (Module* m : lm.module().modules()) {
    json params = json::object();
    for (const auto& [pname, t] : m->parameters()) params[pname] = t.sizes().vec();
    modules.push_back({{"path", m->path()}, {"type", m->type_name()}, {"parameters", std::move(params)}});
  }
  return {{"name", name},
          {"architecture", lm.module().type_name()},
          {"model_type", c.model_type},
          {"config",
           {{"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"num_layers", c.num_layers},
            {"num_heads", c.num_heads},
            {"num_kv_heads", c.num_kv_heads},
            {"intermediate_size", c.intermediate_size},
            {"max_positions", c.max_positions},
            {"dtype", c.dtype == at::kBFloat16 ? "bfloat16" : "float32"}}},
          {"modules", std::move(modules)}};
}

}  // namespace

std::shared_ptr<ServedModel> serve_model(const std::string& name, std::unique_ptr<LanguageModel> model,
                                         const std::string& path) {
  check_name(name, "model name");
  auto served = std::make_shared<ServedModel>();
  served->name = name;
  served->path = path;
  served->model = std::move(model);
  served->info = describe(*served->model, name);
  return served;
}

std::shared_ptr<ServedModel> load_served_model(const std::string& name, const std::string& path,
                                               const std::string& tokenizer_path) {
  check_name(name, "model name");
  LoadOptions options;
  options.tokenizer_path = tokenizer_path;
  return serve_model(name, std::make_unique<LanguageModel>(LanguageModel::load(path, options)), path);
}

}  // namespace nnsight::server
