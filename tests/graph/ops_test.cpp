// The op set on resolved Values: Python semantics for numbers and containers,
// torch semantics for tensors (checked against at:: results), error messages.

#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/tensor.h>
#include <gtest/gtest.h>

#include "nnsight/base/error.h"
#include "nnsight/graph/ops.h"

namespace nnsight::graph {
namespace {

Value run(std::string_view op, std::vector<Value> args, Dict kwargs = {}) {
  return ops::call(ops::require(op), args, kwargs);
}

std::string error_of(std::string_view op, std::vector<Value> args) {
  try {
    run(op, std::move(args));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

at::Tensor grid() { return at::arange(12, at::kFloat).view({3, 4}); }

TEST(Ops, PythonNumberSemantics) {
  EXPECT_EQ(run("add", {2, 3}).as_int(), 5);
  EXPECT_EQ(run("truediv", {7, 2}).as_double(), 3.5);
  EXPECT_EQ(run("floordiv", {-7, 2}).as_int(), -4);
  EXPECT_EQ(run("mod", {-7, 3}).as_int(), 2);
  EXPECT_EQ(run("pow", {2, 10}).as_int(), 1024);
  EXPECT_EQ(run("pow", {2, -1}).as_double(), 0.5);
  EXPECT_EQ(run("neg", {true}).as_int(), -1);
  EXPECT_TRUE(run("lt", {1, 1.5}).as_bool());
  EXPECT_TRUE(run("eq", {"a", "a"}).as_bool());
  EXPECT_TRUE(run("ne", {Value(), 0}).as_bool());
  EXPECT_EQ(run("and_", {true, false}).kind(), Value::Kind::Bool);
  EXPECT_EQ(run("or_", {6, 1}).as_int(), 7);
  EXPECT_FALSE(run("not_", {3}).as_bool());
  EXPECT_EQ(run("add", {Value::list({1}), Value::list({2})}).repr(), "[1, 2]");
  EXPECT_EQ(run("mul", {Value::tuple({1}), 2}).repr(), "(1, 1)");
  EXPECT_THROW(run("truediv", {1, 0}), Error);
}

TEST(Ops, TensorArithmeticFollowsTorchPromotion) {
  at::Tensor ints = at::arange(3);  // int64
  Value half = run("truediv", {Value(ints), 2});
  EXPECT_EQ(half.as_tensor().scalar_type(), at::kFloat);  // like Python: int tensor / int -> float32
  EXPECT_TRUE(at::allclose(half.as_tensor(), at::arange(3, at::kFloat) / 2));
  EXPECT_TRUE(at::equal(run("sub", {10, Value(ints)}).as_tensor(), 10 - ints));
  EXPECT_TRUE(at::equal(run("floordiv", {Value(at::tensor({-7, 7})), 2}).as_tensor(), at::tensor({-4, 3})));
  EXPECT_TRUE(at::equal(run("mod", {Value(at::tensor({-7})), 3}).as_tensor(), at::tensor({2})));
  EXPECT_TRUE(at::equal(run("gt", {Value(ints), 0}).as_tensor(), ints > 0));
  EXPECT_TRUE(at::equal(run("not_", {Value(ints > 0)}).as_tensor(), ints <= 0));
  EXPECT_TRUE(
      at::equal(run("and_", {Value(ints > 0), Value(ints < 2)}).as_tensor(), at::tensor({0, 1, 0}).to(at::kBool)));
  at::Tensor m = grid();
  EXPECT_TRUE(at::allclose(run("matmul", {Value(m), Value(m.t())}).as_tensor(), m.matmul(m.t())));
}

TEST(Ops, InPlaceOperatorsMutateTensors) {
  at::Tensor t = at::zeros({2});
  Value out = run("iadd", {Value(t), 3});
  EXPECT_TRUE(out.as_tensor().is_same(t));
  EXPECT_EQ(t.sum().item<float>(), 6.0f);
  EXPECT_EQ(run("iadd", {1, 2}).as_int(), 3);  // numbers are immutable: a new value
}

TEST(Ops, GetitemIndexesLikePython) {
  at::Tensor m = grid();
  auto get = [&](Value key) { return run("getitem", {Value(m), std::move(key)}).as_tensor(); };
  EXPECT_TRUE(at::equal(get(1), m[1]));
  EXPECT_TRUE(at::equal(get(Value::tuple({Slice{}, -1})), m.select(1, 3)));
  EXPECT_TRUE(at::equal(get(Value::tuple({Slice{0, std::nullopt, 2}})), m.slice(0, 0, 3, 2)));
  EXPECT_TRUE(at::equal(get(Value::tuple({Ellipsis{}, 0})), m.select(1, 0)));
  EXPECT_EQ(get(Value::tuple({Value(), Slice{}})).sizes(), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_TRUE(at::equal(get(Value::list({0, 2})), m.index_select(0, at::tensor({0, 2}))));
  EXPECT_TRUE(at::equal(get(Value(m > 5)), m.masked_select(m > 5)));
  Value l = Value::list({10, 20, 30, 40});
  EXPECT_EQ(run("getitem", {l, -1}).as_int(), 40);
  EXPECT_EQ(run("getitem", {l, Slice{std::nullopt, std::nullopt, -2}}).repr(), "[40, 20]");
  Dict d;
  d.set("k", 1);
  EXPECT_EQ(run("getitem", {Value(d), "k"}).as_int(), 1);
  EXPECT_THROW(run("getitem", {Value(d), "missing"}), Error);
}

TEST(Ops, SetitemWritesInPlace) {
  at::Tensor m = grid();
  run("setitem", {Value(m), Value::tuple({Slice{}, 0}), 0});
  EXPECT_EQ(m.select(1, 0).abs().sum().item<float>(), 0.0f);
  run("setitem", {Value(m), 2, Value(at::ones({4}))});
  EXPECT_TRUE(at::equal(m[2], at::ones({4})));
  Value l = Value::list({1, 2});
  run("setitem", {l, 0, "x"});
  EXPECT_EQ(l.repr(), "['x', 2]");
}

TEST(Ops, TensorMethods) {
  at::Tensor m = grid();
  Value v(m);
  Dict keep;
  keep.set("keepdim", true);
  EXPECT_TRUE(at::equal(run("sum", {v}).as_tensor(), m.sum()));
  EXPECT_TRUE(at::equal(run("sum", {v, -1}, keep).as_tensor(), m.sum(-1, true)));
  EXPECT_TRUE(at::allclose(run("mean", {v, Value::list({0, 1})}).as_tensor(), m.mean()));
  EXPECT_TRUE(at::allclose(run("norm", {v}).as_tensor(), m.norm()));
  EXPECT_TRUE(at::equal(run("argmax", {v, -1}).as_tensor(), m.argmax(-1)));
  EXPECT_TRUE(at::allclose(run("softmax", {v, -1}).as_tensor(), m.softmax(-1)));
  EXPECT_TRUE(at::allclose(run("log_softmax", {v, 0}).as_tensor(), m.log_softmax(0)));
  EXPECT_EQ(run("view", {v, 4, 3}).as_tensor().sizes(), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(run("reshape", {v, Value::list({-1})}).as_tensor().sizes(), (std::vector<int64_t>{12}));
  EXPECT_TRUE(at::equal(run("transpose", {v, 0, 1}).as_tensor(), m.t()));
  EXPECT_TRUE(at::equal(run("permute", {v, Value::list({1, 0})}).as_tensor(), m.t()));
  EXPECT_EQ(run("to", {v, "bfloat16"}).as_tensor().scalar_type(), at::kBFloat16);
  EXPECT_EQ(run("float", {Value(at::arange(3))}).as_tensor().scalar_type(), at::kFloat);
  EXPECT_EQ(run("size", {v}).repr(), "(3, 4)");
  EXPECT_EQ(run("size", {v, 1}).as_int(), 4);
  EXPECT_EQ(run("shape", {v}).repr(), "(3, 4)");
  Value top = run("topk", {v, 2});
  EXPECT_TRUE(at::equal(top[0].as_tensor(), std::get<0>(m.topk(2))));
  EXPECT_TRUE(at::equal(top[1].as_tensor(), std::get<1>(m.topk(2))));
  EXPECT_TRUE(at::equal(run("where", {Value(m > 5), v, 0}).as_tensor(), m * (m > 5)));
  EXPECT_TRUE(at::equal(run("cat", {Value::list({v, v}), 1}).as_tensor(), at::cat({m, m}, 1)));
  EXPECT_EQ(run("stack", {Value::list({v, v})}).as_tensor().sizes(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(run("max", {v}).as_tensor().item<float>(), 11.0f);
  EXPECT_TRUE(at::equal(run("max", {v, 1})[1].as_tensor(), m.argmax(1)));
  EXPECT_EQ(run("min", {Value::list({3, 1.5, 2})}).as_double(), 1.5);
  EXPECT_EQ(run("item", {Value(m[1][1])}).as_double(), 5.0);
  EXPECT_EQ(run("tolist", {Value(at::arange(3))}).repr(), "[0, 1, 2]");
  EXPECT_EQ(run("unsqueeze", {v, 0}).as_tensor().dim(), 3);
  EXPECT_EQ(run("flatten", {v}).as_tensor().dim(), 1);
  EXPECT_TRUE(at::equal(run("narrow", {v, 1, 1, 2}).as_tensor(), m.narrow(1, 1, 2)));
  at::Tensor z = m.clone();
  run("zero_", {Value(z)});
  EXPECT_EQ(z.abs().sum().item<float>(), 0.0f);
  run("add_", {Value(z), 2});
  EXPECT_EQ(z.sum().item<float>(), 24.0f);
  EXPECT_FALSE(run("clone", {v}).as_tensor().is_same(m));
}

TEST(Ops, Builtins) {
  EXPECT_EQ(run("list", {}).repr(), "[]");
  Value src = Value::list({1});
  Value copy = run("list", {src});
  run("append", {copy, 2});
  EXPECT_EQ(src.repr(), "[1]");  // list(x) is a new list
  EXPECT_EQ(copy.repr(), "[1, 2]");
  EXPECT_EQ(run("tuple", {Value::list({1, 2})}).repr(), "(1, 2)");
  Dict kw;
  kw.set("a", 1);
  EXPECT_EQ(run("dict", {}, kw).repr(), "{'a': 1}");
  EXPECT_EQ(run("int", {"42"}).as_int(), 42);
  EXPECT_EQ(run("int", {Value(at::tensor({3.7}))}).as_int(), 3);
  EXPECT_EQ(run("float", {"2.5"}).as_double(), 2.5);
  EXPECT_EQ(run("str", {1.5}).as_string(), "1.5");
  EXPECT_FALSE(run("bool", {Value::list()}).as_bool());
  EXPECT_EQ(run("len", {Value(grid())}).as_int(), 3);
  std::string printed;
  LogSink sink = [&](const std::string& s) { printed = s; };
  std::vector<Value> args{"x =", 3};
  ops::call(ops::require("print"), args, {}, &sink);
  EXPECT_EQ(printed, "x = 3");
  // Small tensors print their values (as Python's print does), large ones their shape.
  std::vector<Value> tensors{"gap", Value(at::scalar_tensor(0.25)), Value(at::tensor({1, 2, 3}, at::kLong)),
                             Value(at::zeros({2, 40}))};
  ops::call(ops::require("print"), tensors, {}, &sink);
  EXPECT_EQ(printed, "gap tensor(0.25) tensor([1, 2, 3]) Tensor[2, 40] Float");
}

TEST(Ops, UnknownOpListsCloseNames) {
  try {
    ops::require("softmx");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown op 'softmx'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("softmax"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ops::find("nope"), nullptr);
  auto names = ops::names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_GT(names.size(), 70u);
}

TEST(Ops, TypeErrorsNameOpArgumentAndKinds) {
  std::string msg = error_of("softmax", {Value("text"), -1});
  EXPECT_NE(msg.find("softmax: argument 1 is a str"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected a tensor"), std::string::npos) << msg;
  msg = error_of("add", {Value("a"), Value(at::ones({1}))});
  EXPECT_NE(msg.find("add: argument 1 is a str"), std::string::npos) << msg;
  msg = error_of("sum", {});
  EXPECT_NE(msg.find("sum: takes 1 to 3 positional argument(s), got 0"), std::string::npos) << msg;
  msg = error_of("to", {Value(at::ones({1})), "float8"});
  EXPECT_NE(msg.find("unknown dtype 'float8'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace nnsight::graph
