#pragma once
/// @file
/// Scaled-dot-product attention for a few query rows (decode steps) in one
/// pass over the cached keys and values.
///
/// With ATen, one decode step's attention is ~15 small ops (views, two batched
/// matmuls, scale, mask, softmax, dtype casts); in bf16 the batched matmuls go
/// through oneDNN, which rebuilds its kernels whenever the cache length changes,
/// i.e. on every step. This kernel reads q, K and V through their strides
/// (cache views need no copy), accumulates in fp32 and writes the [B, T, H*D]
/// result directly. It is not differentiable: callers use it only when no input
/// requires grad.

#include <ATen/core/Tensor.h>

namespace nnsight {

/// True when attention_kernel() handles these inputs: fp32 or bf16 (one dtype
/// for q, k, v), CPU, the last dimension contiguous, few query rows (decode,
/// not prefill), no input requiring grad, and a CPU with AVX-512. Otherwise
/// callers use ATen ops.
bool attention_kernel_supported(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias);

/// softmax(q k^T * scale + bias) v with grouped-query heads (query head h
/// reads key/value head h / (H / H_kv)); the same contract as
/// grouped_attention (runtime/models/attention.h):
///   q: [B, T, H, D]; k, v: [B, H_kv, S, D]; bias: [B or 1, 1, T, S] or undefined.
/// Returns [B, T, H * D] in q's dtype. Scores, softmax and the weighted sum
/// run in fp32. Requires attention_kernel_supported().
at::Tensor attention_kernel(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                            double scale);

}  // namespace nnsight
