// Narrowing values to an invoke's rows and splicing replacements back.

#include "nnsight/interleave/batching.h"

#include <ATen/ops/cat.h>
#include <c10/util/Exception.h>

#include "nnsight/base/error.h"

namespace nnsight::interleave {
namespace {

bool is_batch_tensor(const Value& v, int64_t total) {
  return v.is_tensor() && v.as_tensor().defined() && v.as_tensor().dim() > 0 && v.as_tensor().size(0) == total;
}

bool same_view(const at::Tensor& a, const at::Tensor& b) {
  return a.is_alias_of(b) && a.data_ptr() == b.data_ptr() && a.sizes() == b.sizes() && a.strides() == b.strides() &&
         a.scalar_type() == b.scalar_type();
}

at::Tensor splice_tensor(const at::Tensor& full, const BatchGroup& group, const at::Tensor& rep,
                         const std::string& where) {
  at::Tensor slice = full.narrow(0, group.start, group.size);
  if (same_view(rep, slice)) return full;  // edited in place (or untouched): already in the batch
  // Built only on failure: splicing runs on every swap.
  auto hint = [&] {
    return "a replacement must keep the invoke's rows: expected shape " + format_shape(slice.sizes());
  };
  if (rep.dim() != full.dim() || rep.size(0) != group.size)
    throw Error("cannot splice a replacement of shape " + format_shape(rep.sizes()) + " into rows " +
                    std::to_string(group.start) + ".." + std::to_string(group.start + group.size) +
                    " of a batch of shape " + format_shape(full.sizes()),
                where, hint());
  try {
    // A leaf that requires grad cannot be written in place; a shape change needs a new tensor.
    if (rep.sizes() == slice.sizes() && !(full.is_leaf() && full.requires_grad())) {
      slice.copy_(rep);
      return full;
    }
    std::vector<at::Tensor> pieces;
    if (group.start > 0) pieces.push_back(full.narrow(0, 0, group.start));
    pieces.push_back(rep.to(full.scalar_type()));
    const int64_t after = full.size(0) - group.start - group.size;
    if (after > 0) pieces.push_back(full.narrow(0, group.start + group.size, after));
    return at::cat(pieces, 0);
  } catch (const c10::Error& e) {
    throw Error(std::string("cannot splice the replacement into the batch: ") + e.what_without_backtrace(), where,
                hint());
  }
}

}  // namespace

Value narrow_batch(const Value& v, int64_t total, const BatchGroup& group,
                   const std::function<void(const at::Tensor&, const at::Tensor&)>& on_view) {
  return map_tensors(v, [&](const at::Tensor& t) {
    if (!t.defined() || t.dim() == 0 || t.size(0) != total) return t;
    at::Tensor view = t.narrow(0, group.start, group.size);
    if (on_view) on_view(t, view);
    return view;
  });
}

Value splice_batch(const Value& full, int64_t total, const BatchGroup& group, const Value& replacement,
                   const std::string& where) {
  switch (full.kind()) {
    case Value::Kind::Tensor:
      if (!is_batch_tensor(full, total)) return full;
      if (!replacement.is_tensor())
        throw Error("a batched tensor was replaced by a " + std::string(Value::kind_name(replacement.kind())), where,
                    "replace a tensor by a tensor of the same shape");
      return Value(splice_tensor(full.as_tensor(), group, replacement.as_tensor(), where));
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      if (!replacement.is_sequence() || replacement.items().size() != full.items().size())
        throw Error(
            "the replacement " + replacement.repr() + " does not have the structure of the value " + full.repr(), where,
            "with several invokes, a replacement must have the structure of the original value");
      std::vector<Value> out;
      out.reserve(full.items().size());
      for (std::size_t i = 0; i < full.items().size(); ++i)
        out.push_back(splice_batch(full.items()[i], total, group, replacement.items()[i], where));
      return full.kind() == Value::Kind::List ? Value::list(std::move(out)) : Value::tuple(std::move(out));
    }
    case Value::Kind::Dict: {
      if (replacement.kind() != Value::Kind::Dict)
        throw Error("the replacement " + replacement.repr() + " is not a dict like the value " + full.repr(), where);
      Dict out;
      const Dict& d = full.as_dict();
      for (std::size_t i = 0; i < d.size(); ++i) {
        const Value* r = replacement.as_dict().find(d.keys[i]);
        out.set(d.keys[i], r ? splice_batch(d.values[i], total, group, *r, where) : d.values[i]);
      }
      return Value(std::move(out));
    }
    default: return full;
  }
}

Value concat_batch(const std::vector<Value>& parts, const std::string& where) {
  if (parts.empty()) return Value();
  const Value& first = parts.front();
  switch (first.kind()) {
    case Value::Kind::Tensor: {
      std::vector<at::Tensor> ts;
      for (const Value& p : parts) {
        if (!p.is_tensor())
          throw Error("invokes replaced the same value by a tensor and a " + std::string(Value::kind_name(p.kind())),
                      where);
        ts.push_back(p.as_tensor());
      }
      try {
        return Value(at::cat(ts, 0));
      } catch (const c10::Error& e) {
        throw Error(std::string("cannot join the invokes' replacements into one batch: ") + e.what_without_backtrace(),
                    where, "every invoke's replacement must have the same shape except for its rows");
      }
    }
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      std::vector<Value> out;
      for (std::size_t i = 0; i < first.items().size(); ++i) {
        std::vector<Value> column;
        for (const Value& p : parts) {
          if (!p.is_sequence() || p.items().size() != first.items().size())
            throw Error("invokes replaced the same value by values of different structure", where);
          column.push_back(p.items()[i]);
        }
        out.push_back(concat_batch(column, where));
      }
      return first.kind() == Value::Kind::List ? Value::list(std::move(out)) : Value::tuple(std::move(out));
    }
    default: return first;
  }
}

}  // namespace nnsight::interleave
