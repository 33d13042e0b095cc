// Arithmetic, comparison and logical ops on Values, with Python semantics for
// numbers, strings and sequences and torch semantics (type promotion included:
// numbers become wrapped scalars) as soon as a tensor is involved.

#include <ATen/ScalarOps.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/bitwise_not.h>
#include <ATen/ops/logical_not.h>
#include <ATen/ops/matmul.h>

#include <cmath>

#include "nnsight/base/error.h"
#include "nnsight/graph/ops.h"

namespace nnsight::graph {
namespace {

using K = Value::Kind;

enum class Bin { Add, Sub, Mul, TrueDiv, FloorDiv, Mod, Pow, MatMul, And, Or, Xor, Eq, Ne, Lt, Le, Gt, Ge };

at::Scalar to_scalar(const Value& v) {
  switch (v.kind()) {
    case K::Bool: return at::Scalar(v.as_bool());
    case K::Int: return at::Scalar(v.as_int());
    default: return at::Scalar(v.as_double());
  }
}

/// A number as a 0-dim "wrapped number" tensor: it promotes like a Python scalar.
at::Tensor wrapped(const Value& v, const at::Tensor& like) {
  return at::native::wrapped_scalar_tensor(to_scalar(v), like.device());
}

at::Tensor tensor_binary(Bin op, const at::Tensor& a, const at::Tensor& b) {
  switch (op) {
    case Bin::Add: return a.add(b);
    case Bin::Sub: return a.sub(b);
    case Bin::Mul: return a.mul(b);
    case Bin::TrueDiv: return a.div(b);
    case Bin::FloorDiv: return a.div(b, "floor");
    case Bin::Mod: return a.remainder(b);
    case Bin::Pow: return a.pow(b);
    case Bin::MatMul: return a.matmul(b);
    case Bin::And: return a.bitwise_and(b);
    case Bin::Or: return a.bitwise_or(b);
    case Bin::Xor: return a.bitwise_xor(b);
    case Bin::Eq: return a.eq(b);
    case Bin::Ne: return a.ne(b);
    case Bin::Lt: return a.lt(b);
    case Bin::Le: return a.le(b);
    case Bin::Gt: return a.gt(b);
    case Bin::Ge: return a.ge(b);
  }
  return {};
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Value number_binary(const OpCall& c, Bin op, const Value& a, const Value& b) {
  const bool floating = a.kind() == K::Float || b.kind() == K::Float;
  const bool both_bool = a.kind() == K::Bool && b.kind() == K::Bool;
  if (op == Bin::Eq || op == Bin::Ne || op == Bin::Lt || op == Bin::Le || op == Bin::Gt || op == Bin::Ge) {
    int cmp;
    if (floating) {
      double x = a.as_double(), y = b.as_double();
      cmp = x < y ? -1 : (x > y ? 1 : 0);
    } else {
      int64_t x = a.as_int(), y = b.as_int();
      cmp = x < y ? -1 : (x > y ? 1 : 0);
    }
    switch (op) {
      case Bin::Eq: return Value(cmp == 0);
      case Bin::Ne: return Value(cmp != 0);
      case Bin::Lt: return Value(cmp < 0);
      case Bin::Le: return Value(cmp <= 0);
      case Bin::Gt: return Value(cmp > 0);
      default: return Value(cmp >= 0);
    }
  }
  if (op == Bin::And || op == Bin::Or || op == Bin::Xor) {
    if (floating) throw Error(std::string(c.op.name) + ": bitwise operation on a float");
    int64_t x = a.as_int(), y = b.as_int();
    int64_t r = op == Bin::And ? (x & y) : op == Bin::Or ? (x | y) : (x ^ y);
    return both_bool ? Value(r != 0) : Value(r);
  }
  if (op == Bin::MatMul) throw Error(std::string(c.op.name) + ": matmul needs tensors, got numbers");
  if ((op == Bin::TrueDiv || op == Bin::FloorDiv || op == Bin::Mod) && b.as_double() == 0.0)
    throw Error(std::string(c.op.name) + ": division by zero");
  if (op == Bin::TrueDiv) return Value(a.as_double() / b.as_double());
  if (floating) {
    double x = a.as_double(), y = b.as_double();
    switch (op) {
      case Bin::Add: return Value(x + y);
      case Bin::Sub: return Value(x - y);
      case Bin::Mul: return Value(x * y);
      case Bin::FloorDiv: return Value(std::floor(x / y));
      case Bin::Mod: {
        double r = std::fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return Value(r);
      }
      default: return Value(std::pow(x, y));
    }
  }
  int64_t x = a.as_int(), y = b.as_int();
  switch (op) {
    case Bin::Add: return Value(x + y);
    case Bin::Sub: return Value(x - y);
    case Bin::Mul: return Value(x * y);
    case Bin::FloorDiv: return Value(floor_div(x, y));
    case Bin::Mod: return Value(x - floor_div(x, y) * y);
    default: {
      if (y < 0) return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
      int64_t r = 1;
      for (int64_t i = 0; i < y; ++i) r *= x;
      return Value(r);
    }
  }
}

Value repeat(const Value& seq, int64_t times) {
  std::vector<Value> out;
  for (int64_t i = 0; i < times; ++i)
    for (const auto& item : seq.items()) out.push_back(item);
  return seq.kind() == K::List ? Value::list(std::move(out)) : Value::tuple(std::move(out));
}

Value binary(OpCall& c, Bin op) {
  const Value& a = c.args[0];
  const Value& b = c.args[1];
  if (a.is_tensor() || b.is_tensor()) {
    auto operand = [&](const Value& v, std::size_t pos, const at::Tensor& like) -> at::Tensor {
      if (v.is_tensor()) return v.as_tensor();
      if (v.is_number()) return wrapped(v, like);
      c.type_error(pos, "a tensor or number");
    };
    const at::Tensor& like = a.is_tensor() ? a.as_tensor() : b.as_tensor();
    return Value(tensor_binary(op, operand(a, 0, like), operand(b, 1, like)));
  }
  if (a.is_number() && b.is_number()) return number_binary(c, op, a, b);
  // Non-numeric Python values.
  if (op == Bin::Eq) return Value(ops::values_equal(a, b));
  if (op == Bin::Ne) return Value(!ops::values_equal(a, b));
  if (a.kind() == K::String && b.kind() == K::String) {
    const auto& x = a.as_string();
    const auto& y = b.as_string();
    switch (op) {
      case Bin::Add: return Value(x + y);
      case Bin::Lt: return Value(x < y);
      case Bin::Le: return Value(x <= y);
      case Bin::Gt: return Value(x > y);
      case Bin::Ge: return Value(x >= y);
      default: break;
    }
  }
  if (op == Bin::Add && a.is_sequence() && b.kind() == a.kind()) {
    std::vector<Value> out = a.items();
    out.insert(out.end(), b.items().begin(), b.items().end());
    return a.kind() == K::List ? Value::list(std::move(out)) : Value::tuple(std::move(out));
  }
  if (op == Bin::Mul && a.is_sequence() && b.kind() == K::Int) return repeat(a, b.as_int());
  if (op == Bin::Mul && b.is_sequence() && a.kind() == K::Int) return repeat(b, a.as_int());
  throw Error(std::string(c.op.name) + ": unsupported operand kinds " + Value::kind_name(a.kind()) + " and " +
              Value::kind_name(b.kind()) + " (" + a.repr() + ", " + b.repr() + ")");
}

template <Bin op>
Value bin_fn(OpCall& c) {
  return binary(c, op);
}

/// `x op= y`: in place on a tensor left operand (the model's activation is
/// mutated, as in Python), otherwise the plain binary op.
template <Bin op>
Value inplace_fn(OpCall& c) {
  Value& a = c.args[0];
  if (!a.is_tensor()) return binary(c, op);
  at::Tensor& t = a.as_tensor();
  const Value& b = c.args[1];
  if (!b.is_tensor() && !b.is_number()) c.type_error(1, "a tensor or number");
  at::Tensor other = b.is_tensor() ? b.as_tensor() : wrapped(b, t);
  switch (op) {
    case Bin::Add: t.add_(other); break;
    case Bin::Sub: t.sub_(other); break;
    case Bin::Mul: t.mul_(other); break;
    default: t.div_(other); break;
  }
  return a;
}

Value neg_fn(OpCall& c) {
  const Value& a = c.args[0];
  if (a.is_tensor()) return Value(a.as_tensor().neg());
  if (a.kind() == K::Float) return Value(-a.as_double());
  if (a.kind() == K::Int || a.kind() == K::Bool) return Value(-a.as_int());
  c.type_error(0, "a tensor or number");
}

Value pos_fn(OpCall& c) {
  const Value& a = c.args[0];
  if (!a.is_tensor() && !a.is_number()) c.type_error(0, "a tensor or number");
  return a.kind() == K::Bool ? Value(a.as_int()) : a;
}

Value abs_fn(OpCall& c) {
  const Value& a = c.args[0];
  if (a.is_tensor()) return Value(a.as_tensor().abs());
  if (a.kind() == K::Float) return Value(std::fabs(a.as_double()));
  if (a.kind() == K::Int || a.kind() == K::Bool) return Value(std::abs(a.as_int()));
  c.type_error(0, "a tensor or number");
}

Value not_fn(OpCall& c) {
  const Value& a = c.args[0];
  // Elementwise on tensors (torch.logical_not); Python `not` for everything else.
  if (a.is_tensor()) return Value(at::logical_not(a.as_tensor()));
  return Value(!ops::truthy(a));
}

Value invert_fn(OpCall& c) {
  const Value& a = c.args[0];
  if (a.is_tensor()) return Value(at::bitwise_not(a.as_tensor()));
  if (a.kind() == K::Bool) return Value(!a.as_bool());  // torch's ~ on bools, not Python's -2
  if (a.kind() == K::Int) return Value(~a.as_int());
  c.type_error(0, "a tensor, int or bool");
}

}  // namespace

void ops::register_arith(std::vector<OpInfo>& t) {
  t.push_back({"add", bin_fn<Bin::Add>, 2, 2, false});
  t.push_back({"sub", bin_fn<Bin::Sub>, 2, 2, false});
  t.push_back({"mul", bin_fn<Bin::Mul>, 2, 2, false});
  t.push_back({"truediv", bin_fn<Bin::TrueDiv>, 2, 2, false});
  t.push_back({"floordiv", bin_fn<Bin::FloorDiv>, 2, 2, false});
  t.push_back({"mod", bin_fn<Bin::Mod>, 2, 2, false});
  t.push_back({"pow", bin_fn<Bin::Pow>, 2, 2, false});
  t.push_back({"matmul", bin_fn<Bin::MatMul>, 2, 2, false});
  t.push_back({"and_", bin_fn<Bin::And>, 2, 2, false});
  t.push_back({"or_", bin_fn<Bin::Or>, 2, 2, false});
  t.push_back({"xor_", bin_fn<Bin::Xor>, 2, 2, false});
  t.push_back({"eq", bin_fn<Bin::Eq>, 2, 2, false});
  t.push_back({"ne", bin_fn<Bin::Ne>, 2, 2, false});
  t.push_back({"lt", bin_fn<Bin::Lt>, 2, 2, false});
  t.push_back({"le", bin_fn<Bin::Le>, 2, 2, false});
  t.push_back({"gt", bin_fn<Bin::Gt>, 2, 2, false});
  t.push_back({"ge", bin_fn<Bin::Ge>, 2, 2, false});
  t.push_back({"iadd", inplace_fn<Bin::Add>, 2, 2, true});
  t.push_back({"isub", inplace_fn<Bin::Sub>, 2, 2, true});
  t.push_back({"imul", inplace_fn<Bin::Mul>, 2, 2, true});
  t.push_back({"itruediv", inplace_fn<Bin::TrueDiv>, 2, 2, true});
  t.push_back({"neg", neg_fn, 1, 1, false});
  t.push_back({"pos", pos_fn, 1, 1, false});
  t.push_back({"abs", abs_fn, 1, 1, false});
  t.push_back({"not_", not_fn, 1, 1, false});
  t.push_back({"invert", invert_fn, 1, 1, false});
}

}  // namespace nnsight::graph
