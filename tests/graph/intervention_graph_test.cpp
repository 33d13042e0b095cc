// InterventionGraph semantics with simulated hooks: saving, in-place edits,
// swaps, the memory rule, iteration specs and deferred sections, stop,
// errors, out-of-order access and copy.

#include <ATen/ops/allclose.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/zeros_like.h>
#include <gtest/gtest.h>

#include "fake_model.h"
#include "nnsight/base/error.h"

namespace nnsight::graph {
namespace {

using test::RepeatModel;
using test::TinyModel;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<double> numbers(const Value& list) {
  std::vector<double> out;
  for (const auto& v : list.items()) out.push_back(v.as_double());
  return out;
}

TEST(InterventionGraph, InPlaceSetIsSeenByLaterModules) {
  TinyModel m;
  auto g = Graph::create();
  Saved out;
  {
    TraceScope trace(g);
    entry("layer1.output").set({Slice()}, 0);
    out = entry("layer2.output").save();
  }
  m.run(*g);
  EXPECT_TRUE(at::allclose(out.tensor(), m.output_from(at::zeros_like(m.hidden()))));
  EXPECT_TRUE(at::allclose(m.last_output.as_tensor(), out.tensor()));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(InterventionGraph, SwapReplacesTheModuleValueAndLaterAccessSeesIt) {
  TinyModel m;
  auto g = Graph::create();
  Saved after_swap, out;
  {
    TraceScope trace(g);
    Proxy l1 = entry("layer1.output");
    swap(l1, l1 * 0 + 1);                        // layer1.output = layer1.output * 0 + 1
    after_swap = entry("layer1.output").save();  // a new access sees the replacement
    out = entry("layer2.output").save();
  }
  m.run(*g);
  EXPECT_TRUE(at::allclose(after_swap.tensor(), at::ones_like(m.hidden())));
  EXPECT_TRUE(at::allclose(out.tensor(), m.output_from(at::ones_like(m.hidden()))));
  EXPECT_EQ(g->live_values(), 2u);
}

TEST(InterventionGraph, IntermediateIsDroppedRightAfterItsLastUse) {
  TinyModel m;
  auto g = Graph::create();
  Proxy hidden, doubled, total;
  Saved result;
  {
    TraceScope trace(g);
    hidden = entry("layer1.output");
    doubled = hidden * 2;  // last used by `total`, which needs layer2 too
    Proxy out = entry("layer2.output");
    total = doubled.sum() + out.sum();
    result = total.save();
  }
  bool checked = false;
  g->run([&](InterventionGraph& ig) {
    Value h = ig.deliver("layer1.output", Value(m.hidden()));
    // Between the two hooks: `hidden` is no longer needed, `doubled` is.
    EXPECT_FALSE(g->node(hidden.index()).has_value);
    EXPECT_TRUE(g->node(doubled.index()).has_value);
    ig.deliver("layer2.output", Value(m.output_from(h.as_tensor())));
    EXPECT_FALSE(g->node(doubled.index()).has_value);
    EXPECT_EQ(g->live_values(), 1u);  // only the saved total
    checked = true;
  });
  EXPECT_TRUE(checked);
  EXPECT_NEAR(result.value().as_tensor().item<double>(),
              (m.hidden() * 2).sum().item<double>() + m.output_from(m.hidden()).sum().item<double>(), 1e-5);
  EXPECT_THROW(doubled.value(), Error);
}

TEST(InterventionGraph, ReadingAnUnsavedValueSaysToCallSave) {
  TinyModel m;
  auto g = Graph::create();
  Proxy hidden;
  {
    TraceScope trace(g);
    hidden = entry("layer1.output");
    hidden.sum().save();
  }
  m.run(*g);
  try {
    hidden.value();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "node " + std::to_string(hidden.index()))) << e.what();
    EXPECT_TRUE(contains(e.what(), ".save()")) << e.what();
  }
}

TEST(InterventionGraph, ElseAndElifBranches) {
  TinyModel m;
  auto g = Graph::create();
  Saved which = Saved();
  Saved out;
  {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    Proxy l = list();
    which = l.save();
    {
      CondScope c(h.sum() > 1e9);
      l.append("if");
    }
    {
      ElseScope e(h.sum() < -1e9);
      l.append("elif");
    }
    {
      ElseScope e;
      l.append("else");
      h.set({Slice()}, 7);
    }
    out = entry("layer2.output").save();
  }
  m.run(*g);
  EXPECT_EQ(which.value().repr(), "['else']");
  EXPECT_TRUE(at::allclose(out.tensor(), m.output_from(at::ones_like(m.hidden()) * 7)));
  EXPECT_EQ(g->live_values(), 2u);
}

TEST(InterventionGraph, ElseWithoutConditionIsAnError) {
  auto g = Graph::create();
  TraceScope trace(g);
  EXPECT_THROW(ElseScope e, Error);
}

// ---- Iteration -------------------------------------------------------------

std::vector<double> calls_seen(IterationSpec spec, int calls = 4) {
  auto g = Graph::create();
  Saved seen;
  {
    TraceScope trace(g);
    seen = list().save();
    seen.append(entry("rep.output", spec).item());
  }
  RepeatModel m;
  m.calls = calls;
  m.run(*g);
  EXPECT_EQ(g->live_values(), 1u);
  return numbers(seen.value());
}

TEST(Iteration, SpecsSelectCalls) {
  using V = std::vector<double>;
  EXPECT_EQ(calls_seen(IterationSpec()), V({0}));
  EXPECT_EQ(calls_seen(IterationSpec::at(1)), V({1}));
  EXPECT_EQ(calls_seen(IterationSpec::all()), V({0, 1, 2, 3}));
  EXPECT_EQ(calls_seen(IterationSpec::range(Slice{1, 3, std::nullopt})), V({1, 2}));
  EXPECT_EQ(calls_seen(IterationSpec::list({3, 0})), V({0, 3}));
  // The step is honoured (NNsight 0.4 ignored it and took every call).
  EXPECT_EQ(calls_seen(IterationSpec::range(Slice{0, 4, 2})), V({0, 2}));
  EXPECT_EQ(calls_seen(IterationSpec::range(Slice{1, std::nullopt, 2})), V({1, 3}));
  EXPECT_EQ(calls_seen(IterationSpec::at(7)), V({}));
}

TEST(Iteration, NegativeOrZeroStepIsRejected) {
  EXPECT_THROW(IterationSpec::at(-1), Error);
  EXPECT_THROW(IterationSpec::range(Slice{std::nullopt, -1, std::nullopt}), Error);
  EXPECT_THROW(IterationSpec::range(Slice{0, 4, 0}), Error);
}

TEST(Iteration, EditAtOneCallChangesTheRest) {
  // with rep.iter[2]: rep.output[:] = 100  -> final 102 (NNsight's documented result)
  auto g = Graph::create();
  {
    TraceScope trace(g);
    entry("rep.output", IterationSpec::at(2)).set({Slice()}, 100);
  }
  RepeatModel m;
  m.run(*g);
  EXPECT_EQ(m.last_output.as_tensor().item<float>(), 102.0f);
  EXPECT_EQ(g->live_values(), 0u);
}

TEST(Iteration, ValueUsedAcrossCallsIsKeptUntilTheLastCall) {
  auto g = Graph::create();
  Proxy pre;
  Saved sums;
  {
    TraceScope trace(g);
    pre = entry("pre.output");  // read by every call's section
    sums = list().save();
    sums.append((entry("rep.output", IterationSpec::range(Slice{0, 3, std::nullopt})) + pre).item());
  }
  RepeatModel m;
  std::vector<bool> pre_alive;
  m.after_call = [&](InterventionGraph&, int) { pre_alive.push_back(g->node(pre.index()).has_value); };
  m.run(*g);
  EXPECT_EQ(numbers(sums.value()), (std::vector<double>{10, 11, 12}));
  // Kept through calls 0 and 1, released right after the last call it takes (2).
  EXPECT_EQ(pre_alive, (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Iteration, OpenRangeReleasesAtTheEndOfTheRun) {
  auto g = Graph::create();
  Proxy pre;
  Saved sums;
  {
    TraceScope trace(g);
    pre = entry("pre.output");
    sums = list().save();
    sums.append((entry("rep.output", IterationSpec::all()) + pre).item());
  }
  RepeatModel m;
  bool alive_at_last_call = false;
  m.after_call = [&](InterventionGraph&, int k) {
    if (k == 3) alive_at_last_call = g->node(pre.index()).has_value;
  };
  m.run(*g);
  EXPECT_TRUE(alive_at_last_call);  // `all` cannot know a call was the last one
  EXPECT_EQ(numbers(sums.value()), (std::vector<double>{10, 11, 12, 13}));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(Iteration, LoopOverAModuleValueIsHoisted) {
  auto g = Graph::create();
  Saved out;
  {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    {
      IterScope loop(list_of({0, 2, 4}));
      h.set({Slice(), loop.item()}, -1);  // h[:, i] = -1 for i in [0, 2, 4]
    }
    out = entry("layer2.output").save();
  }
  TinyModel m;
  m.run(*g);
  at::Tensor expected = m.hidden();
  for (int i : {0, 2, 4}) expected.select(1, i).fill_(-1);
  EXPECT_TRUE(at::allclose(out.tensor(), m.output_from(expected)));
  EXPECT_EQ(g->live_values(), 1u);
}

// ---- Stop and errors ---------------------------------------------------------

TEST(InterventionGraph, ProxyStopEndsTheForwardPassWhenItsValueExists) {
  auto g = Graph::create();
  Saved l1;
  {
    TraceScope trace(g);
    l1 = entry("layer1.output").save();
    l1.stop();
  }
  TinyModel m;
  bool reached_layer2 = false;
  g->run([&](InterventionGraph& ig) {
    Value h = ig.deliver("layer1.output", Value(m.hidden()));
    reached_layer2 = true;
  });
  EXPECT_FALSE(reached_layer2);
  EXPECT_TRUE(at::allclose(l1.tensor(), m.hidden()));
  EXPECT_EQ(g->live_values(), 1u);
}

TEST(InterventionGraph, NodeErrorNamesNodeOpModuleAndUserLine) {
  auto g = Graph::create();
  int line = 0;
  int32_t failing = -1;
  {
    TraceScope trace(g);
    entry("layer1.output").save();
    Proxy h = entry("layer2.output");
    h.save();
    line = __LINE__ + 1;
    h.set({Slice(), 5}, 0);  // layer2.output is [1, 2]: index 5 is out of bounds
    failing = g->size() - 1;
  }
  TinyModel m;
  try {
    m.run(*g);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "out of bounds")) << msg;
    EXPECT_TRUE(contains(msg, "in node " + std::to_string(failing) + " (setitem) on layer2.output, iteration 0"))
        << msg;
    EXPECT_TRUE(contains(msg, "at tests/graph/intervention_graph_test.cpp:" + std::to_string(line))) << msg;
  }
  EXPECT_EQ(g->live_values(), 0u);  // cleaned: nothing leaks, not even the saved layer1 value
  // The graph stays usable: running it again fails the same way, cleanly.
  EXPECT_THROW(m.run(*g), Error);
  EXPECT_EQ(g->live_values(), 0u);
}

TEST(InterventionGraph, OutOfOrderAccessIsAnError) {
  auto g = Graph::create();
  {
    TraceScope trace(g);
    Proxy later = entry("layer2.output");
    entry("layer1.output").set({Slice()}, later.sum());  // uses layer2 to edit layer1, which runs first
  }
  TinyModel m;
  try {
    m.run(*g);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "out-of-order")) << e.what();
    EXPECT_TRUE(contains(e.what(), "layer1.output")) << e.what();
    EXPECT_TRUE(contains(e.what(), "layer2.output")) << e.what();
  }
  EXPECT_EQ(g->live_values(), 0u);
}

TEST(InterventionGraph, OutOfOrderCheckIsPerInvoke) {
  auto g = Graph::create();
  Saved a, b;
  {
    TraceScope trace(g);
    {
      BatchGroupScope invoke0(*g, 0);
      a = entry("layer2.output").save();
    }
    {
      BatchGroupScope invoke1(*g, 1);
      b = entry("layer1.output").save();
    }
  }
  TinyModel m;
  m.run(*g);  // different invokes may read modules in any order
  EXPECT_EQ(g->live_values(), 2u);
}

TEST(InterventionGraph, ConditionDecidedTooLateIsAnError) {
  auto g = Graph::create();
  {
    TraceScope trace(g);
    CondScope c(entry("layer2.output").sum() > 0);
    entry("layer1.output").set({Slice()}, 0);
  }
  TinyModel m;
  try {
    m.run(*g);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "before the condition")) << e.what();
  }
}

TEST(InterventionGraph, CopyRunsIndependently) {
  auto g = Graph::create();
  Saved out;
  {
    TraceScope trace(g);
    entry("layer1.output").set({Slice()}, 0);
    out = entry("layer2.output").save();
  }
  auto copy = g->copy();
  TinyModel m;
  m.run(*copy);
  EXPECT_EQ(copy->live_values(), 1u);
  EXPECT_EQ(g->live_values(), 0u);
  EXPECT_THROW(out.value(), Error);  // the original has not run
  m.run(*g);
  EXPECT_TRUE(at::allclose(out.tensor(), copy->value(out.index()).as_tensor()));
}

TEST(InterventionGraph, RunningTwiceGivesFreshResults) {
  auto g = Graph::create();
  Saved out;
  {
    TraceScope trace(g);
    out = (entry("layer1.output") * 2).save();
  }
  TinyModel m;
  m.run(*g);
  at::Tensor first = out.tensor();
  m.input = m.input + 1;
  m.run(*g);
  EXPECT_TRUE(at::allclose(out.tensor(), m.hidden() * 2));
  EXPECT_FALSE(at::allclose(out.tensor(), first));
  EXPECT_EQ(g->live_values(), 1u);
}

// ---- Apply, log, module calls, parameters ------------------------------------

struct FakeCaller : ModuleCaller {
  TinyModel* m;
  Value call_module(const std::string& path, Inputs& inputs) override {
    if (path != "layer2") throw Error("no module " + path);
    return Value(m->output_from(inputs.args.at(0).as_tensor()));
  }
  at::Tensor parameter(const std::string& path, const std::string& name) override {
    if (path == "layer1" && name == "weight") return m->w1;
    throw Error("no parameter " + path + "." + name);
  }
};

TEST(InterventionGraph, ApplyLogModuleCallAndParameter) {
  TinyModel m;
  FakeCaller caller;
  caller.m = &m;
  auto g = Graph::create();
  g->set_module_caller(&caller);
  std::vector<std::string> lines;
  g->set_log_sink([&](const std::string& line) { lines.push_back(line); });
  Saved lens, weight, counted;
  {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    lens = Proxy(g, g->add_module_call("layer2", {Value::ref(h.index())})).save();
    Proxy w = Proxy(g, g->add_parameter("layer1", "weight"));
    w.set({Slice()}, 0);  // edits the clone only
    weight = w.save();
    counted =
        apply([](std::vector<Value>& args, const Dict&) { return Value(args[0].as_tensor().numel()); }, {h}, "numel")
            .save();
    log({"hidden has", counted, "elements"});
  }
  m.run(*g);
  EXPECT_TRUE(at::allclose(lens.tensor(), m.output_from(m.hidden())));
  EXPECT_EQ(weight.tensor().abs().sum().item<float>(), 0.0f);
  EXPECT_NE(m.w1.abs().sum().item<float>(), 0.0f);  // the model's weight is untouched
  EXPECT_EQ(counted.value().as_int(), 10);
  EXPECT_EQ(lines, (std::vector<std::string>{"hidden has 10 elements"}));
  EXPECT_EQ(g->live_values(), 3u);
}

TEST(InterventionGraph, LongChainNeedsNoRecursion) {
  auto g = Graph::create();
  Saved out;
  {
    TraceScope trace(g);
    Proxy x = entry("layer1.output");
    for (int i = 0; i < 20000; ++i) x = x + 1;
    out = x.save();
  }
  TinyModel m;
  m.run(*g);
  EXPECT_TRUE(at::allclose(out.tensor(), m.hidden() + 20000));
  EXPECT_EQ(g->live_values(), 1u);
}

}  // namespace
}  // namespace nnsight::graph
