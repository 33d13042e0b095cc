#pragma once
/// @file
/// Matrix products for model code, with the decode fast path.
///
/// A decode step is a single row: at::linear then runs a GEMM at ~40% of memory
/// bandwidth. linear() routes single rows of fp32/bf16 through gemv() (gemv.h)
/// when the CPU supports it and no gradient is needed; fp32 blocks of rows
/// through gemm() (gemm.h) when the BLAS has no fast kernel for this CPU; and
/// everything else (gradients, bf16 blocks: oneDNN) through at::linear.

#include <ATen/core/Tensor.h>

namespace nnsight {

/// y = x W^T + b with W of shape [out, in] (W may be a transposed view).
/// x: [..., in]; bias may be undefined.
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {});

/// y = x W_t + b with W_t of shape [in, out] (Hugging Face Conv1D layout):
/// linear(x, weight_t.t(), bias) without building the transposed view on the
/// single-row path.
at::Tensor linear_transposed(const at::Tensor& x, const at::Tensor& weight_t, const at::Tensor& bias = {});

}  // namespace nnsight
