#include "nnsight/runtime/models/activations.h"

#include <ATen/ops/gelu.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/silu.h>

#include "nnsight/base/activation_kernels.h"
#include "nnsight/runtime/models/module_support.h"

namespace nnsight {

Value Activation::forward(Inputs& inputs, ForwardContext&) {
  const at::Tensor& x = single_tensor_input(*this, inputs);
  // One vectorised pass when autograd need not see it (ATen's bf16 path is ~20x slower).
  if ((kind_ == Kind::GeluTanh || kind_ == Kind::Silu) && activation_kernel_supported(x))
    return Value(kind_ == Kind::GeluTanh ? gelu_tanh_kernel(x) : silu_kernel(x));
  return guarded(*this, [&] {
    switch (kind_) {
      case Kind::GeluTanh: return Value(at::gelu(x, "tanh"));
      case Kind::GeluErf: return Value(at::gelu(x));
      case Kind::Silu: return Value(at::silu(x));
      case Kind::Relu: return Value(at::relu(x));
    }
    return Value(x);
  });
}

std::unique_ptr<Activation> make_activation(const std::string& name, const std::string& source) {
  using K = Activation::Kind;
  if (name == "gelu_new") return std::make_unique<Activation>("NewGELUActivation", K::GeluTanh);
  if (name == "gelu_fast") return std::make_unique<Activation>("FastGELUActivation", K::GeluTanh);
  if (name == "gelu_pytorch_tanh") return std::make_unique<Activation>("PytorchGELUTanh", K::GeluTanh);
  if (name == "gelu") return std::make_unique<Activation>("GELUActivation", K::GeluErf);
  if (name == "silu" || name == "swish") return std::make_unique<Activation>("SiLU", K::Silu);
  if (name == "relu") return std::make_unique<Activation>("ReLU", K::Relu);
  throw Error("unsupported activation function '" + name + "'", source,
              "supported: gelu_new, gelu_fast, gelu_pytorch_tanh, gelu, silu, swish, relu");
}

}  // namespace nnsight
