#pragma once
// Graphs like the ones tests/graph builds (conditions, else chains, loops,
// sessions of several traces, iteration specs, swaps, stops, module calls,
// parameters, gradients, every kind of constant), how to run each on the fake
// models of tests/graph, and structural comparisons of graphs and values.

#include <ATen/ops/arange.h>
#include <ATen/ops/full.h>
#include <ATen/ops/ones.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "graph/fake_model.h"
#include "nnsight/base/error.h"
#include "nnsight/format/graph_json.h"

namespace nnsight::format::test {

using namespace nnsight::graph;  // NOLINT: the recording DSL reads best unqualified
using graph::test::RepeatModel;
using graph::test::TinyModel;

enum class Runner { None, Tiny, TinyWithGrad, Repeat, NotRunnable };

struct Sample {
  std::string name;
  GraphDocument doc;
  Runner runner = Runner::Tiny;
};

/// Module calls and parameters of the tiny model (as in tests/graph).
struct TinyCaller : ModuleCaller {
  TinyModel* m = nullptr;
  Value call_module(const std::string& path, Inputs& inputs) override {
    if (path != "layer2") throw Error("no module " + path);
    return Value(m->output_from(inputs.args.at(0).as_tensor()));
  }
  at::Tensor parameter(const std::string& path, const std::string& name) override {
    if (path == "layer1" && name == "weight") return m->w1;
    throw Error("no parameter " + path + "." + name);
  }
};

/// What a run leaves: saved values by node, the log, the model's output.
struct RunResult {
  std::map<int32_t, Value> saved;
  std::vector<std::string> log;
  Value output;
};

inline RunResult run_sample(Graph& g, Runner runner) {
  RunResult r;
  TinyModel tiny;
  TinyCaller caller;
  caller.m = &tiny;
  g.set_module_caller(&caller);
  g.set_log_sink([&](const std::string& line) { r.log.push_back(line); });
  if (runner == Runner::TinyWithGrad) tiny.input.requires_grad_(true);  // module values get a history
  if (runner == Runner::Tiny || runner == Runner::TinyWithGrad) {
    tiny.run(g);
    r.output = tiny.last_output;
  } else if (runner == Runner::Repeat) {
    RepeatModel rep;
    rep.run(g);
    r.output = rep.last_output;
  } else {
    g.run([](InterventionGraph&) {});
  }
  g.set_module_caller(nullptr);
  for (int32_t i : g.live_nodes()) r.saved[i] = g.node(i).value;
  return r;
}

// ---- Comparisons ------------------------------------------------------------------

/// Bitwise-equal tensors (NaN equals NaN), same dtype and shape.
inline bool same_tensor(const at::Tensor& a, const at::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor x = a.to(at::kDouble).contiguous(), y = b.to(at::kDouble).contiguous();
  const double* p = x.data_ptr<double>();
  const double* q = y.data_ptr<double>();
  for (int64_t k = 0; k < x.numel(); ++k)
    if (!(p[k] == q[k] || (std::isnan(p[k]) && std::isnan(q[k])))) return false;
  return true;
}

inline bool same_value(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::None:
    case Value::Kind::Ellipsis: return true;
    case Value::Kind::Bool: return a.as_bool() == b.as_bool();
    case Value::Kind::Int: return a.as_int() == b.as_int();
    case Value::Kind::Float:
      return a.as_double() == b.as_double() || (std::isnan(a.as_double()) && std::isnan(b.as_double()));
    case Value::Kind::String: return a.as_string() == b.as_string();
    case Value::Kind::Tensor: return same_tensor(a.as_tensor(), b.as_tensor());
    case Value::Kind::Slice: return a.as_slice() == b.as_slice();
    case Value::Kind::Ref: return a.as_ref() == b.as_ref();
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      if (a.items().size() != b.items().size()) return false;
      for (std::size_t k = 0; k < a.items().size(); ++k)
        if (!same_value(a.items()[k], b.items()[k])) return false;
      return true;
    }
    case Value::Kind::Dict: {
      const Dict &x = a.as_dict(), &y = b.as_dict();
      if (x.keys != y.keys) return false;
      for (std::size_t k = 0; k < x.size(); ++k)
        if (!same_value(x.values[k], y.values[k])) return false;
      return true;
    }
  }
  return false;
}

/// Node by node: kind, op, args, kwargs, edges, nesting, entry and context records.
inline void expect_same_graph(const Graph& a, const Graph& b) {
  ASSERT_EQ(a.size(), b.size());
  for (int32_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("node " + std::to_string(i));
    const Node &x = a.node(i), &y = b.node(i);
    ASSERT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.op, y.op);
    EXPECT_EQ(x.parent, y.parent);
    EXPECT_EQ(x.deps, y.deps);
    EXPECT_EQ(x.listeners, y.listeners);
    EXPECT_EQ(x.saved, y.saved);
    EXPECT_EQ(a.label(i), b.label(i));
    ASSERT_EQ(x.args.size(), y.args.size());
    for (std::size_t k = 0; k < x.args.size(); ++k)
      EXPECT_TRUE(same_value(x.args[k], y.args[k])) << x.args[k].repr() << " vs " << y.args[k].repr();
    EXPECT_TRUE(same_value(Value(x.kwargs), Value(y.kwargs)));
    if (x.kind == NodeKind::Entry) {
      EXPECT_EQ(a.entry(i).key, b.entry(i).key);
      EXPECT_EQ(a.entry(i).batch_group, b.entry(i).batch_group);
      EXPECT_EQ(a.entry(i).trace, b.entry(i).trace);
      EXPECT_EQ(a.entry(i).iteration.repr(), b.entry(i).iteration.repr());
    }
    if (is_context(x.kind)) {
      EXPECT_EQ(a.context(i).body_end, b.context(i).body_end);
      EXPECT_EQ(a.context(i).else_branch, b.context(i).else_branch);
      EXPECT_EQ(a.context(i).has_condition, b.context(i).has_condition);
      EXPECT_EQ(a.context(i).trace.strict_order, b.context(i).trace.strict_order);
    }
  }
}

// ---- The graphs ---------------------------------------------------------------------

/// Every constant kind the format knows, including non-finite floats and tensors of each dtype.
inline std::vector<Arg> every_constant() {
  Dict d;
  d.set("b", 1);
  d.set("a", Value::tuple({Value(), Value(Ellipsis{})}));
  return {Value(),
          true,
          int64_t{-7},
          std::numeric_limits<int64_t>::max(),
          2.5,
          -0.0,
          std::numeric_limits<double>::infinity(),
          -std::numeric_limits<double>::infinity(),
          std::numeric_limits<double>::quiet_NaN(),
          "text \"quoted\" \n ünïcode",
          Value::list({1, Value::list({2.5, "x"})}),
          Value::tuple({}),
          Value(std::move(d)),
          Slice{1, std::nullopt, -1},
          Slice{},
          Ellipsis{},
          at::arange(6, at::kFloat).reshape({2, 3}),
          at::full({2}, std::numeric_limits<float>::quiet_NaN()),
          at::arange(4, at::kDouble) / 3,
          at::arange(3, at::kFloat).to(at::kHalf),
          at::arange(3, at::kFloat).to(at::kBFloat16),
          at::arange(-2, 2, at::kLong),
          at::arange(3, at::kInt),
          at::arange(3, at::kShort),
          at::arange(-3, 0, at::kChar),
          at::full({2}, 255, at::kByte),
          at::ones({2, 2}, at::kBool),
          at::full({}, 3.0),                                 // 0-dim
          at::ones({0, 4}),                                  // empty
          at::arange(5000, at::kFloat).reshape({50, 100})};  // large: a blob when a sink is given
}

inline std::vector<Sample> sample_graphs() {
  std::vector<Sample> out;
  auto add = [&](std::string name, Runner runner, const std::function<void(std::shared_ptr<Graph>)>& build) {
    Sample s;
    s.name = std::move(name);
    s.runner = runner;
    s.doc.graph = Graph::create();
    build(s.doc.graph);
    out.push_back(std::move(s));
  };

  add("save_output", Runner::Tiny, [](auto g) {
    TraceScope trace(g);
    entry("layer2.output").save();
  });
  add("session_two_traces", Runner::Tiny, [](auto g) {
    SessionScope session(g);
    Saved l1;
    {
      TraceScope t1;
      l1 = entry("layer1.output").save();
    }
    TraceScope t2;
    l1.set({Slice(), 2}, 5);
  });
  add("early_stop", Runner::Tiny, [](auto g) {
    TraceScope trace(g);
    entry("layer1.output").save();
    stop();
    entry("layer2.output").save();
  });
  add("nested_conditions", Runner::Tiny, [](auto g) {
    TraceScope trace(g);
    {
      CondScope outer(5 > 0);
      Saved l1 = entry("layer1.output").save();
      {
        CondScope inner(5 > 0);
        l1.set({Slice()}, 1);
      }
      {
        CondScope inner(5 < 0);
        l1.set({Slice()}, 2);
      }
    }
    CondScope outer(5 < 0);
    entry("layer2.output").set({Slice()}, 0);
    CondScope inner(5 > 0);
    entry("layer2.output").save();
  });
  add("dependent_conditions", Runner::Tiny, [](auto g) {
    TraceScope trace(g);
    Proxy l1 = entry("layer1.output");
    Saved l2 = entry("layer2.output").save();
    {
      CondScope c(l1[{Slice(), 0}] != 1);
      l2.set({Slice()}, 2);
    }
    CondScope c(l1[{Slice(), 0}] == 1);
    l2.set({Slice()}, 3);
  });
  add("else_elif_chain", Runner::Tiny, [](auto g) {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    Proxy l = list();
    l.save();
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
    entry("layer2.output").save();
  });
  add("session_loop_condition_trace", Runner::Tiny, [](auto g) {
    SessionScope session(g);
    Saved result = list().save();
    IterScope loop(list_of({0, 1, 2}));
    CondScope c(loop.item() % 2 == 0);
    TraceScope trace;
    result.append(loop.item());
  });
  add("session_stops_and_loops", Runner::None, [](auto g) {
    SessionScope session(g);
    Saved l = list().save();
    l.append(0);
    {
      IterScope loop(list_of({1, 2, 3, 4}));
      {
        CondScope c(loop.item() == 3);
        stop();
      }
      l.append(loop.item());
    }
    {
      Proxy nested = list();
      nested.append(list_of({0}));
      nested.append(list_of({1}));
      Saved flat = list().save();
      IterScope outer(nested);
      IterScope inner(outer.item());
      flat.append(inner.item());
    }
    l.append(5);
    stop();
    l.append(6);
  });
  add("trace_inputs_and_proxy_stop", Runner::Tiny, [](auto g) {
    SessionScope session(g);
    Saved results = list().save();
    TinyModel m;
    IterScope loop(list_of({m.input, m.input * 2, m.input * 3}));
    Proxy hs;
    {
      TraceScope trace(nullptr, {Value::ref(loop.item().index())});
      hs = entry("layer1.output");
      hs.stop();
    }
    results.append(hs);
  });
  add("iteration_specs", Runner::Repeat, [](auto g) {
    SessionScope session(g);
    for (IterationSpec spec :
         {IterationSpec(), IterationSpec::at(2), IterationSpec::all(), IterationSpec::range(Slice{1, 3, std::nullopt}),
          IterationSpec::list({3, 0}), IterationSpec::range(Slice{1, std::nullopt, 2})}) {
      TraceScope trace;
      Proxy pre = entry("pre.output");
      Saved seen = list().save();
      seen.append((entry("rep.output", spec) + pre).item());
    }
    TraceScope trace;
    entry("rep.output", IterationSpec::at(2)).set({Slice()}, 100);
  });
  add("hoisted_loop", Runner::Tiny, [](auto g) {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    {
      IterScope loop(list_of({0, 2, 4}));
      h.set({Slice(), loop.item()}, -1);
    }
    entry("layer2.output").save();
  });
  add("swap", Runner::Tiny, [](auto g) {
    TraceScope trace(g);
    Proxy l1 = entry("layer1.output");
    swap(l1, l1 * 0 + 1);
    entry("layer1.output").save();
    entry("layer2.output").save();
  });
  add("module_call_parameter_log", Runner::Tiny, [](auto g) {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    Proxy(g, g->add_module_call("layer2", {Value::ref(h.index())})).softmax(-1).save();
    Proxy w = Proxy(g, g->add_parameter("layer1", "weight"));
    w.set({Slice()}, 0);
    w.save();
    log({"hidden has", h.sum(0, true).size(-1), "columns"});
  });
  add("builtins_and_kwargs", Runner::None, [](auto g) {
    SessionScope session(g);
    Saved a = list().save();
    a.append(record("int", {}));
    a.append("Hello World");
    Dict kw;
    kw.set("a", "1");
    kw.set("b", Value::list({1, 2}));
    a.append(record("dict", {}, kw));
    Dict sum_kw;
    sum_kw.set("dim", 0);
    sum_kw.set("keepdim", true);
    record("sum", {at::ones({2, 3})}, sum_kw).save();
  });
  add("every_constant", Runner::None, [](auto g) {
    SessionScope session(g);
    std::vector<Arg> args = every_constant();
    std::vector<Value> values;
    for (Arg& a : args) values.push_back(a.value);
    g->add_op("print", values);
    record("list", {Value::list(values)}).save();
  });
  add("gradients", Runner::TinyWithGrad, [](auto g) {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    Proxy grad(g, g->add_grad(h.index()));
    grad.save();
    g->add_swap(grad.index(), Value::ref(grad.index()));
    record("backward", {h.sum()});
  });
  add("invokes_and_settings", Runner::NotRunnable, [](auto g) {
    TraceScope trace(g);
    {
      BatchGroupScope invoke(*g, 0);
      entry("layer2.output").save();
    }
    {
      BatchGroupScope invoke(*g, 1);
      entry("layer1.output").set({Slice(), -1}, 0);
    }
    BatchGroupScope cache(*g, 1 << 24);
    entry("layer1.input", IterationSpec::all()).save();
  });
  Sample& settings = out.back();
  TraceSettings s;
  s.invokes = {Value("Once upon a time"), Value::list({1, 2, 3}), Value(at::arange(4, at::kLong).reshape({1, 4}))};
  s.strict_order = false;
  s.generate = GenerateOptions{
      .max_new_tokens = 3, .temperature = 0.5, .top_k = 4, .top_p = 0.9, .seed = 7, .stop_at_eos = false};
  settings.doc.traces[0] = s;
  settings.doc.graph->context(0).trace.strict_order = false;  // what a runner applies from the settings
  return out;
}

}  // namespace nnsight::format::test
