#pragma once
// Model-free stand-ins for the interleaver: plain functions that compute a
// tiny network and hand each module value to the graph the way hooks would
// (InterventionGraph::deliver), so graph semantics can be tested alone.

#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>

#include "nnsight/graph/intervention_graph.h"
#include "nnsight/graph/recording.h"

namespace nnsight::graph::test {

/// NNsight's test_tiny model: Sequential(layer1 = Linear(5, 10), layer2 = Linear(10, 2)).
struct TinyModel {
  at::Tensor w1, b1, w2, b2;
  at::Tensor input;
  Value last_output;

  TinyModel() {
    at::manual_seed(0);
    w1 = at::randn({10, 5});
    b1 = at::randn({10});
    w2 = at::randn({2, 10});
    b2 = at::randn({2});
    input = at::randn({1, 5});
  }

  /// The forward pass with a hook at each module input and output.
  Value forward(InterventionGraph& ig, const at::Tensor& x) {
    Value in1 = ig.deliver("layer1.input", Value(x));
    Value h = ig.deliver("layer1.output", Value(at::linear(in1.as_tensor(), w1, b1)));
    Value in2 = ig.deliver("layer2.input", h);
    Value out = ig.deliver("layer2.output", Value(at::linear(in2.as_tensor(), w2, b2)));
    return ig.deliver("output", out);
  }

  /// Runs every trace of `g` on `input` (or on the trace's first input, if any).
  void run(Graph& g) {
    g.run([&](InterventionGraph& ig) {
      auto inputs = ig.inputs();
      last_output = forward(ig, inputs.empty() ? input : inputs[0].as_tensor());
    });
  }

  at::Tensor hidden() const { return at::linear(input, w1, b1); }
  at::Tensor output_from(const at::Tensor& hidden) const { return at::linear(hidden, w2, b2); }
};

/// A module "rep" called `calls` times in one forward: x = rep(x) + 1 with rep
/// the identity and x starting at 0, so call k sees (and outputs) the value k.
/// "pre.output" (value 10) is delivered once before the loop.
struct RepeatModel {
  int calls = 4;
  Value last_output;
  std::function<void(InterventionGraph&, int)> after_call;  ///< inspection hook for tests

  Value forward(InterventionGraph& ig) {
    ig.deliver("pre.output", Value(at::zeros({1}) + 10));
    at::Tensor x = at::zeros({1});
    for (int k = 0; k < calls; ++k) {
      x = ig.deliver("rep.output", Value(x.clone())).as_tensor() + 1;
      if (after_call) after_call(ig, k);
    }
    return Value(x);
  }

  void run(Graph& g) {
    g.run([&](InterventionGraph& ig) { last_output = forward(ig); });
  }
};

}  // namespace nnsight::graph::test
