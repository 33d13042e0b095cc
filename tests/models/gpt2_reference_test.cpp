// The random-weight GPT-2 (fake-gpt2-random) against its PyTorch reference:
// logits (first 10, last 5, sum over the vocabulary) and the residual stream
// after the single block, from the safetensors directory and the GGUF file.

#include <gtest/gtest.h>

#include "model_test_util.h"
#include "nnsight/base/backend.h"

namespace nnsight {
namespace {

class Gpt2Reference : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { init_backend(); }
};

TEST_P(Gpt2Reference, LogitsMatchPyTorchReference) {
  REQUIRE_MODEL(GetParam());
  REQUIRE_MODEL("fake-gpt2-random/reference.json");
  auto model = test::load_model(GetParam());
  const auto& ref = test::reference_json("fake-gpt2-random/reference.json");
  test::RecordingHook hook;
  model->layer(0).set_hook(&hook);
  int checked = 0;
  for (const auto& [text, prompt] : ref["prompts"].items()) {
    SCOPED_TRACE("prompt '" + text + "'");
    const auto ids = prompt["token_ids"].get<std::vector<int64_t>>();
    at::Tensor logits = model->logits(test::ids_tensor(ids));
    ASSERT_EQ(logits.sizes(), at::IntArrayRef({1, static_cast<int64_t>(ids.size()), 50257}));
    for (std::size_t j = 0; j < ids.size(); ++j) {
      const auto& pos = prompt["positions"][j];
      at::Tensor row = logits[0][static_cast<int64_t>(j)];
      EXPECT_LT(test::max_abs_diff(row.narrow(0, 0, 10), test::json_vector(pos["logits_first10"])), 1e-5);
      EXPECT_LT(test::max_abs_diff(row.narrow(0, 50257 - 5, 5), test::json_vector(pos["logits_last5"])), 1e-5);
      EXPECT_NEAR(row.to(at::kDouble).sum().item<double>(), pos["logit_sum"].get<double>(), 1e-3);
      EXPECT_EQ(row.argmax().item<int64_t>(), pos["argmax"].get<int64_t>());
      at::Tensor resid = hook.calls.at("transformer.h.0").output[0].as_tensor()[0][static_cast<int64_t>(j)];
      EXPECT_LT(test::max_abs_diff(resid, test::json_vector(pos["resid_post"][0])), 1e-5);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 6);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, Gpt2Reference,
                         ::testing::Values("fake-gpt2-random", "fake-gpt2-random/fake-gpt2-random.gguf"),
                         [](const auto& info) {
                           return std::string(info.param).find(".gguf") != std::string::npos ? "gguf"
                                                                                             : "hf_safetensors";
                         });

}  // namespace
}  // namespace nnsight
