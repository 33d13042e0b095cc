#include "nnsight/base/linear.h"

#include <ATen/ops/linear.h>

#include "nnsight/base/gemv.h"

namespace nnsight {
namespace {

bool use_gemv(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const auto dtype = x.scalar_type();
  // The kernels have no backward: anything autograd must see goes to ATen.
  return x.numel() == x.size(-1) && weight.scalar_type() == dtype &&
         (!bias.defined() || (bias.scalar_type() == dtype && !bias.requires_grad())) && !x.requires_grad() &&
         !weight.requires_grad() && gemv_supported(dtype);
}

}  // namespace

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (x.dim() >= 1 && use_gemv(x, weight, bias)) {
    auto sizes = x.sizes().vec();
    sizes.back() = weight.size(0);
    return gemv(weight, x.reshape({x.size(-1)}), bias).view(sizes);
  }
  return at::linear(x, weight, bias);
}

}  // namespace nnsight
