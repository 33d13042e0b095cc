// stories260K against llama2.c's reference values, from all three file
// formats (HF safetensors with rotate-half q/k, GGUF and llama2.c .bin with
// interleaved q/k): logits at every prompt position, the residual stream after
// each attention block and each layer, and 64-position greedy generation.

#include <gtest/gtest.h>

#include "model_test_util.h"
#include "nnsight/base/backend.h"
#include "nnsight/runtime/generation/generate.h"

namespace nnsight {
namespace {

using test::max_abs_diff;

class StoriesReference : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { init_backend(); }
};

TEST_P(StoriesReference, LogitsAndResidualStreamMatchLlama2c) {
  REQUIRE_MODEL(GetParam());
  REQUIRE_MODEL("stories260K/reference.json");
  auto model = test::load_model(GetParam());
  const auto& ref = test::reference_json("stories260K/reference.json");
  const std::size_t n_layers = model->num_layers();
  ASSERT_EQ(n_layers, 5u);

  test::RecordingHook hook;
  for (std::size_t l = 0; l < n_layers; ++l) {
    model->layer(l).set_hook(&hook);
    model->layer(l).at("self_attn").set_hook(&hook);
  }
  model->final_norm().set_hook(&hook);

  for (const auto& prompt : ref["prompts"]) {
    const auto ids = prompt["prompt_token_ids"].get<std::vector<int64_t>>();
    SCOPED_TRACE("prompt '" + prompt["prompt"].get<std::string>() + "'");
    at::Tensor logits = model->logits(test::ids_tensor(ids));
    ASSERT_EQ(logits.sizes(), at::IntArrayRef({1, static_cast<int64_t>(ids.size()), 512}));
    for (std::size_t j = 0; j < ids.size(); ++j) {
      const auto& pos = prompt["positions"][j];
      const auto jj = static_cast<int64_t>(j);
      EXPECT_LT(max_abs_diff(logits[0][jj], test::json_vector(pos["logits"])), 1e-4) << "position " << j;
      EXPECT_EQ(logits[0][jj].argmax().item<int64_t>(), pos["argmax"].get<int64_t>()) << "position " << j;
      EXPECT_LT(
          max_abs_diff(hook.calls.at("model.norm").output.as_tensor()[0][jj], test::json_vector(pos["final_norm"])),
          1e-4);
      for (std::size_t l = 0; l < n_layers; ++l) {
        const std::string layer = "model.layers." + std::to_string(l);
        const auto& layer_call = hook.calls.at(layer);
        const auto& attn_call = hook.calls.at(layer + ".self_attn");
        at::Tensor resid_mid = layer_call.input[0][jj] + attn_call.output[0].as_tensor()[0][jj];
        at::Tensor resid_post = layer_call.output[0].as_tensor()[0][jj];
        EXPECT_LT(max_abs_diff(resid_mid, test::json_vector(pos["resid_mid"][l])), 1e-4)
            << "resid_mid, layer " << l << ", position " << j;
        EXPECT_LT(max_abs_diff(resid_post, test::json_vector(pos["resid_post"][l])), 1e-4)
            << "resid_post, layer " << l << ", position " << j;
        if (l == 0) {
          EXPECT_LT(max_abs_diff(layer_call.input[0][jj], test::json_vector(pos["embedding"])), 1e-6);
        }
      }
    }
  }
}

TEST_P(StoriesReference, Greedy64PositionsMatchRunC) {
  REQUIRE_MODEL(GetParam());
  REQUIRE_MODEL("stories260K/reference.json");
  auto model = test::load_model(GetParam());
  const auto& ref = test::reference_json("stories260K/reference.json");
  for (const auto& prompt : ref["prompts"]) {
    const auto ids = prompt["prompt_token_ids"].get<std::vector<int64_t>>();
    const auto expected = prompt["greedy_n64"]["token_ids"].get<std::vector<int64_t>>();
    GenerateOptions options;
    options.max_new_tokens = static_cast<int64_t>(expected.size() - ids.size());
    std::vector<int64_t> streamed;
    auto out = generate(*model, {ids}, options, [&](int64_t row, int64_t token) {
      EXPECT_EQ(row, 0);
      streamed.push_back(token);
    });
    ASSERT_EQ(out.size(), 1u);
    std::vector<int64_t> full = ids;
    full.insert(full.end(), out[0].begin(), out[0].end());
    EXPECT_EQ(full, expected) << "prompt '" << prompt["prompt"].get<std::string>() << "'";
    EXPECT_EQ(streamed, out[0]);
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, StoriesReference,
                         ::testing::Values("stories260K-hf", "stories260K/stories260K.gguf",
                                           "stories260K/stories260K.bin"),
                         [](const auto& info) {
                           std::string n = info.param;
                           if (n.find(".gguf") != std::string::npos) return std::string("gguf");
                           if (n.find(".bin") != std::string::npos) return std::string("llama2c_bin");
                           return std::string("hf_safetensors");
                         });

}  // namespace
}  // namespace nnsight
