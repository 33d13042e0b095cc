#include "nnsight/runtime/models/rotary.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/cos.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/reciprocal.h>
#include <ATen/ops/sin.h>
#include <ATen/ops/stack.h>

#include "nnsight/runtime/models/module_support.h"

namespace nnsight {

RotaryEmbedding::RotaryEmbedding(std::string type_name, int64_t head_dim, double theta, RopeStyle style)
    : Module(std::move(type_name)), style_(style) {
  // inv_freq[i] = theta^(-2i/D), computed in double and rounded once to float32.
  at::Tensor exponents = at::arange(0, head_dim, 2, at::TensorOptions().dtype(at::kDouble)) / double(head_dim);
  inv_freq_ = at::reciprocal(at::pow(theta, exponents)).to(at::kFloat);
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::tables(const at::Tensor& position_ids, at::ScalarType dtype) const {
  // A scan computes on meta tensors: the table follows the positions' device.
  const at::Tensor inv_freq =
      position_ids.device() == inv_freq_.device() ? inv_freq_ : inv_freq_.to(position_ids.device());
  at::Tensor angles = position_ids.to(at::kFloat).unsqueeze(-1) * inv_freq;  // [B, T, D/2]
  at::Tensor full = style_ == RopeStyle::RotateHalf ? at::cat({angles, angles}, -1)
                                                    : at::stack({angles, angles}, -1).flatten(-2);  // [B, T, D]
  at::Tensor c = at::cos(full), s = at::sin(full);
  if (dtype != at::kFloat) {
    c = c.to(dtype);
    s = s.to(dtype);
  }
  return {c, s};
}

Value RotaryEmbedding::forward(Inputs& inputs, ForwardContext&) {
  if (inputs.args.size() < 2 || !inputs.args[0].is_tensor() || !inputs.args[1].is_tensor())
    throw Error("module '" + path() + "' (" + type_name() + ") expects (x, position_ids)", "module '" + path() + "'",
                "position_ids: an int64 tensor [batch, tokens]");
  return guarded(*this, [&] {
    auto [c, s] = tables(inputs.args[1].as_tensor(), inputs.args[0].as_tensor().scalar_type());
    return Value::tuple({Value(c), Value(s)});
  });
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, RopeStyle style) {
  const int64_t d = x.size(-1);
  at::Tensor rotated;
  if (style == RopeStyle::RotateHalf) {
    rotated = at::cat({-x.narrow(-1, d / 2, d / 2), x.narrow(-1, 0, d / 2)}, -1);
  } else {
    at::Tensor pairs = x.unflatten(-1, {d / 2, 2});
    rotated = at::stack({-pairs.select(-1, 1), pairs.select(-1, 0)}, -1).flatten(-2);
  }
  // Tables are [B, T, D]; x is [B, T, heads, D].
  at::Tensor c = cos.unsqueeze(-2), s = sin.unsqueeze(-2);
  return x * c + rotated * s;
}

}  // namespace nnsight
