#pragma once
/// @file
/// Element-wise GELU (tanh approximation) and SiLU in one vectorised pass, for
/// tensors autograd need not see.
///
/// LibTorch 1.13 computes bf16 activations a few elements at a time through
/// fp32 (GELU on a 64 x 3072 bf16 block: ~1 ms, a fifth of a bf16 prefill).
/// Both are x * sigmoid(z) (GELU-tanh: z = 2 sqrt(2/pi) (x + 0.044715 x^3)),
/// evaluated in fp32 with a polynomial exp accurate to a few fp32 ulps.

#include <ATen/core/Tensor.h>

namespace nnsight {

/// True when the kernels handle x: fp32 or bf16 on the CPU, not requiring
/// grad, and a CPU with AVX-512.
bool activation_kernel_supported(const at::Tensor& x);

/// at::gelu(x, "tanh") (Hugging Face gelu_new / gelu_pytorch_tanh).
at::Tensor gelu_tanh_kernel(const at::Tensor& x);

/// at::silu(x).
at::Tensor silu_kernel(const at::Tensor& x);

}  // namespace nnsight
