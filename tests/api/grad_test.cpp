// Gradients through the tracing API on stories260K (Hugging Face layout):
// NNsight 0.4's test_lm gradient cases (test_retain_grad, test_grad,
// test_multi_grad) with exact saved counts, agreement with plain LibTorch
// autograd and with a float64 central finite difference, and invokes whose
// gradients equal their solo runs.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "nnsight/api/nnsight.h"
#include "nnsight/runtime/forward_context.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

constexpr const char* kPrompt = "Once upon a time";
/// Token ids of kPrompt with another last token: the same length, so no padding.
at::Tensor other_ids() { return at::tensor({1, 403, 407, 261, 100}, at::kLong).unsqueeze(0); }
constexpr int64_t kLayer = 3;

std::unique_ptr<LanguageModel> load(at::ScalarType dtype) {
  LoadOptions options;
  options.tokenizer_path = test::model_path("stories260K/tok512.bin");
  options.dtype = dtype;
  return std::make_unique<LanguageModel>(LanguageModel::load(test::model_path("stories260K-hf"), options));
}

/// Replaces layer `kLayer`'s hidden output by `leaf + delta` where leaf is a
/// fresh tensor requiring gradients: plain autograd, no intervention graph.
class LeafHook : public CallHook {
 public:
  at::Tensor leaf;
  at::Tensor delta;  ///< added to the output (finite differences), if defined
  Value intercept(Module& module, Inputs& inputs, ForwardContext& ctx) override {
    Value out = module.call_forward(inputs, ctx);
    std::vector<Value> items = out.items();
    leaf = items[0].as_tensor().detach().requires_grad_(true);
    items[0] = Value(delta.defined() ? leaf + delta : leaf);
    return Value::tuple(std::move(items));
  }
};

class GradApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(test::model_path("stories260K-hf")) ||
        !std::filesystem::exists(test::model_path("stories260K/tok512.bin")))
      return;
    lm_ = load(at::kFloat);
  }
  static void TearDownTestSuite() { lm_.reset(); }
  void SetUp() override {
    REQUIRE_MODEL("stories260K-hf");
    REQUIRE_MODEL("stories260K/tok512.bin");
    ASSERT_NE(lm_, nullptr);
  }
  LanguageModel& model() { return *lm_; }
  static at::Tensor ids(LanguageModel& lm, const std::string& prompt) {
    return at::tensor(lm.tokenize(prompt), at::kLong).unsqueeze(0);
  }

  /// d logits[0, -1, token] / d (layer kLayer's output) by plain autograd.
  static at::Tensor autograd_of_logit(LanguageModel& lm, const std::string& prompt, int64_t token) {
    LeafHook hook;
    Module& layer = lm.causal_lm().layer(kLayer);
    layer.set_hook(&hook);
    at::Tensor logits = lm.causal_lm().logits(ids(lm, prompt));
    layer.set_hook(nullptr);
    logits.select(1, -1).select(1, token).sum().backward();
    return hook.leaf.grad();
  }

  /// The same gradient through the intervention graph.
  static at::Tensor traced_grad_of_logit(LanguageModel& lm, const graph::Arg& prompt, int64_t token) {
    Saved grad;
    lm.trace(prompt, [&] {
      grad = lm["model.layers"][kLayer].output()[0].grad().save();
      lm["lm_head"].output()[{0, -1, token}].backward();
    });
    return grad.tensor();
  }

  static std::unique_ptr<LanguageModel> lm_;
};
std::unique_ptr<LanguageModel> GradApi::lm_;

TEST_F(GradApi, RetainGrad) {
  Saved hidden;
  Traced run = model().trace("Hello World", [&] {
    hidden = model()["model.layers"][-1].output()[0].save();
    hidden.retain_grad();
    model()["lm_head"].output().sum().backward();
  });
  ASSERT_TRUE(hidden.tensor().grad().defined());
  EXPECT_EQ(hidden.tensor().grad().sizes(), hidden.tensor().sizes());
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(GradApi, GradEditedInPlaceAndSwapped) {
  Saved hidden, grad;
  Traced first = model().trace("Hello World", [&] {
    Proxy h = model()["model.layers"][-1].output()[0];
    hidden = h.save();
    grad = h.grad().save();
    grad.set({Slice()}, 0);
    model()["lm_head"].output().sum().backward();
  });
  EXPECT_EQ(grad.tensor().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(grad.tensor().sizes(), hidden.tensor().sizes());
  EXPECT_EQ(first.live_values(), 2u);

  Saved second_grad;
  Traced second = model().trace("Hello World", [&] {
    Proxy h = model()["model.layers"][-1].output()[0];
    Proxy zeroed = h.grad().clone();
    zeroed.set({Slice()}, 0);
    h.set_grad(zeroed);
    second_grad = h.grad().save();
    model()["lm_head"].output().sum().backward();
  });
  EXPECT_EQ(second_grad.tensor().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(second.live_values(), 1u);
}

TEST_F(GradApi, MultiGrad) {
  Saved grad1, grad2;
  Traced run = model().trace("Hello World", [&] {
    Proxy h = model()["model.layers"][-1].output()[0];
    Proxy logits = model()["lm_head"].output();
    grad1 = h.grad().save();
    logits.sum().backward(true);
    grad2 = h.grad().save();
    (logits * 2).sum().backward();
  });
  EXPECT_FALSE(at::equal(grad1.tensor(), grad2.tensor()));
  EXPECT_TRUE(at::allclose(grad2.tensor(), grad1.tensor() * 2, 1e-6, 1e-6));
  EXPECT_EQ(run.live_values(), 2u);
}

TEST_F(GradApi, GradientOfALogitEqualsPlainAutograd) {
  const int64_t token = 42;
  const at::Tensor traced = traced_grad_of_logit(model(), kPrompt, token);
  const at::Tensor plain = autograd_of_logit(model(), kPrompt, token);
  ASSERT_EQ(traced.sizes(), plain.sizes());
  EXPECT_GT(plain.abs().max().item<double>(), 1e-3);  // not trivially zero
  EXPECT_LE((traced - plain).abs().max().item<double>(), 1e-6);
}

TEST_F(GradApi, GradientOfALogitEqualsAFloat64FiniteDifference) {
  REQUIRE_MODEL("stories260K-hf");
  auto lm64 = load(at::kDouble);
  const int64_t token = 42;
  const at::Tensor grad = traced_grad_of_logit(*lm64, kPrompt, token);
  ASSERT_EQ(grad.scalar_type(), at::kDouble);
  const at::Tensor input = ids(*lm64, kPrompt);
  auto logit_with = [&](const at::Tensor& delta) {
    LeafHook hook;
    hook.delta = delta;
    Module& layer = lm64->causal_lm().layer(kLayer);
    layer.set_hook(&hook);
    at::NoGradGuard no_grad;
    at::Tensor logits = lm64->causal_lm().logits(input);
    layer.set_hook(nullptr);
    return logits[0][-1][token].item<double>();
  };
  const double eps = 1e-5;
  // The largest components at the last two positions, and two at position 0.
  std::vector<std::array<int64_t, 2>> coords;
  for (int64_t pos : {grad.size(1) - 1, grad.size(1) - 2, int64_t{0}}) {
    const int64_t d = grad[0][pos].abs().argmax().item<int64_t>();
    coords.push_back({pos, d});
    coords.push_back({pos, (d + 7) % grad.size(2)});
  }
  for (const auto& [pos, d] : coords) {
    at::Tensor delta = at::zeros_like(grad);
    delta[0][pos][d] = eps;
    const double fd = (logit_with(delta) - logit_with(-delta)) / (2 * eps);
    const double g = grad[0][pos][d].item<double>();
    EXPECT_LE(std::abs(fd - g), 1e-3 * std::max(std::abs(g), 1e-3)) << "position " << pos << ", dim " << d;
  }
}

TEST_F(GradApi, InvokesGetTheirOwnRowsGradients) {
  const int64_t token = 42;
  const at::Tensor alone_a = traced_grad_of_logit(model(), kPrompt, token);
  const at::Tensor alone_b = traced_grad_of_logit(model(), other_ids(), token);
  ASSERT_EQ(alone_a.sizes(), alone_b.sizes()) << "the two prompts must have as many tokens";
  Saved a, b;
  Traced run = model().trace([&](Tracer& tracer) {
    tracer.invoke(kPrompt, [&] {
      a = model()["model.layers"][kLayer].output()[0].grad().save();
      model()["lm_head"].output()[{0, -1, token}].backward();
    });
    tracer.invoke(other_ids(), [&] {
      b = model()["model.layers"][kLayer].output()[0].grad().save();
      model()["lm_head"].output()[{0, -1, token}].backward();
    });
  });
  EXPECT_LE((a.tensor() - alone_a).abs().max().item<double>(), 1e-6);
  EXPECT_LE((b.tensor() - alone_b).abs().max().item<double>(), 1e-6);
  EXPECT_EQ(run.live_values(), 2u);
}

TEST_F(GradApi, GradientsDoNotTouchTheWeights) {
  Traced run = model().trace(kPrompt, [&] { model()["lm_head"].output().sum().backward(); });
  for (const auto& [name, weight] : model().causal_lm().named_parameters()) {
    EXPECT_FALSE(weight.requires_grad()) << name;
    EXPECT_FALSE(weight.grad().defined()) << name;
  }
}

}  // namespace
}  // namespace nnsight
