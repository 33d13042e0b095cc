// Python builtins on Values (list, dict, tuple, int, float, str, bool, len,
// list.append) and `print`, plus the truthiness / equality / str helpers the
// other op files and the executor share.

#include <ATen/core/Tensor.h>

#include <charconv>
#include <sstream>

#include "nnsight/base/error.h"
#include "nnsight/graph/ops.h"

namespace nnsight::graph {

using K = Value::Kind;

bool ops::truthy(const Value& v) {
  switch (v.kind()) {
    case K::None: return false;
    case K::Bool:
    case K::Int: return v.as_int() != 0;
    case K::Float: return v.as_double() != 0.0;
    case K::String: return !v.as_string().empty();
    case K::List:
    case K::Tuple: return !v.items().empty();
    case K::Dict: return v.as_dict().size() != 0;
    case K::Tensor: {
      const at::Tensor& t = v.as_tensor();
      if (t.numel() != 1)
        throw Error("the truth value of a tensor with " + std::to_string(t.numel()) + " elements is ambiguous", {},
                    "reduce it first, e.g. with .all(), .any() via sum, or index one element");
      return t.item().toDouble() != 0.0;
    }
    default: return true;
  }
}

bool ops::values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_double() == b.as_double();
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::None:
    case K::Ellipsis: return true;
    case K::String: return a.as_string() == b.as_string();
    case K::Tensor: return a.as_tensor().is_same(b.as_tensor());
    case K::Slice: return a.as_slice() == b.as_slice();
    case K::Ref: return a.as_ref() == b.as_ref();
    case K::List:
    case K::Tuple: {
      if (a.items().size() != b.items().size()) return false;
      for (std::size_t i = 0; i < a.items().size(); ++i)
        if (!values_equal(a.items()[i], b.items()[i])) return false;
      return true;
    }
    case K::Dict: {
      const Dict& x = a.as_dict();
      const Dict& y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const Value* other = y.find(x.keys[i]);
        if (other == nullptr || !values_equal(x.values[i], *other)) return false;
      }
      return true;
    }
    default: return false;
  }
}

namespace {

/// "tensor(0.25)" / "tensor([1, 2, 3])" for small tensors, as Python's print shows them (values in
/// logs are what a print is for); larger ones by shape and dtype.
std::string small_tensor_text(const at::Tensor& t) {
  constexpr int64_t kMaxPrinted = 16;
  if (!t.defined() || t.is_meta() || t.dim() > 1 || t.numel() > kMaxPrinted || t.is_complex()) return {};
  const at::Tensor values = t.detach().to(at::kDouble).contiguous();
  const double* data = values.data_ptr<double>();
  const bool integral = !at::isFloatingType(t.scalar_type());
  auto number = [&](double x) {
    std::ostringstream os;
    if (integral) {
      os << static_cast<int64_t>(x);
    } else {
      os.precision(6);
      os << x;
    }
    return os.str();
  };
  if (t.dim() == 0) return "tensor(" + number(data[0]) + ")";
  std::string out = "tensor([";
  for (int64_t i = 0; i < t.numel(); ++i) out += (i ? ", " : "") + number(data[i]);
  return out + "])";
}

}  // namespace

std::string ops::to_str(const Value& v) {
  if (v.kind() == K::String) return v.as_string();
  if (v.is_tensor()) {
    std::string small = small_tensor_text(v.as_tensor());
    if (!small.empty()) return small;
  }
  return v.repr();
}

namespace {

std::vector<Value> as_items(OpCall& c, const Value& v) {
  if (v.is_sequence()) return v.items();
  if (v.kind() == K::Dict) {
    std::vector<Value> keys;
    for (const auto& k : v.as_dict().keys) keys.emplace_back(k);
    return keys;
  }
  if (v.kind() == K::String) {
    std::vector<Value> chars;
    for (char ch : v.as_string()) chars.emplace_back(std::string(1, ch));
    return chars;
  }
  if (v.is_tensor()) {
    std::vector<Value> rows;
    const at::Tensor& t = v.as_tensor();
    if (t.dim() == 0) c.type_error(0, "an iterable (a 0-d tensor is not)");
    for (int64_t i = 0; i < t.size(0); ++i) rows.emplace_back(t.select(0, i));
    return rows;
  }
  c.type_error(0, "an iterable (list, tuple, dict, str or tensor)");
}

Value list_fn(OpCall& c) {
  if (c.size() == 0) return Value::list();
  return Value::list(as_items(c, c.args[0]));  // a new list, as Python's list(x)
}

Value tuple_fn(OpCall& c) {
  if (c.size() == 0) return Value::tuple();
  return Value::tuple(as_items(c, c.args[0]));
}

Value dict_fn(OpCall& c) {
  Dict out;
  if (c.size() == 1) {
    const Value& v = c.args[0];
    if (v.kind() != K::Dict) c.type_error(0, "a dict");
    out = v.deep_copy().as_dict();
  }
  for (std::size_t i = 0; i < c.kwargs.size(); ++i) out.set(c.kwargs.keys[i], c.kwargs.values[i]);
  return Value(std::move(out));
}

Value int_fn(OpCall& c) {
  if (c.size() == 0) return Value(int64_t{0});
  const Value& v = c.args[0];
  switch (v.kind()) {
    case K::Bool:
    case K::Int: return Value(v.as_int());
    case K::Float: return Value(static_cast<int64_t>(v.as_double()));
    case K::Tensor: {
      if (v.as_tensor().numel() != 1) c.type_error(0, "a one-element tensor");
      at::Scalar s = v.as_tensor().item();
      return Value(s.isFloatingPoint() ? static_cast<int64_t>(s.toDouble()) : s.toLong());
    }
    case K::String: {
      const std::string& s = v.as_string();
      int64_t out = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
      if (ec != std::errc() || end != s.data() + s.size()) throw Error("int: invalid literal '" + s + "'");
      return Value(out);
    }
    default: c.type_error(0, "a number, string or one-element tensor");
  }
}

/// "float": torch's Tensor.float() on a tensor (use "item" for a number),
/// Python's float() on numbers and strings.
Value float_fn(OpCall& c) {
  if (c.size() == 0) return Value(0.0);
  const Value& v = c.args[0];
  if (v.is_number()) return Value(v.as_double());
  if (v.is_tensor()) return Value(v.as_tensor().to(at::kFloat));
  if (v.kind() == K::String) {
    try {
      std::size_t used = 0;
      double d = std::stod(v.as_string(), &used);
      if (used == v.as_string().size()) return Value(d);
    } catch (const std::exception&) {
    }
    throw Error("float: invalid literal '" + v.as_string() + "'");
  }
  c.type_error(0, "a number, string or one-element tensor");
}

Value str_fn(OpCall& c) { return Value(c.size() == 0 ? std::string() : ops::to_str(c.args[0])); }
Value bool_fn(OpCall& c) { return Value(c.size() == 0 ? false : ops::truthy(c.args[0])); }

Value len_fn(OpCall& c) {
  const Value& v = c.args[0];
  if (v.is_sequence()) return Value(static_cast<int64_t>(v.items().size()));
  if (v.kind() == K::Dict) return Value(static_cast<int64_t>(v.as_dict().size()));
  if (v.kind() == K::String) return Value(static_cast<int64_t>(v.as_string().size()));
  if (v.is_tensor() && v.as_tensor().dim() > 0) return Value(v.as_tensor().size(0));
  c.type_error(0, "a list, tuple, dict, str or tensor with at least one dimension");
}

Value append_fn(OpCall& c) {
  Value& l = c.args[0];
  if (l.kind() != K::List) c.type_error(0, "a list");
  l.items().push_back(c.args[1]);  // in place: every holder of this list sees the item
  return Value();
}

Value print_fn(OpCall& c) {
  std::string line;
  for (std::size_t i = 0; i < c.size(); ++i) line += (i ? " " : "") + ops::to_str(c.args[i]);
  if (c.log != nullptr && *c.log)
    (*c.log)(line);
  else
    std::printf("%s\n", line.c_str());
  return Value();
}

}  // namespace

void ops::register_builtin(std::vector<OpInfo>& t) {
  t.push_back({"list", list_fn, 0, 1, false});
  t.push_back({"tuple", tuple_fn, 0, 1, false});
  t.push_back({"dict", dict_fn, 0, 1, false});
  t.push_back({"int", int_fn, 0, 1, false});
  t.push_back({"float", float_fn, 0, 1, false});
  t.push_back({"str", str_fn, 0, 1, false});
  t.push_back({"bool", bool_fn, 0, 1, false});
  t.push_back({"len", len_fn, 1, 1, false});
  t.push_back({"append", append_fn, 2, 2, true});
  t.push_back({"print", print_fn, 0, -1, false});
}

}  // namespace nnsight::graph
