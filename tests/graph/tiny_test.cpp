// NNsight 0.4's test_tiny cases that need no real model, ported to the graph
// core with simulated hooks. Each also asserts how many values survive the run
// (only the saved ones), as NNsight's AssertSavedLenBackend does.

#include <ATen/ops/allclose.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/zeros_like.h>
#include <gtest/gtest.h>

#include "fake_model.h"
#include "nnsight/base/error.h"

namespace nnsight::graph {
namespace {

using test::TinyModel;

std::vector<int64_t> ints(const Value& list) {
  std::vector<int64_t> out;
  for (const auto& v : list.items()) out.push_back(v.as_int());
  return out;
}

TEST(Tiny, SaveOutput) {
  TinyModel m;
  auto g = Graph::create();
  Saved hs;
  {
    TraceScope trace(g);
    hs = entry("layer2.output").save();
  }
  m.run(*g);
  EXPECT_TRUE(at::allclose(hs.tensor(), m.output_from(m.hidden())));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Tiny, ExternalProxyInterventionExecutedLocally) {
  TinyModel m;
  auto g = Graph::create();
  Saved l1;
  {
    SessionScope session(g);
    {
      TraceScope t1;
      l1 = entry("layer1.output").save();
    }
    {
      TraceScope t2;
      l1.set({Slice(), 2}, 5);  // l1_out[:, 2] = 5, on the first trace's value
    }
  }
  m.run(*g);
  EXPECT_EQ(l1.tensor()[0][2].item<float>(), 5.0f);
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Tiny, EarlyStopProtocol) {
  TinyModel m;
  auto g = Graph::create();
  Saved l1, l2;
  {
    TraceScope trace(g);
    l1 = entry("layer1.output").save();
    stop();
    l2 = entry("layer2.output").save();
  }
  m.run(*g);
  EXPECT_TRUE(at::allclose(l1.tensor(), m.hidden()));
  EXPECT_THROW(l2.value(), Error);
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Tiny, TrueConditional) {
  TinyModel m;
  auto g = Graph::create();
  Saved l1;
  {
    TraceScope trace(g);
    {
      CondScope c(5 > 0);
      entry("layer1.output").set({Slice()}, 1);
      l1 = entry("layer1.output").save();
    }
  }
  m.run(*g);
  EXPECT_TRUE(at::allclose(l1.tensor(), at::ones_like(m.hidden())));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Tiny, FalseConditional) {
  TinyModel m;
  auto g = Graph::create();
  Saved l1, l2;
  {
    TraceScope trace(g);
    {
      CondScope c(5 < 0);
      entry("layer1.output").set({Slice()}, 1);
      l1 = entry("layer1.output").save();
    }
    l2 = entry("layer2.output").save();  // the condition does not persist outside its scope
  }
  m.run(*g);
  EXPECT_THROW(l1.value(), Error);
  EXPECT_TRUE(at::allclose(l2.tensor(), m.output_from(m.hidden())));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Tiny, NodeAsCondition) {
  TinyModel m;
  auto g = Graph::create();
  Saved l1;
  {
    TraceScope trace(g);
    Proxy out = entry("layer1.output");
    out.set({Slice(), 0}, 1);
    {
      CondScope c(out[{Slice(), 0}] != 1);
      out.set({Slice()}, 1);
      l1 = out.save();
    }
  }
  m.run(*g);
  EXPECT_THROW(l1.value(), Error);
  EXPECT_EQ(g->live_values(), 0u);
}

TEST(Tiny, MultipleDependentConditionals) {
  TinyModel m;
  auto g = Graph::create();
  Saved l2;
  {
    TraceScope trace(g);
    Proxy l1 = entry("layer1.output");
    l2 = entry("layer2.output").save();
    {
      CondScope c(5 > 0);
      l1.set({Slice()}, 1);
    }
    {
      CondScope c(l1[{Slice(), 0}] != 1);
      l2.set({Slice()}, 2);
    }
    {
      CondScope c(l1[{Slice(), 0}] == 1);
      l2.set({Slice()}, 3);
    }
  }
  m.run(*g);
  EXPECT_TRUE(at::allclose(l2.tensor(), at::ones_like(l2.tensor()) * 3));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Tiny, NestedConditionals) {
  TinyModel m;
  auto g = Graph::create();
  Saved l1, l2;
  {
    TraceScope trace(g);
    {
      CondScope outer(5 > 0);
      l1 = entry("layer1.output").save();
      {
        CondScope inner(5 > 0);
        l1.set({Slice()}, 1);
      }
      {
        CondScope inner(5 < 0);
        l1.set({Slice()}, 2);
      }
    }
    {
      CondScope outer(5 < 0);
      entry("layer2.output").set({Slice()}, 0);
      {
        CondScope inner(5 > 0);
        l2 = entry("layer2.output").save();
      }
    }
  }
  m.run(*g);
  EXPECT_TRUE(at::allclose(l1.tensor(), at::ones_like(l1.tensor())));
  EXPECT_THROW(l2.value(), Error);
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Tiny, ConditionalTrace) {
  TinyModel m;
  auto g = Graph::create();
  Saved out;
  {
    SessionScope session(g);
    CondScope c(5 > 0);
    TraceScope trace;
    out = entry("output").save();
  }
  m.run(*g);
  EXPECT_TRUE(out.tensor().defined());
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Tiny, ConditionalIteration) {
  TinyModel m;
  auto g = Graph::create();
  Saved result;
  {
    SessionScope session(g);
    result = list().save();
    IterScope loop(list_of({0, 1, 2}));
    CondScope c(loop.item() % 2 == 0);
    TraceScope trace;
    result.append(loop.item());
  }
  m.run(*g);
  EXPECT_EQ(ints(result.value()), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Tiny, BridgeProtocol) {
  TinyModel m;
  auto g = Graph::create();
  Saved l1;
  {
    SessionScope session(g);
    Proxy val = record("int", {0});  // a session value used inside the trace
    TraceScope trace;
    entry("layer1.output").set({Slice()}, val);
    l1 = entry("layer1.output").save();
  }
  m.run(*g);
  EXPECT_TRUE(at::allclose(l1.tensor(), at::zeros_like(l1.tensor())));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Tiny, SequentialGraphBasedContextExit) {
  auto g = Graph::create();
  Saved l;
  {
    SessionScope session(g);
    l = list().save();
    l.append(0);
    {
      IterScope loop(list_of({1, 2, 3, 4}));
      {
        CondScope c(loop.item() == 3);
        stop();  // ends the loop only
      }
      l.append(loop.item());
    }
    l.append(5);
    stop();  // ends the session
    l.append(6);
  }
  g->run([](InterventionGraph&) {});
  EXPECT_EQ(ints(l.value()), (std::vector<int64_t>{0, 1, 2, 5}));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Tiny, TracerStop) {
  TinyModel m;
  auto g = Graph::create();
  Saved doubled;
  {
    TraceScope trace(g);
    Proxy l1 = entry("layer1.output");
    stop();
    doubled = (l1 * 2).save();
  }
  m.run(*g);
  EXPECT_THROW(doubled.value(), Error);
  EXPECT_EQ(g->live_values(), 0u);
}

TEST(Tiny, StopForwardPassInLoop) {
  TinyModel m;
  auto g = Graph::create();
  Saved results;
  int forwards_finished = 0;
  {
    SessionScope session(g);
    results = list().save();
    std::vector<at::Tensor> batches{m.input, m.input * 2, m.input * 3};
    IterScope loop(list_of({batches[0], batches[1], batches[2]}));
    Proxy hs;
    {
      TraceScope trace(nullptr, {Value::ref(loop.item().index())});
      hs = entry("layer1.output");
      hs.stop();
    }
    results.append(hs);  // session level: the unsaved trace value flows out of the stopped trace
  }
  g->run([&](InterventionGraph& ig) {
    m.forward(ig, ig.inputs()[0].as_tensor());
    ++forwards_finished;
  });
  ASSERT_EQ(results.value().items().size(), 3u);
  EXPECT_EQ(forwards_finished, 0);  // every forward pass was stopped at layer1
  EXPECT_TRUE(at::allclose(results.value()[2].as_tensor(), at::linear(m.input * 3, m.w1, m.b1)));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Tiny, BridgedNodeCleanup) {
  auto g = Graph::create();
  Proxy l;
  {
    SessionScope session(g);
    l = list();
    IterScope loop(list_of({0, 1, 2}));
    {
      CondScope c(loop.item() == 2);
      stop();
    }
    l.append(loop.item());
  }
  g->run([](InterventionGraph&) {});
  EXPECT_THROW(l.value(), Error);
  EXPECT_EQ(g->live_values(), 0u);
}

TEST(Tiny, NestedIterator) {
  auto g = Graph::create();
  Saved l2;
  {
    SessionScope session(g);
    Proxy l = list().save();
    l.append(list_of({0}));
    l.append(list_of({1}));
    l.append(list_of({2}));
    l2 = list().save();
    IterScope outer(l);
    IterScope inner(outer.item());
    l2.append(inner.item());
  }
  g->run([](InterventionGraph&) {});
  EXPECT_EQ(ints(l2.value()), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(g->live_values(), 2u);
}

TEST(Tiny, Builtins) {
  auto g = Graph::create();
  Saved a, b, c;
  {
    SessionScope session(g);
    a = list().save();
    b = list().save();
    c = list().save();
    IterScope loop(list_of({a, b, c}));
    loop.item().append(record("int", {}));
    loop.item().append("Hello World");
    loop.item().append(record("dict", {}, [] {
      Dict d;
      d.set("a", "1");
      return d;
    }()));
  }
  g->run([](InterventionGraph&) {});
  EXPECT_EQ(a.value().repr(), "[0, 'Hello World', {'a': '1'}]");
  EXPECT_EQ(a.value().repr(), b.value().repr());
  EXPECT_EQ(b.value().repr(), c.value().repr());
  EXPECT_EQ(g->live_values(), 3u);
}

}  // namespace
}  // namespace nnsight::graph
