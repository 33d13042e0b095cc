#include "nnsight/base/linear.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/linear.h>
#include <c10/util/SmallVector.h>

#include "nnsight/base/gemm.h"
#include "nnsight/base/gemv.h"

namespace nnsight {
namespace {

bool use_gemv(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const auto dtype = x.scalar_type();
  // The kernels have no backward: anything autograd must see goes to ATen.
  return x.dim() >= 1 && x.numel() == x.size(-1) && x.is_cpu() && weight.is_cpu() && weight.dim() == 2 &&
         weight.scalar_type() == dtype && (!bias.defined() || (bias.scalar_type() == dtype && !bias.requires_grad())) &&
         !x.requires_grad() && !weight.requires_grad() && gemv_supported(dtype);
}

// One row through gemv: the result is allocated in its final shape (no views).
at::Tensor gemv_row(const at::Tensor& x, const at::Tensor& matrix, bool transposed, const at::Tensor& bias) {
  c10::SmallVector<int64_t, 4> sizes(x.sizes().begin(), x.sizes().end());
  sizes.back() = matrix.size(transposed ? 1 : 0);
  at::Tensor result = at::empty(sizes, x.options());
  if (transposed)
    gemv_transposed_into(matrix, x, bias, result);
  else
    gemv_into(matrix, x, bias, result);
  return result;
}

}  // namespace

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (use_gemv(x, weight, bias) && x.size(-1) == weight.size(1)) return gemv_row(x, weight, false, bias);
  if (gemm_preferred(x, weight, bias) && x.size(-1) == weight.size(1)) return gemm(x, weight, false, bias);
  return at::linear(x, weight, bias);
}

at::Tensor linear_transposed(const at::Tensor& x, const at::Tensor& weight_t, const at::Tensor& bias) {
  if (use_gemv(x, weight_t, bias) && x.size(-1) == weight_t.size(0)) return gemv_row(x, weight_t, true, bias);
  if (gemm_preferred(x, weight_t, bias) && x.size(-1) == weight_t.size(0)) return gemm(x, weight_t, true, bias);
  return at::linear(x, weight_t.t(), bias);
}

}  // namespace nnsight
