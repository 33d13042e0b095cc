#pragma once
/// @file
/// Single-row matrix products (decode steps) at memory bandwidth.
///
/// A decode step multiplies one row by every weight matrix, so its speed is the
/// rate at which the weights stream from memory. LibTorch 1.13's paths for this
/// (at::linear's GEMM, OpenBLAS gemv, bf16 at::mv) reach 40-60% of that rate
/// here and scale badly to a second thread for mid-sized matrices. These
/// kernels stream each weight once with AVX-512 (fp32 FMA, or AVX512-BF16 dot
/// products with fp32 accumulation), split across the intra-op threads.

#include <ATen/core/Tensor.h>

namespace nnsight {

/// True when this CPU can run gemv() for `dtype` (kFloat: AVX-512F;
/// kBFloat16: AVX512-BF16). Otherwise callers fall back to ATen.
bool gemv_supported(at::ScalarType dtype);

/// y = W x (+ bias) for W [out, in] that is contiguous or the transpose of a
/// contiguous matrix (GPT-2's Conv1D layout), x [in], optional bias [out], all
/// of one dtype (kFloat or kBFloat16); returns [out] of that dtype.
/// Requires gemv_supported(dtype); not differentiable.
at::Tensor gemv(const at::Tensor& weight, const at::Tensor& x, const at::Tensor& bias);

/// gemv() writing into `result`, a contiguous tensor of `out` elements of the
/// same dtype (any shape, e.g. [1, 1, out]); x may have any shape holding `in`
/// elements. Saves the reshapes and views of a decode step's products.
void gemv_into(const at::Tensor& weight, const at::Tensor& x, const at::Tensor& bias, at::Tensor& result);

/// gemv_into() for W given as its transpose weight_t [in, out] (GPT-2's
/// Conv1D layout), without building the transposed view.
void gemv_transposed_into(const at::Tensor& weight_t, const at::Tensor& x, const at::Tensor& bias, at::Tensor& result);

}  // namespace nnsight
