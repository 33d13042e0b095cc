#include "nnsight/runtime/models/attention.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/bitwise_or.h>
#include <ATen/ops/cumsum.h>
#include <ATen/ops/eq.h>
#include <ATen/ops/gt.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ne.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/zeros.h>

#include "nnsight/base/attention_kernel.h"

namespace nnsight {

at::Tensor make_position_ids(const at::Tensor& attention_mask, int64_t past, int64_t t, at::Device device) {
  if (!attention_mask.defined())
    return at::arange(past, past + t, at::TensorOptions().dtype(at::kLong).device(device)).unsqueeze(0);
  at::Tensor positions = at::cumsum(at::ne(attention_mask, 0), -1, at::kLong) - 1;
  positions.masked_fill_(at::eq(attention_mask, 0), 1);
  return positions.narrow(1, past, t);
}

at::Tensor make_attention_bias(const at::Tensor& attention_mask, int64_t past, int64_t t, at::ScalarType dtype,
                               at::Device device) {
  if (!attention_mask.defined() && t == 1) return {};
  const int64_t s = past + t;
  if (attention_mask.defined()) device = attention_mask.device();
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(device);
  // masked[i, j] = key j is after query i (query i sits at absolute position past + i), or is padding.
  // (Only ops with meta kernels in LibTorch 1.13, e.g. no logical_and/not: a scan runs this on meta tensors.)
  at::Tensor masked = at::gt(at::arange(s, long_opts).unsqueeze(0), at::arange(past, s, long_opts).unsqueeze(1));
  masked = masked.view({1, 1, t, s});
  if (attention_mask.defined())
    masked = at::bitwise_or(masked, at::eq(attention_mask, 0).view({attention_mask.size(0), 1, 1, s}));
  at::Tensor bias = at::zeros(masked.sizes(), at::TensorOptions().dtype(dtype).device(device));
  bias.masked_fill_(masked, kMaskedScore);
  return bias;
}

at::Tensor grouped_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                             double scale) {
  // Decode steps: one pass over the cache instead of ~15 ATen ops (no autograd there).
  if (attention_kernel_supported(q, k, v, bias)) return attention_kernel(q, k, v, bias, scale);
  const int64_t b = q.size(0), t = q.size(1), h = q.size(2), d = q.size(3);
  const int64_t h_kv = k.size(1), s = k.size(2);
  const int64_t groups = h / h_kv;
  // [B, T, H, D] -> [B, H_kv, G*T, D]: the G query heads sharing a KV head
  // become extra rows of one matmul against that head's keys. For T == 1
  // this is a pure view.
  at::Tensor qg = q.view({b, t, h_kv, groups, d}).permute({0, 2, 3, 1, 4}).reshape({b, h_kv, groups * t, d});
  at::Tensor scores = at::matmul(qg, k.transpose(-1, -2));  // [B, H_kv, G*T, S]
  scores.mul_(scale);
  if (bias.defined()) scores.view({b, h_kv, groups, t, s}).add_(bias.unsqueeze(2));
  const bool reduced = scores.scalar_type() == at::kBFloat16 || scores.scalar_type() == at::kHalf;
  at::Tensor probs = reduced ? at::softmax(scores, -1, at::kFloat).to(v.dtype()) : at::softmax(scores, -1);
  at::Tensor out = at::matmul(probs, v);  // [B, H_kv, G*T, D]
  return out.view({b, h_kv, groups, t, d}).permute({0, 3, 1, 2, 4}).reshape({b, t, h * d});
}

}  // namespace nnsight
