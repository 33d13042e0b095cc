// Saved values as safetensors entries or summary lines.

#include "saved_output.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/scalar_tensor.h>

#include <cstdio>

#include "nnsight/base/error.h"

namespace nnsight::cli {
namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

/// A token piece quoted, with control characters escaped.
std::string quoted_piece(const std::string& piece) {
  std::string out = "'";
  for (char c : piece) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\'') {
      out += "\\'";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "'";
}

/// Calls fn(name, leaf) for every leaf of a value, with the names add_saved uses.
template <class Fn>
void for_each_leaf(const std::string& name, const Value& v, Fn&& fn) {
  switch (v.kind()) {
    case Value::Kind::List:
    case Value::Kind::Tuple:
      for (std::size_t i = 0; i < v.items().size(); ++i)
        for_each_leaf(name + "[" + std::to_string(i) + "]", v.items()[i], fn);
      return;
    case Value::Kind::Dict: {
      const Dict& d = v.as_dict();
      for (std::size_t i = 0; i < d.size(); ++i) for_each_leaf(name + "['" + d.keys[i] + "']", d.values[i], fn);
      return;
    }
    default: fn(name, v);
  }
}

void print_tensor(std::ostream& out, const std::string& name, const at::Tensor& t, const Tokenizer& tokenizer,
                  int64_t vocab_size) {
  out << name << ": " << format::dtype_name(t.scalar_type()) << " " << format_shape(t.sizes());
  if (t.numel() == 1) {
    out << "  value " << number(t.to(at::kDouble).item<double>()) << "\n";
    return;
  }
  if (t.numel() > 0) {
    const at::Tensor d = t.detach().to(at::kDouble);
    out << "  mean " << number(d.mean().item<double>()) << "  std " << number(d.std(/*unbiased=*/false).item<double>())
        << "  min " << number(d.min().item<double>()) << "  max " << number(d.max().item<double>());
  }
  out << "\n";
  if (t.dim() >= 1 && t.size(-1) == vocab_size && at::isFloatingType(t.scalar_type()) && t.numel() > 0) {
    const at::Tensor last = t.detach().reshape({-1, vocab_size})[-1].to(at::kFloat);
    const auto [values, ids] = last.topk(std::min<int64_t>(5, vocab_size));
    out << "  top-5 at the last position:";
    for (int64_t i = 0; i < ids.size(0); ++i)
      out << (i ? ", " : " ") << quoted_piece(tokenizer.decode({ids[i].item<int64_t>()})) << " "
          << number(values[i].item<double>());
    out << "\n";
  }
}

}  // namespace

void add_saved(format::TensorBlob& blob, const std::string& name, const Value& value) {
  for_each_leaf(name, value, [&](const std::string& leaf_name, const Value& leaf) {
    at::Tensor t;
    switch (leaf.kind()) {
      case Value::Kind::Tensor: t = leaf.as_tensor(); break;
      case Value::Kind::Int: t = at::scalar_tensor(leaf.as_int(), at::kLong); break;
      case Value::Kind::Float: t = at::scalar_tensor(leaf.as_double(), at::kDouble); break;
      case Value::Kind::Bool: t = at::scalar_tensor(leaf.as_bool(), at::kBool); break;
      default: return;
    }
    if (!t.defined()) return;
    blob.add(leaf_name, t.detach().cpu().contiguous());
  });
}

void print_saved(std::ostream& out, const std::string& name, const Value& value, const Tokenizer& tokenizer,
                 int64_t vocab_size) {
  for_each_leaf(name, value, [&](const std::string& leaf_name, const Value& leaf) {
    if (leaf.is_tensor() && leaf.as_tensor().defined()) {
      print_tensor(out, leaf_name, leaf.as_tensor(), tokenizer, vocab_size);
    } else {
      out << leaf_name << ": " << leaf.repr().substr(0, 120) << "\n";
    }
  });
}

}  // namespace nnsight::cli
