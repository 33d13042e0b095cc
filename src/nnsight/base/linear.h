#pragma once
// Matrix products for model code, with the decode fast path.
//
// at::linear on a single row runs a GEMM at ~40% of memory bandwidth; at::mv
// (BLAS gemv) reaches ~90%. Decode steps are single rows, so every projection
// goes through linear() below, which picks gemv when there is one row and
// the weight is large enough for bandwidth, not latency, to dominate.

#include <ATen/core/Tensor.h>

namespace nnsight {

/// y = x W^T + b with W of shape [out, in] (W may be a transposed view).
/// x: [..., in]; bias may be undefined.
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {});

}  // namespace nnsight
