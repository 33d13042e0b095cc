#pragma once
/// @file
/// fp32 matrix products for several rows (prefill) when the BLAS has no fast
/// kernel for this CPU.
///
/// LibTorch runs fp32 GEMMs through the system BLAS. OpenBLAS picks its kernels
/// by CPU model; on CPUs it does not recognise (e.g. VMs that mask the model
/// name) it falls back to SSE3 "Prescott" kernels at a fraction of the machine's
/// speed. This AVX-512 GEMM (8 x 32 register tile over packed 32-column panels
/// of the weight) is used instead in that case only; with a BLAS that has
/// AVX2/AVX-512 kernels for the CPU, at::linear stays faster.

#include <ATen/core/Tensor.h>

namespace nnsight {

/// True when gemm() should compute x W^T + b: fp32 x with more than one row,
/// weight and bias fp32, nothing requiring grad, AVX-512, and the BLAS
/// LibTorch uses lacking AVX2/AVX-512 kernels for this CPU (see
/// blas_is_slow()).
bool gemm_preferred(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

/// True when the loaded BLAS runs generic pre-AVX2 kernels here: OpenBLAS
/// reporting an SSE-era core (Prescott, Core2, Nehalem, ...) or a BLAS that is
/// not OpenBLAS at all (the reference BLAS). Decided once per process.
bool blas_is_slow();

/// y = x W^T + b, x [..., in] (any rows), bias [out] or undefined. `matrix` is
/// W [out, in] or, with transposed = true, W^T [in, out] (Hugging Face
/// Conv1D); either must have a unit stride in one dimension. Returns
/// [..., out] fp32. Not differentiable.
at::Tensor gemm(const at::Tensor& x, const at::Tensor& matrix, bool transposed, const at::Tensor& bias);

}  // namespace nnsight
