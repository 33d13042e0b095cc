#pragma once
// Matrix products for model code, with the decode fast path.
//
// A decode step is a single row: at::linear then runs a GEMM at ~40% of memory
// bandwidth. linear() routes single rows of fp32/bf16 through gemv() (gemv.h)
// when the CPU supports it and no gradient is needed, and everything else
// through at::linear.

#include <ATen/core/Tensor.h>

namespace nnsight {

/// y = x W^T + b with W of shape [out, in] (W may be a transposed view).
/// x: [..., in]; bias may be undefined.
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {});

}  // namespace nnsight
