// Gradients in the graph core with simulated hooks: .grad read, edited in
// place and replaced, several backward passes, hooks removed after the run,
// errors inside backward.

#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros_like.h>
#include <gtest/gtest.h>

#include "fake_model.h"
#include "nnsight/base/error.h"

namespace nnsight::graph {
namespace {

using test::TinyModel;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// TinyModel whose input requires gradients, so every module value has a history.
struct GradModel : TinyModel {
  GradModel() { input.requires_grad_(true); }
  /// d sum(layer2(h)) / dh, the same for every h.
  at::Tensor grad_of_sum() const { return at::ones({1, 2}).matmul(w2); }
};

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Gradients, GradOfAModuleOutputMatchesAutograd) {
  GradModel m;
  auto g = Graph::create();
  Saved grad;
  {
    TraceScope trace(g);
    grad = entry("layer1.output").grad().save();
    entry("output").sum().backward();
  }
  m.run(*g);
  EXPECT_TRUE(at::allclose(grad.tensor(), m.grad_of_sum()));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Gradients, GradSettingDoublesTheGradientThatFlowsOn) {
  // NNsight test_tiny test_grad_setting, plus what reaches the input.
  GradModel m;
  auto g = Graph::create();
  Saved original, doubled;
  {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    original = h.grad().clone().save();
    h.set_grad(h.grad().clone() * 2);
    doubled = h.grad().save();
    entry("output").sum().backward();
  }
  m.run(*g);
  EXPECT_TRUE(at::allclose(original.tensor(), m.grad_of_sum()));
  EXPECT_TRUE(at::equal(original.tensor() * 2, doubled.tensor()));
  EXPECT_TRUE(at::allclose(m.input.grad(), (m.grad_of_sum() * 2).matmul(m.w1)));
  EXPECT_EQ(g->live_values(), 2u);
}

TEST(Gradients, InPlaceEditOfAGradientFlowsOn) {
  GradModel m;
  auto g = Graph::create();
  Saved grad;
  {
    TraceScope trace(g);
    Proxy hg = entry("layer1.output").grad();
    grad = hg.save();
    hg.set({Slice()}, 0);
    entry("output").sum().backward();
  }
  m.run(*g);
  EXPECT_EQ(grad.tensor().abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(m.input.grad().abs().sum().item<float>(), 0.0f);
}

TEST(Gradients, EachGradBelongsToTheNextBackward) {
  // NNsight test_multi_grad: grad1 before a first backward, grad2 after it.
  GradModel m;
  auto g = Graph::create();
  Saved grad1, grad2;
  {
    TraceScope trace(g);
    Proxy out = entry("layer2.output");
    grad1 = out.grad().clone().save();
    out.sum().backward(true);
    grad2 = out.grad().clone().save();
    (out * 2).sum().backward();
  }
  m.run(*g);
  EXPECT_TRUE(at::equal(grad1.tensor(), at::ones({1, 2})));
  EXPECT_TRUE(at::equal(grad2.tensor(), at::ones({1, 2}) * 2));
  EXPECT_EQ(g->live_values(), 2u);
}

TEST(Gradients, BackwardsKeepTheAutogradGraphForTheNextOne) {
  // Without retain_graph the first of two backward passes keeps the graph
  // (invokes share one autograd graph); the last frees it.
  GradModel m;
  auto g = Graph::create();
  Saved grad1, grad2;
  {
    TraceScope trace(g);
    Proxy out = entry("layer2.output");
    grad1 = out.grad().save();
    out.sum().backward();
    grad2 = out.grad().save();
    (out * 3).sum().backward();
  }
  m.run(*g);
  EXPECT_TRUE(at::equal(grad2.tensor(), at::ones({1, 2}) * 3));
  EXPECT_TRUE(at::equal(grad1.tensor(), at::ones({1, 2})));
}

TEST(Gradients, HooksAreRemovedAfterTheTrace) {
  GradModel m;
  auto g = Graph::create();
  Saved h, never;
  {
    TraceScope trace(g);
    Proxy out = entry("layer1.output");
    h = out.save();
    never = out.grad().save();  // no backward in the trace
  }
  m.run(*g);
  EXPECT_TRUE(contains(message_of([&] { never.value(); }), "did not run"));
  // A backward after the trace reaches no graph code (the graph may be gone).
  at::Tensor kept = h.tensor();
  h = Saved();
  never = Saved();
  g.reset();
  kept.sum().backward();
  EXPECT_TRUE(m.input.grad().defined());
}

TEST(Gradients, GradOfAValueWithoutHistoryIsAnError) {
  TinyModel m;  // nothing requires gradients
  auto g = Graph::create();
  std::source_location line;
  {
    TraceScope trace(g);
    line = std::source_location::current();
    entry("layer1.output").grad().save();
  }
  const std::string msg = message_of([&] { m.run(*g); });
  EXPECT_TRUE(contains(msg, "does not require gradients")) << msg;
  EXPECT_TRUE(contains(msg, "gradients_test.cpp:" + std::to_string(line.line() + 1))) << msg;
  EXPECT_EQ(g->live_values(), 0u);
}

TEST(Gradients, ErrorInsideBackwardNamesTheNodeAndLeavesTheModelUsable) {
  GradModel m;
  auto g = Graph::create();
  std::source_location line;
  {
    TraceScope trace(g);
    Proxy hg = entry("layer1.output").grad();
    line = std::source_location::current();
    (hg + at::ones({3})).save();  // [1, 10] + [3]
    entry("output").sum().backward();
  }
  const std::string msg = message_of([&] { m.run(*g); });
  EXPECT_TRUE(contains(msg, "(add)")) << msg;
  EXPECT_TRUE(contains(msg, "gradients_test.cpp:" + std::to_string(line.line() + 1))) << msg;
  EXPECT_EQ(g->live_values(), 0u);

  // The same model runs a correct trace afterwards.
  auto ok = Graph::create();
  Saved grad;
  {
    TraceScope trace(ok);
    grad = entry("layer1.output").grad().save();
    entry("output").sum().backward();
  }
  m.input.mutable_grad() = at::Tensor();
  m.run(*ok);
  EXPECT_TRUE(at::allclose(grad.tensor(), m.grad_of_sum()));
}

TEST(Gradients, ReplacementOfTheWrongShapeIsAnError) {
  GradModel m;
  auto g = Graph::create();
  {
    TraceScope trace(g);
    entry("layer1.output").set_grad(at::ones({3}));
    entry("output").sum().backward();
  }
  const std::string msg = message_of([&] { m.run(*g); });
  EXPECT_TRUE(contains(msg, "has shape [3], expected [1, 10]")) << msg;
  EXPECT_EQ(g->live_values(), 0u);
}

TEST(Gradients, GradInsideALoopIsRejectedAtCompileTime) {
  GradModel m;
  auto g = Graph::create();
  {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    {
      IterScope loop(list_of({1, 2}));
      h.grad().save();
    }
    entry("output").sum().backward();
  }
  const std::string msg = message_of([&] { m.run(*g); });
  EXPECT_TRUE(contains(msg, ".grad inside a loop")) << msg;
}

TEST(Gradients, NonScalarBackwardNeedsAGradient) {
  GradModel m;
  auto g = Graph::create();
  Saved grad;
  {
    TraceScope trace(g);
    Proxy out = entry("layer2.output");
    grad = out.grad().save();
    out.backward();
  }
  EXPECT_TRUE(contains(message_of([&] { m.run(*g); }), "needs a gradient argument"));

  auto seeded = Graph::create();
  {
    TraceScope trace(seeded);
    Proxy out = entry("layer2.output");
    grad = out.grad().save();
    out.backward_with(at::ones({1, 2}) * 5);
  }
  m.run(*seeded);
  EXPECT_TRUE(at::equal(grad.tensor(), at::ones({1, 2}) * 5));
}

TEST(Gradients, OnlyBackwardAndTheGradientMarksHaveAPartInAutograd) {
  // The executor and compile() read OpInfo::grad instead of comparing names: the table must say it.
  for (std::string_view name : ops::names()) {
    const GradUse expected = name == "backward"                                  ? GradUse::Backward
                             : name == "retain_grad" || name == "requires_grad_" ? GradUse::Marks
                                                                                 : GradUse::None;
    EXPECT_EQ(ops::require(name).grad, expected) << name;
  }
}

TEST(Gradients, OnlyTracesUsingGradientsMakeModuleValuesDifferentiable) {
  auto needs_grad = [](const std::function<void()>& body) {
    auto g = Graph::create();
    int32_t index = -1;
    {
      TraceScope trace(g);
      index = trace.index();
      body();
    }
    InterventionGraph ig(*g, index);
    ig.compile();
    return ig.needs_grad();
  };
  EXPECT_FALSE(needs_grad([] { entry("layer1.output").sum().save(); }));
  EXPECT_TRUE(needs_grad([] { entry("layer1.output").retain_grad(); }));
  EXPECT_TRUE(needs_grad([] { entry("layer1.output").requires_grad_(true); }));
  EXPECT_TRUE(needs_grad([] { entry("output").sum().backward(); }));
}

}  // namespace
}  // namespace nnsight::graph
