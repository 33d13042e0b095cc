#pragma once
// Small module trees for interleaver and API tests, built from runtime
// modules: NNsight's test_tiny model Sequential(layer1 = Linear(5, 10),
// layer2 = Linear(10, 2)) with deterministic weights, and a model that calls
// one module several times.

#include <ATen/ATen.h>

#include <memory>

#include "nnsight/runtime/forward_context.h"
#include "nnsight/runtime/models/projections.h"
#include "nnsight/runtime/module.h"

namespace nnsight::test {

/// Sequential(layer1 = Linear(5, 10), layer2 = Linear(10, 2)); weights from
/// a fixed formula so tests can recompute everything by hand.
class TinySequential : public Module {
 public:
  TinySequential() : Module("Sequential") {
    w1 = at::arange(50, at::kFloat).reshape({10, 5}).sin() * 0.5;
    b1 = at::arange(10, at::kFloat).cos() * 0.1;
    w2 = at::arange(20, at::kFloat).reshape({2, 10}).cos() * 0.3;
    b2 = at::tensor({0.25f, -0.5f});
    layer1 = &add_module("layer1", std::make_unique<Linear>(w1, b1));
    layer2 = &add_module("layer2", std::make_unique<Linear>(w2, b2));
  }

  /// A [batch, 5] input: row r is (r + 1) * [0.1, 0.2, ..., 0.5] - 0.2.
  static at::Tensor input(int64_t batch = 1) {
    return (at::arange(1, batch + 1, at::kFloat).unsqueeze(1) * at::arange(1, 6, at::kFloat) * 0.1) - 0.2;
  }
  at::Tensor hidden(const at::Tensor& x) const { return at::linear(x, w1, b1); }
  at::Tensor output_from(const at::Tensor& h) const { return at::linear(h, w2, b2); }

  /// Calls the model through its dispatch point (hooks on the root fire).
  at::Tensor run(const at::Tensor& x) {
    ForwardContext ctx;
    return (*this)(Inputs({Value(x)}), ctx).as_tensor();
  }

  at::Tensor w1, b1, w2, b2;
  Module* layer1;
  Module* layer2;

 protected:
  Value forward(Inputs& inputs, ForwardContext& ctx) override {
    Value h = (*layer1)(Inputs({inputs.args.at(0)}), ctx);
    return (*layer2)(Inputs({h}), ctx);
  }
};

/// Identity module.
class Identity : public Module {
 public:
  Identity() : Module("Identity") {}

 protected:
  Value forward(Inputs& inputs, ForwardContext&) override { return inputs.args.at(0); }
};

/// x = rep(x) + 1, `calls` times, starting from the input: call k of "rep" sees input + k.
class RepeatModel : public Module {
 public:
  explicit RepeatModel(int calls = 4) : Module("Repeat"), calls_(calls) {
    rep = &add_module("rep", std::make_unique<Identity>());
  }
  at::Tensor run(const at::Tensor& x) {
    ForwardContext ctx;
    return (*this)(Inputs({Value(x)}), ctx).as_tensor();
  }
  Module* rep;

 protected:
  Value forward(Inputs& inputs, ForwardContext& ctx) override {
    at::Tensor x = inputs.args.at(0).as_tensor();
    for (int k = 0; k < calls_; ++k) x = (*rep)(Inputs({Value(x.clone())}), ctx).as_tensor() + 1;
    return Value(x);
  }

 private:
  int calls_;
};

}  // namespace nnsight::test
