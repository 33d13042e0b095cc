// getitem / setitem: Python indexing of sequences and dicts, torch indexing of
// tensors (at::indexing), with a key Value playing the role of Python's
// subscript: a tuple key is several indices (`x[:, -1]`), None is a new axis.

#include <ATen/TensorIndexing.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/tensor.h>

#include "nnsight/base/error.h"
#include "nnsight/graph/ops.h"

namespace nnsight::graph {
namespace {

using K = Value::Kind;
namespace ix = at::indexing;

at::Tensor list_to_index_tensor(const OpCall& c, const Value& list) {
  std::vector<int64_t> ints;
  std::vector<uint8_t> bools;
  bool all_bool = !list.items().empty();
  for (const auto& item : list.items()) {
    if (item.kind() == K::Bool) {
      bools.push_back(item.as_bool());
      ints.push_back(item.as_int());
    } else if (item.kind() == K::Int) {
      all_bool = false;
      ints.push_back(item.as_int());
    } else {
      c.type_error(item, "an element of a list index", "an int or bool");
    }
  }
  if (all_bool) return at::tensor(ints).to(at::kBool);
  return at::tensor(ints);
}

// Appends v's index to out, constructed in place: LibTorch 1.13's TensorIndex
// leaves its bool member uninitialised for non-bool indices, so moving or
// copying one reads an indeterminate bool (UBSan reports it). Callers reserve
// capacity first so the vector never relocates its elements.
void append_index(const OpCall& c, const Value& v, std::vector<ix::TensorIndex>& out) {
  switch (v.kind()) {
    case K::None: out.emplace_back(ix::None); return;
    case K::Ellipsis: out.emplace_back(ix::Ellipsis); return;
    case K::Bool: out.emplace_back(v.as_bool()); return;
    case K::Int: out.emplace_back(v.as_int()); return;
    case K::Slice: {
      const auto& s = v.as_slice();
      auto opt = [](const std::optional<int64_t>& v) { return v ? c10::optional<int64_t>(*v) : c10::nullopt; };
      out.emplace_back(ix::Slice(opt(s.start), opt(s.stop), opt(s.step)));
      return;
    }
    case K::Tensor: out.emplace_back(v.as_tensor()); return;
    case K::List: out.emplace_back(list_to_index_tensor(c, v)); return;
    default: c.type_error(v, "the index", "an int, slice, ..., None, bool, tensor or list");
  }
}

std::vector<ix::TensorIndex> tensor_key(const OpCall& c, const Value& key) {
  std::vector<ix::TensorIndex> out;
  if (key.kind() == K::Tuple) {
    out.reserve(key.items().size());
    for (const auto& item : key.items()) append_index(c, item, out);
  } else {
    out.reserve(1);
    append_index(c, key, out);
  }
  return out;
}

/// Python's slice.indices(n) followed by the selected positions.
std::vector<int64_t> slice_positions(const Slice& s, int64_t n) {
  const int64_t step = s.step.value_or(1);
  if (step == 0) throw Error("slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v < 0 ? *v + n : *v;
    if (step > 0) return std::clamp<int64_t>(x, 0, n);
    return std::clamp<int64_t>(x, -1, n - 1);
  };
  int64_t start = clamp(s.start, step > 0 ? 0 : n - 1);
  int64_t stop = clamp(s.stop, step > 0 ? n : -1);
  std::vector<int64_t> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(i);
  return out;
}

Value getitem_fn(OpCall& c) {
  const Value& x = c.args[0];
  const Value& key = c.args[1];
  if (x.is_tensor()) return Value(x.as_tensor().index(tensor_key(c, key)));
  if (x.is_sequence()) {
    if (key.kind() == K::Int || key.kind() == K::Bool) return x[key.as_int()];
    if (key.kind() == K::Slice) {
      std::vector<Value> out;
      for (int64_t i : slice_positions(key.as_slice(), static_cast<int64_t>(x.items().size())))
        out.push_back(x.items()[static_cast<std::size_t>(i)]);
      return x.kind() == K::List ? Value::list(std::move(out)) : Value::tuple(std::move(out));
    }
    c.type_error(1, "an int or slice (indexing a list or tuple)");
  }
  if (x.kind() == K::Dict) {
    if (key.kind() != K::String) c.type_error(1, "a str (indexing a dict)");
    if (const Value* v = x.as_dict().find(key.as_string())) return *v;
    std::string keys;
    for (const auto& k : x.as_dict().keys) keys += (keys.empty() ? "" : ", ") + k;
    throw Error("getitem: key '" + key.as_string() + "' is not in the dict", {}, "keys are: " + keys);
  }
  c.type_error(0, "a tensor, list, tuple or dict");
}

Value setitem_fn(OpCall& c) {
  Value& x = c.args[0];
  const Value& key = c.args[1];
  const Value& v = c.args[2];
  if (x.is_tensor()) {
    at::Tensor& t = x.as_tensor();
    auto idx = tensor_key(c, key);
    if (v.is_tensor())
      t.index_put_(idx, v.as_tensor());
    else if (v.is_number())
      t.index_put_(idx, v.kind() == K::Float ? at::Scalar(v.as_double()) : at::Scalar(v.as_int()));
    else
      c.type_error(2, "a tensor or number (assigning into a tensor)");
    return Value();
  }
  if (x.kind() == K::List) {
    if (key.kind() != K::Int) c.type_error(1, "an int (assigning into a list)");
    x[key.as_int()] = v;
    return Value();
  }
  if (x.kind() == K::Dict) {
    if (key.kind() != K::String) c.type_error(1, "a str (assigning into a dict)");
    x.as_dict().set(key.as_string(), v);
    return Value();
  }
  c.type_error(0, "a tensor, list or dict");
}

}  // namespace

void ops::register_index(std::vector<OpInfo>& t) {
  t.push_back({"getitem", getitem_fn, 2, 2, false});
  t.push_back({"setitem", setitem_fn, 3, 3, true});
}

}  // namespace nnsight::graph
