// NNsight 0.4's test_tiny cases through the C++ tracing API, on the same model
// shape (layer1 = Linear(5, 10), layer2 = Linear(10, 2)), input [1, 5]. Each
// asserts how many values survive the run: exactly the saved ones, as
// NNsight's AssertSavedLenBackend does.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "interleave/tiny_modules.h"
#include "nnsight/api/nnsight.h"
#include "nnsight/base/error.h"

namespace nnsight {
namespace {

using test::TinySequential;

std::vector<int64_t> ints(const Value& list) {
  std::vector<int64_t> out;
  for (const auto& v : list.items()) out.push_back(v.as_int());
  return out;
}

class TinyApi : public ::testing::Test {
 protected:
  TinySequential net;
  Model model{net};
  at::Tensor x = TinySequential::input();
  at::Tensor hidden() const { return net.hidden(x); }
  at::Tensor output() const { return net.output_from(net.hidden(x)); }
};

TEST_F(TinyApi, Tiny) {
  Saved hs;
  Traced run = model.trace(x, [&] { hs = model["layer2"].output().save(); });
  EXPECT_TRUE(at::allclose(hs.tensor(), output()));
  EXPECT_TRUE(at::allclose(run.output.as_tensor(), output()));
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(TinyApi, GradSetting) {
  Saved l1_grad, l1_grad_double;
  Traced run = model.trace(x, [&] {
    l1_grad = model["layer1"].output().grad().clone().save();
    model["layer1"].output().set_grad(model["layer1"].output().grad().clone() * 2);
    l1_grad_double = model["layer1"].output().grad().save();
    model.root().output().sum().backward();
  });
  EXPECT_TRUE(at::equal(l1_grad.tensor() * 2, l1_grad_double.tensor()));
  // d sum(layer2(h)) / dh = ones @ w2, before the doubling.
  EXPECT_TRUE(at::allclose(l1_grad.tensor(), at::ones({1, 2}).matmul(net.w2)));
  EXPECT_EQ(run.live_values(), 2u);
}

TEST_F(TinyApi, ExternalProxyInterventionExecutedLocally) {
  Saved l1;
  Traced run = model.session([&] {
    model.trace(x, [&] { l1 = model["layer1"].output().save(); });
    model.trace(x, [&] { l1.set({Slice(), 2}, 5); });
  });
  EXPECT_EQ(l1.tensor()[0][2].item<float>(), 5.0f);
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(TinyApi, EarlyStopProtocol) {
  Saved l1, l2;
  Traced run = model.trace(x, [&](Tracer& tracer) {
    l1 = model["layer1"].output().save();
    tracer.stop();
    l2 = model["layer2"].output().save();
  });
  EXPECT_TRUE(at::allclose(l1.tensor(), hidden()));
  EXPECT_THROW(l2.value(), Error);
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(TinyApi, TrueConditionalProtocol) {
  Saved l1;
  Traced run = model.trace(x, [&](Tracer& tracer) {
    tracer.cond(5 > 0, [&] {
      model["layer1"].output().set({Slice()}, 1);
      l1 = model["layer1"].output().save();
    });
  });
  EXPECT_TRUE(at::equal(l1.tensor(), at::ones({1, 10})));
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(TinyApi, FalseConditionalProtocol) {
  Saved l1, l2;
  Traced run = model.trace(x, [&](Tracer& tracer) {
    tracer.cond(5 < 0, [&] {
      model["layer1"].output().set({Slice()}, 1);
      l1 = model["layer1"].output().save();
    });
    l2 = model["layer2"].output().save();
  });
  EXPECT_THROW(l1.value(), Error);
  EXPECT_TRUE(at::allclose(l2.tensor(), output()));
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(TinyApi, NodeAsCondition) {
  Saved l1;
  Traced run = model.trace(x, [&](Tracer& tracer) {
    Proxy out = model["layer1"].output();
    out.set({Slice(), 0}, 1);
    tracer.cond(out[{Slice(), 0}] != 1, [&] {
      out.set({Slice()}, 1);
      l1 = out.save();
    });
  });
  EXPECT_THROW(l1.value(), Error);
  EXPECT_EQ(run.live_values(), 0u);
}

TEST_F(TinyApi, MultipleDependentConditionals) {
  Saved l2;
  Traced run = model.trace(x, [&](Tracer& tracer) {
    Proxy l1 = model["layer1"].output();
    l2 = model["layer2"].output().save();
    tracer.cond(5 > 0, [&] { l1.set({Slice()}, 1); });
    tracer.cond(l1[{Slice(), 0}] != 1, [&] { l2.set({Slice()}, 2); });
    tracer.cond(l1[{Slice(), 0}] == 1, [&] { l2.set({Slice()}, 3); });
  });
  EXPECT_TRUE(at::equal(l2.tensor(), at::full({1, 2}, 3.0)));
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(TinyApi, NestedConditionals) {
  Saved l1, l2;
  Traced run = model.trace(x, [&](Tracer& tracer) {
    tracer.cond(5 > 0, [&] {
      l1 = model["layer1"].output().save();
      tracer.cond(5 > 0, [&] { l1.set({Slice()}, 1); });
      tracer.cond(5 < 0, [&] { l1.set({Slice()}, 2); });
    });
    tracer.cond(5 < 0, [&] {
      model["layer2"].output().set({Slice()}, 0);
      tracer.cond(5 > 0, [&] { l2 = model["layer2"].output().save(); });
    });
  });
  EXPECT_TRUE(at::equal(l1.tensor(), at::ones({1, 10})));
  EXPECT_THROW(l2.value(), Error);
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(TinyApi, ConditionalTrace) {
  Saved out;
  Traced run = model.session([&](Session& session) {
    session.cond(5 > 0, [&] { model.trace(x, [&] { out = model.root().output().save(); }); });
  });
  EXPECT_TRUE(at::allclose(out.tensor(), output()));
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(TinyApi, ConditionalIteration) {
  Saved result;
  Traced run = model.session([&](Session& session) {
    result = session.list().save();
    session.iter(list_of({0, 1, 2}), [&](Proxy item) {
      session.cond(item % 2 == 0, [&] { model.trace(x, [&] { result.append(item); }); });
    });
  });
  EXPECT_EQ(ints(result.value()), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(TinyApi, BridgeProtocol) {
  Saved l1;
  Traced run = model.session([&](Session& session) {
    Proxy val = session.apply([](std::vector<Value>&, const Dict&) { return Value(0); });
    model.trace(x, [&] {
      model["layer1"].output().set({Slice()}, val);
      l1 = model["layer1"].output().save();
    });
  });
  EXPECT_TRUE(at::equal(l1.tensor(), at::zeros({1, 10})));
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(TinyApi, SequentialGraphBasedContextExit) {
  Saved l;
  Traced run = model.session([&](Session& session) {
    l = session.list().save();
    l.append(0);
    session.iter(list_of({1, 2, 3, 4}), [&](Proxy item) {
      session.cond(item == 3, [&] { session.stop(); });  // ends the loop only
      l.append(item);
    });
    l.append(5);
    session.stop();  // ends the session
    l.append(6);
  });
  EXPECT_EQ(ints(l.value()), (std::vector<int64_t>{0, 1, 2, 5}));
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(TinyApi, TracerStop) {
  Saved doubled;
  Traced run = model.trace(x, [&](Tracer& tracer) {
    Proxy l1 = model["layer1"].output();
    tracer.stop();
    doubled = (l1 * 2).save();
  });
  EXPECT_THROW(doubled.value(), Error);
  EXPECT_EQ(run.live_values(), 0u);
}

TEST_F(TinyApi, StopForwardPassInLoop) {
  Saved results;
  Traced run = model.session([&](Session& session) {
    results = session.list().save();
    session.iter(list_of({x, x * 2, x * 3}), [&](Proxy batch) {
      Proxy hs;
      model.trace(batch, [&] {
        hs = model["layer1"].output();
        hs.stop();
      });
      results.append(hs);
    });
  });
  ASSERT_EQ(results.value().items().size(), 3u);
  EXPECT_TRUE(at::allclose(results.value()[2].as_tensor(), net.hidden(x * 3)));
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(TinyApi, BridgedNodeCleanup) {
  Proxy l;
  Traced run = model.session([&](Session& session) {
    l = session.list();
    session.iter(list_of({0, 1, 2}), [&](Proxy item) {
      session.cond(item == 2, [&] { session.stop(); });
      l.append(item);
    });
  });
  EXPECT_THROW(l.value(), Error);
  EXPECT_EQ(run.live_values(), 0u);
}

TEST_F(TinyApi, NestedIterator) {
  Saved l2;
  Traced run = model.session([&](Session& session) {
    Proxy l = session.list().save();
    l.append(list_of({0}));
    l.append(list_of({1}));
    l.append(list_of({2}));
    l2 = session.list().save();
    session.iter(l, [&](Proxy item) { session.iter(item, [&](Proxy inner) { l2.append(inner); }); });
  });
  EXPECT_EQ(ints(l2.value()), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(run.live_values(), 2u);
}

TEST_F(TinyApi, NnsightBuiltins) {
  Saved a, b, c;
  Traced run = model.session([&](Session& session) {
    a = session.list().save();
    b = session.list().save();
    c = session.list().save();
    session.iter(list_of({a, b, c}), [&](Proxy item) {
      item.append(graph::record("int", {}));
      item.append("Hello World");
      Dict d;
      d.set("a", "1");
      item.append(graph::record("dict", {Value(d)}));
    });
  });
  EXPECT_EQ(a.value().repr(), "[0, 'Hello World', {'a': '1'}]");
  EXPECT_EQ(a.value().repr(), b.value().repr());
  EXPECT_EQ(b.value().repr(), c.value().repr());
  EXPECT_EQ(run.live_values(), 3u);
}

// C++ has no patched torch constructors; the analogue is calling them at run
// time on proxy-derived sizes through apply.
TEST_F(TinyApi, TorchCreationOperationsOnProxySizes) {
  Traced run = model.trace(x, [&](Tracer& tracer) {
    Proxy n = model["layer1"].output().size(1);
    auto make = [&](std::function<at::Tensor(int64_t)> fn) {
      tracer.apply([fn](std::vector<Value>& args, const Dict&) { return Value(fn(args[0].as_int())); }, {n});
    };
    make([](int64_t k) { return at::arange(k); });
    make([](int64_t k) { return at::empty({k}); });
    make([](int64_t k) { return at::eye(k); });
    make([](int64_t k) { return at::full({k}, 5.0); });
    make([](int64_t k) { return at::linspace(0, 1, k); });
    make([](int64_t k) { return at::ones({k}); });
    make([](int64_t k) { return at::rand({k}); });
    make([](int64_t k) { return at::randint(0, 4, {k}); });
    make([](int64_t k) { return at::randn({k}); });
    make([](int64_t k) { return at::randperm(k); });
    make([](int64_t k) { return at::zeros({k}); });
  });
  EXPECT_EQ(run.live_values(), 0u);
}

}  // namespace
}  // namespace nnsight
