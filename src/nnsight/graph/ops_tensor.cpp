// Tensor methods of the op set. Argument 0 is the tensor (`self`); optional
// parameters follow torch's order and names and may be given as kwargs.

#include <ATen/ScalarOps.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>

#include "nnsight/base/error.h"
#include "nnsight/graph/ops.h"

namespace nnsight::graph {
namespace {

using K = Value::Kind;

std::optional<std::vector<int64_t>> dims_arg(const OpCall& c, std::size_t pos) {
  const Value* v = c.find(pos, "dim");
  if (v == nullptr || v->is_none()) return std::nullopt;
  if (v->kind() == K::Int) return std::vector<int64_t>{v->as_int()};
  if (v->is_sequence()) return c.int_list(pos, "dim");
  c.type_error(*v, "argument dim", "an int, a list of ints or None");
}

std::vector<at::Tensor> tensor_list(const OpCall& c, std::size_t pos) {
  const Value& v = c.need(pos, "tensors");
  if (!v.is_sequence()) c.type_error(v, "argument " + std::to_string(pos + 1), "a list of tensors");
  std::vector<at::Tensor> out;
  for (const auto& item : v.items()) {
    if (!item.is_tensor()) c.type_error(item, "an element of argument " + std::to_string(pos + 1), "a tensor");
    out.push_back(item.as_tensor());
  }
  return out;
}

at::Scalar scalar_arg(const OpCall& c, std::size_t pos, const char* name) {
  const Value& v = c.need(pos, name);
  if (v.kind() == K::Float) return at::Scalar(v.as_double());
  if (v.kind() == K::Bool) return at::Scalar(v.as_bool());
  if (v.kind() == K::Int) return at::Scalar(v.as_int());
  c.type_error(v, std::string("argument ") + name, "a number");
}

Value scalar_value(const at::Scalar& s) {
  if (s.isBoolean()) return Value(s.toBool());
  if (s.isIntegral(false)) return Value(s.toLong());
  return Value(s.toDouble());
}

Value int_tuple(at::IntArrayRef sizes) {
  std::vector<Value> out;
  out.reserve(sizes.size());
  for (int64_t s : sizes) out.emplace_back(s);
  return Value::tuple(std::move(out));
}

Value to_list(const at::Tensor& t) {
  if (t.dim() == 0) return scalar_value(t.item());
  std::vector<Value> out;
  out.reserve(static_cast<std::size_t>(t.size(0)));
  for (int64_t i = 0; i < t.size(0); ++i) out.push_back(to_list(t.select(0, i)));
  return Value::list(std::move(out));
}

Value pair(std::tuple<at::Tensor, at::Tensor> p) {
  return Value::tuple({Value(std::get<0>(p)), Value(std::get<1>(p))});
}

c10::ScalarType parse_dtype(const OpCall& c, const std::string& name) {
  static const std::pair<const char*, c10::ScalarType> table[] = {
      {"float32", at::kFloat},     {"float", at::kFloat},  {"float64", at::kDouble}, {"double", at::kDouble},
      {"bfloat16", at::kBFloat16}, {"float16", at::kHalf}, {"half", at::kHalf},      {"int64", at::kLong},
      {"long", at::kLong},         {"int32", at::kInt},    {"int", at::kInt},        {"int16", at::kShort},
      {"int8", at::kChar},         {"uint8", at::kByte},   {"bool", at::kBool}};
  std::string n = name.rfind("torch.", 0) == 0 ? name.substr(6) : name;
  for (const auto& [key, type] : table)
    if (n == key) return type;
  throw Error(std::string(c.op.name) + ": unknown dtype '" + name + "'", {},
              "use one of float32, float64, bfloat16, float16, int64, int32, int16, int8, uint8, bool");
}

#define NNSIGHT_UNARY(fn_name, expr)           \
  Value fn_name(OpCall& c) {                   \
    const at::Tensor& t = c.tensor(0, "self"); \
    return Value(expr);                        \
  }

NNSIGHT_UNARY(clone_fn, t.clone())
NNSIGHT_UNARY(detach_fn, t.detach())
NNSIGHT_UNARY(contiguous_fn, t.contiguous())
NNSIGHT_UNARY(exp_fn, t.exp())
NNSIGHT_UNARY(log_fn, t.log())
NNSIGHT_UNARY(zeros_like_fn, at::zeros_like(t))
NNSIGHT_UNARY(ones_like_fn, at::ones_like(t))
NNSIGHT_UNARY(shape_fn, int_tuple(t.sizes()))
NNSIGHT_UNARY(tolist_fn, to_list(t))
#undef NNSIGHT_UNARY

Value sum_fn(OpCall& c) {
  const at::Tensor& t = c.tensor(0, "self");
  auto dims = dims_arg(c, 1);
  if (!dims) return Value(t.sum());
  return Value(t.sum(*dims, c.flag_or(2, "keepdim", false)));
}

Value mean_fn(OpCall& c) {
  const at::Tensor& t = c.tensor(0, "self");
  auto dims = dims_arg(c, 1);
  if (!dims) return Value(t.mean());
  return Value(t.mean(*dims, c.flag_or(2, "keepdim", false)));
}

Value norm_fn(OpCall& c) {
  const at::Tensor& t = c.tensor(0, "self");
  at::Scalar p = c.find(1, "p") && !c.find(1, "p")->is_none() ? scalar_arg(c, 1, "p") : at::Scalar(2);
  auto dims = dims_arg(c, 2);
  if (!dims) return Value(t.norm(p));
  return Value(t.norm(p, *dims, c.flag_or(3, "keepdim", false)));
}

Value argmax_fn(OpCall& c) {
  const at::Tensor& t = c.tensor(0, "self");
  const Value* d = c.find(1, "dim");
  c10::optional<int64_t> dim;
  if (d != nullptr && !d->is_none()) dim = c.integer(1, "dim");
  return Value(t.argmax(dim, c.flag_or(2, "keepdim", false)));
}

Value softmax_fn(OpCall& c) { return Value(c.tensor(0, "self").softmax(c.integer(1, "dim"))); }
Value log_softmax_fn(OpCall& c) { return Value(c.tensor(0, "self").log_softmax(c.integer(1, "dim"))); }
Value cat_fn(OpCall& c) { return Value(at::cat(tensor_list(c, 0), c.integer_or(1, "dim", 0))); }
Value stack_fn(OpCall& c) { return Value(at::stack(tensor_list(c, 0), c.integer_or(1, "dim", 0))); }
Value view_fn(OpCall& c) { return Value(c.tensor(0, "self").view(c.int_list(1, "shape"))); }
Value reshape_fn(OpCall& c) { return Value(c.tensor(0, "self").reshape(c.int_list(1, "shape"))); }
Value permute_fn(OpCall& c) { return Value(c.tensor(0, "self").permute(c.int_list(1, "dims"))); }
Value transpose_fn(OpCall& c) {
  return Value(c.tensor(0, "self").transpose(c.integer(1, "dim0"), c.integer(2, "dim1")));
}
Value unsqueeze_fn(OpCall& c) { return Value(c.tensor(0, "self").unsqueeze(c.integer(1, "dim"))); }
Value squeeze_fn(OpCall& c) {
  const at::Tensor& t = c.tensor(0, "self");
  const Value* d = c.find(1, "dim");
  return Value(d == nullptr || d->is_none() ? t.squeeze() : t.squeeze(c.integer(1, "dim")));
}
Value flatten_fn(OpCall& c) {
  return Value(c.tensor(0, "self").flatten(c.integer_or(1, "start_dim", 0), c.integer_or(2, "end_dim", -1)));
}
Value narrow_fn(OpCall& c) {
  return Value(c.tensor(0, "self").narrow(c.integer(1, "dim"), c.integer(2, "start"), c.integer(3, "length")));
}
Value index_select_fn(OpCall& c) {
  return Value(c.tensor(0, "self").index_select(c.integer(1, "dim"), c.tensor(2, "index")));
}

Value to_fn(OpCall& c) {
  const at::Tensor& t = c.tensor(0, "self");
  const Value& target = c.need(1, "dtype");
  if (target.is_tensor()) return Value(t.to(target.as_tensor()));
  if (target.kind() != K::String) c.type_error(1, "a dtype name (e.g. \"float32\") or a tensor");
  if (target.as_string() == "cpu") return Value(t);
  return Value(t.to(parse_dtype(c, target.as_string())));
}

Value size_fn(OpCall& c) {
  const at::Tensor& t = c.tensor(0, "self");
  const Value* d = c.find(1, "dim");
  if (d == nullptr || d->is_none()) return int_tuple(t.sizes());
  return Value(t.size(c.integer(1, "dim")));
}

Value topk_fn(OpCall& c) {
  const at::Tensor& t = c.tensor(0, "self");
  return pair(t.topk(c.integer(1, "k"), c.integer_or(2, "dim", -1), c.flag_or(3, "largest", true),
                     c.flag_or(4, "sorted", true)));
}

Value where_fn(OpCall& c) {
  const at::Tensor& cond = c.tensor(0, "condition");
  const Value& x = c.need(1, "input");
  const Value& y = c.need(2, "other");
  auto scalar = [&](const Value& v, std::size_t pos) -> at::Scalar {
    if (!v.is_number()) c.type_error(pos, "a tensor or number");
    return scalar_arg(c, pos, "value");
  };
  if (x.is_tensor() && y.is_tensor()) return Value(at::where(cond, x.as_tensor(), y.as_tensor()));
  if (x.is_tensor()) return Value(at::where(cond, x.as_tensor(), scalar(y, 2)));
  if (y.is_tensor()) return Value(at::where(cond, scalar(x, 1), y.as_tensor()));
  return Value(at::where(cond, scalar(x, 1), scalar(y, 2)));
}

/// max/min: of a tensor, along a dim (values, indices), elementwise with a
/// tensor, or Python's max/min of a list of numbers.
template <bool is_max>
Value extreme_fn(OpCall& c) {
  const Value& a = c.args[0];
  if (a.is_sequence()) {
    if (a.items().empty()) throw Error(std::string(c.op.name) + ": empty sequence");
    Value best = a.items()[0];
    for (const auto& item : a.items()) {
      if (!item.is_number()) c.type_error(item, "an element of argument 1", "a number");
      if (is_max ? item.as_double() > best.as_double() : item.as_double() < best.as_double()) best = item;
    }
    return best;
  }
  const at::Tensor& t = c.tensor(0, "self");
  const Value* other = c.find(1, "dim");
  if (other == nullptr || other->is_none()) return Value(is_max ? t.max() : t.min());
  if (other->is_tensor()) return Value(is_max ? t.maximum(other->as_tensor()) : t.minimum(other->as_tensor()));
  int64_t dim = c.integer(1, "dim");
  bool keep = c.flag_or(2, "keepdim", false);
  return pair(is_max ? t.max(dim, keep) : t.min(dim, keep));
}

Value item_fn(OpCall& c) {
  const at::Tensor& t = c.tensor(0, "self");
  if (t.numel() != 1)
    throw Error("item: the tensor has " + std::to_string(t.numel()) + " elements; only one-element tensors convert");
  return scalar_value(t.item());
}

Value requires_grad_fn(OpCall& c) {
  Value& self = c.args[0];
  c.tensor(0, "self");
  self.as_tensor().requires_grad_(c.flag_or(1, "requires_grad", true));
  return self;
}

Value retain_grad_fn(OpCall& c) {
  c.tensor(0, "self").retain_grad();
  return Value();
}

/// backward(self, gradient=None, retain_graph=False): a backward pass from
/// self; Grad nodes recorded before it receive their gradients during it.
Value backward_fn(OpCall& c) {
  const at::Tensor& self = c.tensor(0, "self");
  at::Tensor gradient;
  if (const Value* g = c.find(1, "gradient"); g != nullptr && !g->is_none()) gradient = c.tensor(1, "gradient");
  if (!self.requires_grad())
    throw Error("backward() of a value that does not require gradients", {},
                "call backward() on a value computed from module values of the trace (e.g. the model's output)");
  if (!gradient.defined() && self.numel() != 1)
    throw Error("backward() of a tensor of shape " + format_shape(self.sizes()) + " needs a gradient argument", {},
                "reduce it to one number first (e.g. .sum()), or pass the gradient of the same shape");
  const bool retain = c.flag_or(2, "retain_graph", false);
  self.backward(gradient, retain);
  return Value();
}

template <int which>
Value inplace_binary_fn(OpCall& c) {
  Value& self = c.args[0];
  at::Tensor t = c.tensor(0, "self");
  const Value& other = c.need(1, "other");
  at::Tensor o;
  if (other.is_tensor())
    o = other.as_tensor();
  else if (other.is_number())
    o = at::native::wrapped_scalar_tensor(scalar_arg(c, 1, "other"), t.device());
  else
    c.type_error(1, "a tensor or number");
  switch (which) {
    case 0: t.add_(o); break;
    case 1: t.sub_(o); break;
    case 2: t.mul_(o); break;
    default: t.div_(o); break;
  }
  return self;
}

Value zero_fn(OpCall& c) {
  c.tensor(0, "self").zero_();
  return c.args[0];
}

Value fill_fn(OpCall& c) {
  at::Tensor t = c.tensor(0, "self");
  const Value& v = c.need(1, "value");
  if (v.is_tensor())
    t.fill_(v.as_tensor());
  else
    t.fill_(scalar_arg(c, 1, "value"));
  return c.args[0];
}

}  // namespace

void ops::register_tensor(std::vector<OpInfo>& t) {
  t.push_back({"clone", clone_fn, 1, 1, false});
  t.push_back({"detach", detach_fn, 1, 1, false});
  t.push_back({"contiguous", contiguous_fn, 1, 1, false});
  t.push_back({"exp", exp_fn, 1, 1, false});
  t.push_back({"log", log_fn, 1, 1, false});
  t.push_back({"zeros_like", zeros_like_fn, 1, 1, false});
  t.push_back({"ones_like", ones_like_fn, 1, 1, false});
  t.push_back({"shape", shape_fn, 1, 1, false});
  t.push_back({"tolist", tolist_fn, 1, 1, false});
  t.push_back({"sum", sum_fn, 1, 3, false});
  t.push_back({"mean", mean_fn, 1, 3, false});
  t.push_back({"norm", norm_fn, 1, 4, false});
  t.push_back({"argmax", argmax_fn, 1, 3, false});
  t.push_back({"softmax", softmax_fn, 1, 2, false});
  t.push_back({"log_softmax", log_softmax_fn, 1, 2, false});
  t.push_back({"cat", cat_fn, 1, 2, false});
  t.push_back({"stack", stack_fn, 1, 2, false});
  t.push_back({"view", view_fn, 1, -1, false});
  t.push_back({"reshape", reshape_fn, 1, -1, false});
  t.push_back({"permute", permute_fn, 1, -1, false});
  t.push_back({"transpose", transpose_fn, 1, 3, false});
  t.push_back({"unsqueeze", unsqueeze_fn, 1, 2, false});
  t.push_back({"squeeze", squeeze_fn, 1, 2, false});
  t.push_back({"flatten", flatten_fn, 1, 3, false});
  t.push_back({"narrow", narrow_fn, 1, 4, false});
  t.push_back({"index_select", index_select_fn, 1, 3, false});
  t.push_back({"to", to_fn, 1, 2, false});
  t.push_back({"size", size_fn, 1, 2, false});
  t.push_back({"topk", topk_fn, 1, 5, false});
  t.push_back({"where", where_fn, 1, 3, false});
  t.push_back({"max", extreme_fn<true>, 1, 3, false});
  t.push_back({"min", extreme_fn<false>, 1, 3, false});
  t.push_back({"item", item_fn, 1, 1, false});
  t.push_back({"requires_grad_", requires_grad_fn, 1, 2, true, GradUse::Marks});
  t.push_back({"retain_grad", retain_grad_fn, 1, 1, true, GradUse::Marks});
  t.push_back({"backward", backward_fn, 1, 3, false, GradUse::Backward});
  t.push_back({"add_", inplace_binary_fn<0>, 1, 2, true});
  t.push_back({"sub_", inplace_binary_fn<1>, 1, 2, true});
  t.push_back({"mul_", inplace_binary_fn<2>, 1, 2, true});
  t.push_back({"div_", inplace_binary_fn<3>, 1, 2, true});
  t.push_back({"zero_", zero_fn, 1, 1, true});
  t.push_back({"fill_", fill_fn, 1, 2, true});
}

}  // namespace nnsight::graph
