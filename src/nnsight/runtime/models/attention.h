#pragma once
/// @file
/// Attention arithmetic shared by the model families: position ids and the
/// additive attention bias built from a padding mask, and grouped-query
/// scaled-dot-product attention over (possibly cached) keys and values.

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>

namespace nnsight {

/// The additive bias for masked scores. Large and finite rather than -inf, so
/// a fully masked row (a left-padding query) gives a uniform softmax, not NaN.
constexpr double kMaskedScore = -1e30;

/// Position ids [B, T] (or [1, T] without a mask) for T new tokens following
/// `past` cached ones. With an attention mask [B, past + T] (1 = real token,
/// 0 = padding) they are cumsum(mask) - 1 as in Hugging Face, so left-padded
/// rows start at 0 on their first real token; padding positions get 1.
/// Made on `device` (the mask's, when there is one): meta during a scan.
at::Tensor make_position_ids(const at::Tensor& attention_mask, int64_t past, int64_t t, at::Device device);

/// The additive attention bias [B or 1, 1, T, past + T] in `dtype`: 0 where
/// query i may see key j (j <= past + i and mask[b, j] != 0), kMaskedScore
/// elsewhere. Undefined when nothing is masked (no mask and T == 1). Made on
/// `device` like make_position_ids.
at::Tensor make_attention_bias(const at::Tensor& attention_mask, int64_t past, int64_t t, at::ScalarType dtype,
                               at::Device device);

/// softmax(q k^T * scale + bias) v for grouped-query attention without
/// repeating K/V: query head h uses key/value head h / (H / H_kv).
///   q: [B, T, H, D] (any strides); k, v: [B, H_kv, S, D] (views are fine);
///   bias: [B or 1, 1, T, S] or undefined (= no masking).
/// Returns [B, T, H * D]. Softmax runs in float32 for lower-precision inputs.
at::Tensor grouped_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                             double scale);

}  // namespace nnsight
