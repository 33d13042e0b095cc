// KV cache, batching with left padding, EOS handling and sampling.

#include <gtest/gtest.h>

#include "model_test_util.h"
#include "nnsight/base/backend.h"
#include "nnsight/base/error.h"
#include "nnsight/runtime/generation/generate.h"
#include "nnsight/runtime/generation/kv_cache.h"
#include "nnsight/runtime/generation/sampler.h"

namespace nnsight {
namespace {

class Generation : public ::testing::Test {
 protected:
  void SetUp() override { init_backend(); }
};

const std::vector<int64_t> kOnce = {1, 403, 407, 261, 378};
const std::vector<int64_t> kLily = {1, 317, 263, 377, 267, 265, 282, 295, 433};

// Prefill part of the prompt, then feed the rest one token at a time through
// the cache: every position's logits equal those of one full forward.
void expect_incremental_equals_full(CausalLM& model, const std::vector<int64_t>& ids, int64_t prefill) {
  const at::Tensor all = test::ids_tensor(ids);
  const at::Tensor full = model.logits(all);
  KVCache cache(model.config(), 1, static_cast<int64_t>(ids.size()));
  at::Tensor first = model.logits(all.narrow(1, 0, prefill), {}, &cache);
  EXPECT_EQ(cache.length(), prefill);
  EXPECT_LT(test::max_abs_diff(first, full.narrow(1, 0, prefill)), 1e-4);
  for (int64_t j = prefill; j < all.size(1); ++j) {
    at::Tensor step = model.logits(all.narrow(1, j, 1), {}, &cache);
    EXPECT_LT(test::max_abs_diff(step[0][0], full[0][j]), 1e-4) << "position " << j;
  }
  EXPECT_EQ(cache.length(), all.size(1));
  // The cache is full now.
  EXPECT_THROW(model.logits(all.narrow(1, 0, 1), {}, &cache), Error);
}

TEST_F(Generation, KvCacheDecodingEqualsFullForward) {
  REQUIRE_MODEL("stories260K-hf");
  REQUIRE_MODEL("fake-gpt2-random");
  auto llama = test::load_model("stories260K-hf");
  expect_incremental_equals_full(*llama, kLily, 3);
  auto gpt2 = test::load_model("fake-gpt2-random");
  expect_incremental_equals_full(*gpt2, {7454, 2402, 257, 640, 15496, 995}, 2);
}

TEST_F(Generation, LeftPaddedBatchLogitsEqualUnbatched) {
  REQUIRE_MODEL("stories260K-hf");
  REQUIRE_MODEL("fake-gpt2-random");
  for (const char* name : {"stories260K-hf", "fake-gpt2-random"}) {
    SCOPED_TRACE(name);
    auto model = test::load_model(name);
    const std::vector<int64_t> short_ids = {1, 403, 407}, long_ids = {1, 317, 263, 377, 267, 265};
    // Row 0 is left-padded by 3 with an arbitrary token id.
    at::Tensor ids = at::tensor({7, 7, 7, 1, 403, 407, 1, 317, 263, 377, 267, 265}, at::kLong).view({2, 6});
    at::Tensor mask = at::tensor({0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1}, at::kLong).view({2, 6});
    at::Tensor batched = model->logits(ids, mask);
    EXPECT_FALSE(batched.isnan().any().item<bool>());
    EXPECT_LT(test::max_abs_diff(batched[0].narrow(0, 3, 3), model->logits(test::ids_tensor(short_ids))[0]), 1e-4);
    EXPECT_LT(test::max_abs_diff(batched[1], model->logits(test::ids_tensor(long_ids))[0]), 1e-4);
  }
}

TEST_F(Generation, BatchedGreedyEqualsEachPromptAlone) {
  REQUIRE_MODEL("stories260K-hf");
  auto model = test::load_model("stories260K-hf");
  GenerateOptions options;
  options.max_new_tokens = 40;
  const std::vector<std::vector<int64_t>> prompts = {kOnce, kLily, {1}};
  std::vector<std::vector<int64_t>> streamed(prompts.size());
  auto batched = generate(*model, prompts, options, [&](int64_t row, int64_t token) {
    streamed.at(static_cast<std::size_t>(row)).push_back(token);
  });
  ASSERT_EQ(batched.size(), prompts.size());
  EXPECT_EQ(streamed, batched);
  for (std::size_t r = 0; r < prompts.size(); ++r) {
    auto alone = generate(*model, {prompts[r]}, options);
    EXPECT_EQ(batched[r].size(), 40u);
    EXPECT_EQ(batched[r], alone[0]) << "row " << r;
  }
}

// Padded positions are masked out, so the filler token only has to be one the
// embedding accepts: a configured pad_token_id outside the vocabulary (seen in
// real configs) must not break batched generation.
TEST_F(Generation, PadTokenOutsideTheVocabularyStillBatches) {
  REQUIRE_MODEL("stories260K-hf");
  ModelFiles files = read_model_files(test::model_path("stories260K-hf"));
  files.config.pad_token_id = files.config.vocab_size + 100;
  auto model = build_model(files.config, files.weights);
  GenerateOptions options;
  options.max_new_tokens = 12;
  auto batched = generate(*model, {kOnce, kLily}, options);
  ASSERT_EQ(batched.size(), 2u);
  EXPECT_EQ(batched[0], generate(*model, {kOnce}, options)[0]);
  EXPECT_EQ(batched[1], generate(*model, {kLily}, options)[0]);
}

TEST_F(Generation, RowsStopAtEosWhileOthersContinue) {
  REQUIRE_MODEL("stories260K-hf");
  // Make token 432 (" there"/"," in these continuations) the end-of-sequence token.
  ModelFiles files = read_model_files(test::model_path("stories260K-hf"));
  files.config.eos_token_ids = {432};
  auto model = build_model(files.config, files.weights);
  GenerateOptions options;
  options.max_new_tokens = 50;
  auto batched = generate(*model, {kOnce, kLily}, options);
  options.stop_at_eos = false;
  auto free_once = generate(*model, {kOnce}, options)[0];
  auto free_lily = generate(*model, {kLily}, options)[0];
  auto stop_at = [](const std::vector<int64_t>& tokens) {
    auto it = std::find(tokens.begin(), tokens.end(), 432);
    return std::vector<int64_t>(tokens.begin(), it == tokens.end() ? tokens.end() : it + 1);
  };
  EXPECT_EQ(batched[0], stop_at(free_once));
  EXPECT_EQ(batched[1], stop_at(free_lily));
  EXPECT_EQ(batched[0].back(), 432);
  EXPECT_LT(batched[0].size(), batched[1].size());
}

TEST_F(Generation, SamplingIsSeededAndRowIndependent) {
  REQUIRE_MODEL("stories260K-hf");
  auto model = test::load_model("stories260K-hf");
  GenerateOptions options;
  options.max_new_tokens = 30;
  options.temperature = 1.0;
  options.top_k = 40;
  options.top_p = 0.95;
  options.seed = 1234;
  auto first = generate(*model, {kOnce, kLily}, options);
  auto second = generate(*model, {kOnce, kLily}, options);
  EXPECT_EQ(first, second);
  // Row 0 uses seed + 0: the same as the prompt alone.
  EXPECT_EQ(generate(*model, {kOnce}, options)[0], first[0]);
  options.seed = 99;
  EXPECT_NE(generate(*model, {kOnce, kLily}, options), first);
  // top_k = 1 is greedy whatever the temperature.
  options.top_k = 1;
  GenerateOptions greedy;
  greedy.max_new_tokens = 30;
  EXPECT_EQ(generate(*model, {kLily}, options), generate(*model, {kLily}, greedy));
}

TEST(Sampler, FiltersAndDistribution) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f};
  Sampler greedy({}, 0);
  EXPECT_EQ(greedy.sample(logits.data(), 5), 1);  // first of the tied maxima
  // top_k = 2 only ever yields the two largest.
  Sampler top2({1.0, 2, 1.0}, 7);
  for (int i = 0; i < 200; ++i) {
    const int64_t t = top2.sample(logits.data(), 5);
    EXPECT_TRUE(t == 1 || t == 3) << t;
  }
  // Tiny top_p keeps one token.
  Sampler nucleus({1.0, 0, 0.01}, 7);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(nucleus.sample(logits.data(), 5), 1);
  // Frequencies follow softmax(logits / T).
  Sampler plain({2.0, 0, 1.0}, 42);
  std::vector<int> counts(5, 0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++counts[static_cast<std::size_t>(plain.sample(logits.data(), 5))];
  double z = 0;
  for (float l : logits) z += std::exp(l / 2.0);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_NEAR(counts[i] / double(n), std::exp(logits[i] / 2.0) / z, 0.015) << i;
  EXPECT_THROW(Sampler({1.0, 0, 0.0}, 0), Error);
  EXPECT_THROW(Sampler({1.0, -1, 1.0}, 0), Error);
}

TEST_F(Generation, InvalidRequestsGiveErrors) {
  REQUIRE_MODEL("fake-gpt2-random");
  auto model = test::load_model("fake-gpt2-random");
  GenerateOptions options;
  EXPECT_THROW(generate(*model, {}, options), Error);
  EXPECT_THROW(generate(*model, {{}}, options), Error);
  EXPECT_THROW(generate(*model, {{50257}}, options), Error);
  options.max_new_tokens = 1024;  // 2 + 1024 - 1 positions > n_positions 1024
  EXPECT_THROW(generate(*model, {{15496, 995}}, options), Error);
  options.max_new_tokens = 0;
  EXPECT_EQ(generate(*model, {{15496, 995}}, options), std::vector<std::vector<int64_t>>(1));
}

}  // namespace
}  // namespace nnsight
