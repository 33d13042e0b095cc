#pragma once
// bf16 matrix-vector product at memory bandwidth.
//
// LibTorch 1.13's bf16 at::mv / at::addmv reach ~60% of the bandwidth floor on
// CPU, which makes bf16 decode (one row per step) far slower than its halved
// weight bytes allow. This kernel streams the weight once with AVX512-BF16
// dot products (fp32 accumulation) split across the intra-op threads.

#include <ATen/core/Tensor.h>

namespace nnsight {

/// True when this CPU has AVX512-BF16, i.e. bf16_gemv() can run.
bool bf16_gemv_supported();

/// y = W x (+ bias) for bf16 W [out, in] (a contiguous matrix or the
/// transpose of one), bf16 x [in], optional bf16 bias [out]; returns bf16 [out].
/// Requires bf16_gemv_supported().
at::Tensor bf16_gemv(const at::Tensor& weight, const at::Tensor& x, const at::Tensor& bias);

}  // namespace nnsight
