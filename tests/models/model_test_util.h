#pragma once
// Shared helpers for the model tests (header-only: the test area compiles only
// *_test.cpp files): loading a test model into a CausalLM, reference JSON,
// tensor comparison, and a CallHook that records module inputs/outputs.

#include <ATen/ATen.h>

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nnsight/runtime/forward_context.h"
#include "nnsight/runtime/loaders/model_files.h"
#include "nnsight/runtime/models/causal_lm.h"
#include "nnsight/runtime/module.h"
#include "support/test_support.h"

namespace nnsight::test {

/// Reads `relative` (under the shared models folder) and builds it in `dtype`.
inline std::unique_ptr<CausalLM> load_model(const std::string& relative, at::ScalarType dtype = at::kFloat) {
  ModelFiles files = read_model_files(model_path(relative));
  files.config.dtype = dtype;
  return build_model(files.config, files.weights);
}

/// Parsed JSON of a shared model file (cached per path).
inline const nlohmann::json& reference_json(const std::string& relative) {
  static std::map<std::string, nlohmann::json> cache;
  auto it = cache.find(relative);
  if (it == cache.end()) {
    std::ifstream in(model_path(relative));
    it = cache.emplace(relative, nlohmann::json::parse(in)).first;
  }
  return it->second;
}

/// A [1, T] int64 tensor.
inline at::Tensor ids_tensor(const std::vector<int64_t>& ids) {
  return at::tensor(ids, at::TensorOptions().dtype(at::kLong)).view({1, static_cast<int64_t>(ids.size())});
}

/// A float32 tensor from a JSON array of numbers.
inline at::Tensor json_vector(const nlohmann::json& values) {
  return at::tensor(values.get<std::vector<float>>(), at::TensorOptions().dtype(at::kFloat));
}

/// max |a - b| (in float32).
inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item<double>();
}

/// Records the first input and the output of every module it is installed on
/// (later calls of a module overwrite earlier ones), keyed by module path.
class RecordingHook : public CallHook {
 public:
  struct Call {
    at::Tensor input;
    Value output;
  };
  Value intercept(Module& module, Inputs& inputs, ForwardContext& ctx) override {
    Value out = module.call_forward(inputs, ctx);
    calls[module.path()] = Call{inputs.first().as_tensor(), out};
    return out;
  }
  std::map<std::string, Call> calls;
};

/// The stories260K reference prompts' token ids.
inline std::vector<std::vector<int64_t>> stories_prompts() {
  std::vector<std::vector<int64_t>> out;
  for (const auto& p : reference_json("stories260K/reference.json")["prompts"])
    out.push_back(p["prompt_token_ids"].get<std::vector<int64_t>>());
  return out;
}

}  // namespace nnsight::test
