// Traced generation on stories260K: call k of every module is generation step
// k; interventions at chosen steps only, checked against plain generation.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "nnsight/api/nnsight.h"
#include "support/stories.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

constexpr const char* kPrompt = "Once upon a time";
constexpr const char* kOther = "Lily went to the park";

class GenerateApi : public test::StoriesTest {
 protected:
  std::vector<int64_t> plain(const std::string& prompt, int64_t n) {
    GenerateOptions options;
    options.max_new_tokens = n;
    return nnsight::generate(model().causal_lm(), {model().tokenize(prompt)}, options).at(0);
  }
  static GenerateOptions steps(int64_t n) {
    GenerateOptions options;
    options.max_new_tokens = n;
    return options;
  }
};

TEST_F(GenerateApi, WithoutInterventionsEqualsPlainGeneration) {
  Traced run = model().generate(kPrompt, steps(10), [] {});
  ASSERT_EQ(LanguageModel::tokens_of(run).size(), 1u);
  EXPECT_EQ(LanguageModel::tokens_of(run)[0], plain(kPrompt, 10));
}

TEST_F(GenerateApi, IterationKIsStepK) {
  Saved logits, second;
  Traced run = model().generate(kPrompt, steps(6), [&](Tracer& tracer) {
    logits = tracer.list().save();
    logits.append(model()["lm_head"].all().output().clone());
  });
  model().generate(kPrompt, steps(6), [&] { second = model()["lm_head"].next().output().clone().save(); });
  const auto tokens = LanguageModel::tokens_of(run)[0];
  ASSERT_EQ(logits.value().items().size(), tokens.size());
  for (std::size_t k = 0; k < tokens.size(); ++k)
    EXPECT_EQ(logits.value()[static_cast<int64_t>(k)].as_tensor()[0][-1].argmax().item<int64_t>(), tokens[k]);
  EXPECT_TRUE(at::equal(second.tensor(), logits.value()[1].as_tensor()));
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(GenerateApi, InterventionAtChosenStepsOnly) {
  const auto reference = plain(kPrompt, 8);
  Saved logits;
  Traced run = model().generate(kPrompt, steps(8), [&](Tracer& tracer) {
    logits = tracer.list().save();
    // Strict order: the entry taking every step comes first, since it also takes steps 0 and 1.
    logits.append(model()["lm_head"].all().output().clone());
    tracer.iter(Slice{2, 4, 1}, [&] { model()["model.layers"][-1].output()[0].set({Slice()}, 0); });
  });
  const auto tokens = LanguageModel::tokens_of(run)[0];
  ASSERT_EQ(tokens.size(), 8u);
  EXPECT_EQ(tokens[0], reference[0]);  // steps before the intervention are untouched
  EXPECT_EQ(tokens[1], reference[1]);
  for (int64_t k = 0; k < 8; ++k) {
    const bool zeroed = logits.value()[k].as_tensor().abs().sum().item<double>() == 0.0;
    EXPECT_EQ(zeroed, k == 2 || k == 3) << "step " << k;
  }
}

TEST_F(GenerateApi, BatchedInvokesAreIndependent) {
  Traced run = model().generate(steps(8), [&](Tracer& tracer) {
    tracer.invoke(kPrompt, [&] {
      model()["model.layers"][-1].all().output()[0].set({Slice()}, 0);  // every step of row 0
    });
    tracer.invoke(kOther, [] {});
  });
  const auto rows = LanguageModel::tokens_of(run);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1], plain(kOther, 8));  // left padding and the intervention leave row 1 as if alone
  EXPECT_NE(rows[0], plain(kPrompt, 8));
}

}  // namespace
}  // namespace nnsight
