#pragma once
/// @file
/// LayerNorm and RMSNorm over the last dimension in one pass per row, for
/// tensors autograd need not see (decode steps, inference).
///
/// at::layer_norm allocates mean/rstd outputs and, for bf16, converts through
/// fp32 temporaries; the Hugging Face RMSNorm is eight ATen ops. These kernels
/// read each row once into fp32 and write the normalised row in the input's
/// dtype, with the same rounding steps as the ATen formulations they replace.

#include <ATen/core/Tensor.h>

namespace nnsight {

/// True when the kernels below handle x with these parameters: fp32 or bf16
/// x on the CPU with a contiguous last dimension of size weight.numel(),
/// weight (and bias) 1-D of x's dtype, nothing requiring grad, AVX-512.
bool norm_kernel_supported(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

/// at::layer_norm(x, {D}, weight, bias, eps) (bias may be undefined).
at::Tensor layer_norm_kernel(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps);

/// Hugging Face RMSNorm: weight * (xf * rsqrt(mean(xf^2) + eps)).to(x.dtype)
/// with xf = x in fp32, i.e. for bf16 the normalised row is rounded to bf16
/// before the product with the weight (rounded again).
at::Tensor rms_norm_kernel(const at::Tensor& x, const at::Tensor& weight, double eps);

}  // namespace nnsight
