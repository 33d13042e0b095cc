#include "nnsight/runtime/models/norms.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/mean.h>
#include <ATen/ops/rsqrt.h>

#include "nnsight/base/norm_kernels.h"
#include "nnsight/runtime/models/module_support.h"

namespace nnsight {

LayerNorm::LayerNorm(at::Tensor weight, at::Tensor bias, double eps) : Module("LayerNorm"), eps_(eps) {
  add_parameter("weight", std::move(weight));
  add_parameter("bias", std::move(bias));
}

Value LayerNorm::forward(Inputs& inputs, ForwardContext&) {
  const at::Tensor& x = single_tensor_input(*this, inputs);
  const auto& params = parameters();
  // One pass per row when autograd need not see it (decode, inference).
  if (norm_kernel_supported(x, params[0].second, params[1].second))
    return Value(layer_norm_kernel(x, params[0].second, params[1].second, eps_));
  // LibTorch 1.13 has no meta kernel for layer_norm: a scan gets the shape (that of x) from here.
  if (x.is_meta() || params[0].second.is_meta()) {
    if (x.size(-1) != params[0].second.size(0))
      throw Error("module '" + path() + "' (LayerNorm) normalises " + std::to_string(params[0].second.size(0)) +
                      " features, got an input of shape " + format_shape(x.sizes()),
                  "module '" + path() + "'", "the last dimension of the input must be the hidden size");
    return Value(at::empty_like(x, x.options().device(at::kMeta)));
  }
  return guarded(*this, [&] {
    return Value(at::layer_norm(x, {params[0].second.size(0)}, params[0].second, params[1].second, eps_));
  });
}

RMSNorm::RMSNorm(std::string type_name, at::Tensor weight, double eps) : Module(std::move(type_name)), eps_(eps) {
  add_parameter("weight", std::move(weight));
}

Value RMSNorm::forward(Inputs& inputs, ForwardContext&) {
  const at::Tensor& x = single_tensor_input(*this, inputs);
  const at::Tensor& weight = parameters()[0].second;
  if (norm_kernel_supported(x, weight, {})) return Value(rms_norm_kernel(x, weight, eps_));
  return guarded(*this, [&] {
    // Reduced precision is normalised in fp32 (as Hugging Face does); fp32 and fp64 stay as they are.
    const bool upcast = x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf;
    at::Tensor xf = upcast ? x.to(at::kFloat) : x;
    at::Tensor normed = xf * at::rsqrt(at::mean(xf * xf, {-1}, /*keepdim=*/true) + eps_);
    if (upcast) normed = normed.to(x.scalar_type());
    return Value(weight * normed);
  });
}

}  // namespace nnsight
