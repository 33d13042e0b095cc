#include "nnsight/base/linear.h"

#include <ATen/ops/addmv.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/mv.h>

#include "nnsight/base/bf16_gemv.h"

namespace nnsight {

namespace {
// Below this many weight elements a single-row product is latency-bound, and
// OpenBLAS's threaded gemv costs more in OpenMP wake-ups than it saves
// (measured: 172x64 took 280-600 us on 2 threads vs 8 us via at::linear).
constexpr int64_t kGemvMinWeightElements = int64_t{1} << 18;


bool use_bf16_kernel(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  // The kernel has no backward: leave anything autograd must see to ATen.
  return x.scalar_type() == at::kBFloat16 && weight.scalar_type() == at::kBFloat16 &&
         (!bias.defined() || bias.scalar_type() == at::kBFloat16) && !x.requires_grad() &&
         !weight.requires_grad() && (!bias.defined() || !bias.requires_grad()) && bf16_gemv_supported();
}

}  // namespace

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t in = x.size(-1);
  if (x.numel() == in && x.dim() >= 1 && use_bf16_kernel(x, weight, bias)) {
    auto sizes = x.sizes().vec();
    sizes.back() = weight.size(0);
    return bf16_gemv(weight, x.reshape({in}), bias).view(sizes);
  }
  if (x.numel() == in && x.dim() >= 1 && weight.numel() >= kGemvMinWeightElements) {
    at::Tensor row = x.reshape({in});
    at::Tensor y = bias.defined() ? at::addmv(bias, weight, row) : at::mv(weight, row);
    auto sizes = x.sizes().vec();
    sizes.back() = weight.size(0);
    return y.view(sizes);
  }
  return at::linear(x, weight, bias);
}

}  // namespace nnsight
