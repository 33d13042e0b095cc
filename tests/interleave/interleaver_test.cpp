// Interleaver: hooks on a small runtime module tree deliver values to a real
// intervention graph; values are checked against hand computation.

#include "nnsight/interleave/interleaver.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "interleave/tiny_modules.h"
#include "nnsight/base/error.h"
#include "nnsight/graph/recording.h"

namespace nnsight::interleave {
namespace {

using graph::entry;
using graph::Graph;
using graph::InterventionGraph;
using graph::IterationSpec;
using graph::Proxy;
using graph::Saved;
using graph::TraceScope;
using test::TinySequential;

/// Runs every trace of `g` on `model` with input `x` and the given batch groups.
template <class M>
at::Tensor run(Graph& g, M& model, const at::Tensor& x, std::vector<BatchGroup> groups = {},
               std::function<void(M&)> inside = {}) {
  at::Tensor out;
  g.run([&](InterventionGraph& ig) {
    Interleaver il(model, ig, groups);
    if (inside) inside(model);
    il.run([&] { out = model.run(x); });
  });
  return out;
}

TEST(Interleaver, SavesOutputAndInputAndHooksOnlyNamedModules) {
  TinySequential m;
  auto g = Graph::create();
  Saved h, in2;
  {
    TraceScope trace(g);
    h = entry("layer1.output").save();
    in2 = entry("layer2.input").save();
  }
  const at::Tensor x = TinySequential::input();
  at::Tensor out = run<TinySequential>(*g, m, x, {}, [](TinySequential& model) {
    EXPECT_EQ(model.hook(), nullptr);
    EXPECT_NE(model.layer1->hook(), nullptr);
    EXPECT_NE(model.layer2->hook(), nullptr);
  });
  EXPECT_TRUE(at::allclose(h.tensor(), m.hidden(x)));
  // .input entries receive ((args...), {kwargs}).
  EXPECT_TRUE(at::allclose(in2.value()[0][0].as_tensor(), m.hidden(x)));
  EXPECT_TRUE(at::allclose(out, m.output_from(m.hidden(x))));
  EXPECT_EQ(m.layer1->hook(), nullptr);
  EXPECT_EQ(m.layer2->hook(), nullptr);
  EXPECT_EQ(g->live_values(), 2u);
}

TEST(Interleaver, InPlaceEditChangesTheForward) {
  TinySequential m;
  auto g = Graph::create();
  {
    TraceScope trace(g);
    entry("layer1.output").set({Slice(), 0}, 1.0);
  }
  const at::Tensor x = TinySequential::input();
  at::Tensor out = run(*g, m, x);
  at::Tensor h = m.hidden(x);
  h.select(1, 0).fill_(1.0);
  EXPECT_TRUE(at::allclose(out, m.output_from(h)));
  EXPECT_EQ(g->live_values(), 0u);
}

TEST(Interleaver, OutputSwapReplacesTheValueLaterAccessesSeeIt) {
  TinySequential m;
  auto g = Graph::create();
  Saved after;
  {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    graph::swap(h, h.zeros_like());
    after = entry("layer1.output").save();  // a new entry of the same key sees the swap
  }
  const at::Tensor x = TinySequential::input();
  at::Tensor out = run(*g, m, x);
  EXPECT_TRUE(at::allclose(out, m.b2.unsqueeze(0)));
  EXPECT_EQ(after.tensor().abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Interleaver, InputSwapRewritesTheCall) {
  TinySequential m;
  auto g = Graph::create();
  const at::Tensor replacement = at::full({1, 10}, 0.5);
  {
    TraceScope trace(g);
    graph::swap(entry("layer2.input"), graph::tuple_of({graph::tuple_of({replacement}), Value(Dict{})}));
  }
  at::Tensor out = run(*g, m, TinySequential::input());
  EXPECT_TRUE(at::allclose(out, m.output_from(replacement)));
}

TEST(Interleaver, MalformedInputSwapIsAnError) {
  TinySequential m;
  auto g = Graph::create();
  {
    TraceScope trace(g);
    graph::swap(entry("layer2.input"), at::zeros({1, 10}));
  }
  EXPECT_THROW(run(*g, m, TinySequential::input()), Error);
  EXPECT_EQ(m.layer2->hook(), nullptr);
}

TEST(Interleaver, SkipDoesNotRunTheModule) {
  TinySequential m;
  auto g = Graph::create();
  Saved seen;
  const at::Tensor replacement = at::full({1, 10}, -1.0);
  {
    TraceScope trace(g);
    graph::swap(entry("layer1.skip"), replacement);
    seen = entry("layer1.output").save();
  }
  // A broken weight proves layer1 did not run: it would fail on the shape.
  m.layer1->set_parameter("weight", at::zeros({3, 3}));
  at::Tensor out = run(*g, m, TinySequential::input());
  EXPECT_TRUE(at::allclose(out, m.output_from(replacement)));
  EXPECT_TRUE(at::equal(seen.tensor(), replacement));
}

TEST(Interleaver, SkipInOneInvokeRunsTheModuleForTheOthers) {
  TinySequential m;
  auto g = Graph::create();
  {
    TraceScope trace(g);
    graph::BatchGroupScope invoke(*g, 1);
    graph::swap(entry("layer1.skip"), at::ones({1, 10}));
  }
  const at::Tensor x = TinySequential::input(2);
  at::Tensor out = run(*g, m, x, {{0, 1}, {1, 1}});
  EXPECT_TRUE(at::allclose(out.narrow(0, 0, 1), m.output_from(m.hidden(x.narrow(0, 0, 1)))));
  EXPECT_TRUE(at::allclose(out.narrow(0, 1, 1), m.output_from(at::ones({1, 10}))));
}

TEST(Interleaver, SkipInEveryInvokeJoinsTheReplacements) {
  TinySequential m;
  auto g = Graph::create();
  {
    TraceScope trace(g);
    for (int32_t group : {0, 1}) {
      graph::BatchGroupScope invoke(*g, group);
      graph::swap(entry("layer1.skip"), at::full({1, 10}, double(group + 1)));
    }
  }
  m.layer1->set_parameter("weight", at::zeros({3, 3}));  // would fail if layer1 ran
  at::Tensor out = run(*g, m, TinySequential::input(2), {{0, 1}, {1, 1}});
  EXPECT_TRUE(at::allclose(out, m.output_from(at::cat({at::full({1, 10}, 1.0), at::full({1, 10}, 2.0)}))));
}

TEST(Interleaver, BatchGroupsSeeTheirRowsAndSwapsAreSpliced) {
  TinySequential m;
  auto g = Graph::create();
  Saved h1, out0;
  {
    TraceScope trace(g);
    {
      graph::BatchGroupScope invoke(*g, 0);
      entry("layer1.output").set({Slice()}, 0.0);  // in place on row 0 only
      out0 = entry("layer2.output").save();
    }
    {
      graph::BatchGroupScope invoke(*g, 1);
      h1 = entry("layer1.output").save();
      graph::swap(entry("layer2.output"), at::ones({2, 2}));
    }
  }
  const at::Tensor x = TinySequential::input(3);
  at::Tensor out = run(*g, m, x, {{0, 1}, {1, 2}});
  EXPECT_TRUE(at::allclose(h1.tensor(), m.hidden(x.narrow(0, 1, 2))));
  EXPECT_TRUE(at::allclose(out0.tensor(), m.b2.unsqueeze(0)));
  EXPECT_TRUE(at::allclose(out.narrow(0, 0, 1), m.b2.unsqueeze(0)));
  EXPECT_TRUE(at::equal(out.narrow(0, 1, 2), at::ones({2, 2})));
}

TEST(Interleaver, SpliceOfTheWrongShapeIsAnErrorAndCleansUp) {
  TinySequential m;
  auto g = Graph::create();
  Saved s;
  {
    TraceScope trace(g);
    {
      graph::BatchGroupScope invoke(*g, 0);
      s = entry("layer1.output").save();
      graph::swap(entry("layer2.output"), at::ones({5, 2}));
    }
    {
      graph::BatchGroupScope invoke(*g, 1);
      entry("layer2.output").save();
    }
  }
  try {
    run(*g, m, TinySequential::input(2), {{0, 1}, {1, 1}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("splice"), std::string::npos) << e.what();
  }
  EXPECT_EQ(g->live_values(), 0u);
  EXPECT_EQ(m.layer2->hook(), nullptr);
  // The model still works without interventions.
  EXPECT_TRUE(at::allclose(m.run(TinySequential::input()), m.output_from(m.hidden(TinySequential::input()))));
}

TEST(Interleaver, IterationKIsTheKthCall) {
  test::RepeatModel m;
  auto g = Graph::create();
  Saved third, all_calls;
  {
    TraceScope trace(g);
    third = entry("rep.output", IterationSpec::at(2)).clone().save();
    entry("rep.output", IterationSpec::at(2)).set({Slice()}, 100.0);
  }
  at::Tensor out = run(*g, m, at::zeros({1}));
  EXPECT_EQ(third.tensor().item<float>(), 2.0f);
  EXPECT_EQ(out.item<float>(), 102.0f);  // as verified on NNsight 0.4

  auto g2 = Graph::create();
  {
    TraceScope trace(g2);
    entry("rep.output", IterationSpec::all()) += 100.0;
  }
  EXPECT_EQ(run(*g2, m, at::zeros({1})).item<float>(), 404.0f);
}

TEST(Interleaver, ErrorInANodeRemovesHooksAndKeepsTheModelUsable) {
  TinySequential m;
  auto g = Graph::create();
  {
    TraceScope trace(g);
    entry("layer1.output").set({Slice(), 50}, 0.0);  // out of bounds
  }
  try {
    run(*g, m, TinySequential::input());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("layer1.output"), std::string::npos) << what;
    EXPECT_NE(what.find("interleaver_test.cpp"), std::string::npos) << what;
  }
  EXPECT_EQ(m.layer1->hook(), nullptr);
  EXPECT_EQ(g->live_values(), 0u);
}

TEST(Interleaver, UnknownModuleIsAnErrorNamingTheChildren) {
  TinySequential m;
  auto g = Graph::create();
  {
    TraceScope trace(g);
    entry("layer3.output").save();
  }
  try {
    run(*g, m, TinySequential::input());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer1, layer2"), std::string::npos) << e.what();
  }
}

TEST(Interleaver, OutOfBandCallsAreNotCallsOfTheRun) {
  TinySequential m;
  auto g = Graph::create();
  Saved calls, side;
  const at::Tensor other = at::ones({1, 5});
  {
    TraceScope trace(g);
    calls = graph::list().save();
    // The whole model out of band, from inside layer1's hook: its layer1 call
    // must not reach layer1's entries.
    Proxy x_in = entry("layer1.input")[0][0];
    side = Proxy(g, g->add_module_call("", {Value::ref((x_in * 0 + 1).index())})).save();
    calls.append(entry("layer1.output", IterationSpec::all()));
  }
  const at::Tensor x = TinySequential::input();
  run(*g, m, x);
  EXPECT_TRUE(at::allclose(side.tensor(), m.output_from(m.hidden(other))));
  ASSERT_EQ(calls.value().items().size(), 1u);
  EXPECT_TRUE(at::allclose(calls.value()[0].as_tensor(), m.hidden(x)));
}

TEST(Interleaver, OutOfBandModuleCallAndParameterClone) {
  TinySequential m;
  auto g = Graph::create();
  Saved lens, weight;
  {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    lens = Proxy(g, g->add_module_call("layer2", {Value::ref(h.index())})).save();
    Proxy w(g, g->add_parameter("layer1", "weight"));
    w.set({Slice()}, 0.0);  // edits the clone only
    weight = w.save();
  }
  const at::Tensor x = TinySequential::input();
  at::Tensor out = run(*g, m, x);
  EXPECT_TRUE(at::allclose(lens.tensor(), m.output_from(m.hidden(x))));
  EXPECT_TRUE(at::allclose(out, m.output_from(m.hidden(x))));
  EXPECT_EQ(weight.tensor().abs().sum().item<float>(), 0.0f);
  EXPECT_GT(m.layer1->parameter("weight").abs().sum().item<float>(), 0.0f);
}

}  // namespace
}  // namespace nnsight::interleave
