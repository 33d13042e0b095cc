#include "nnsight/base/linear.h"

#include <ATen/ops/addmv.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/mv.h>

namespace nnsight {

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t in = x.size(-1);
  if (x.numel() == in && x.dim() >= 1) {
    at::Tensor row = x.reshape({in});
    at::Tensor y = bias.defined() ? at::addmv(bias, weight, row) : at::mv(weight, row);
    auto sizes = x.sizes().vec();
    sizes.back() = weight.size(0);
    return y.view(sizes);
  }
  return at::linear(x, weight, bias);
}

}  // namespace nnsight
