#pragma once
/// @file
/// Normalisation modules: LayerNorm (torch.nn.LayerNorm over the last dim) and
/// RMSNorm (Hugging Face LlamaRMSNorm and its per-family copies).

#include <ATen/core/Tensor.h>

#include <string>

#include "nnsight/runtime/module.h"

namespace nnsight {

/// weight/bias [dim]; normalises over the last dimension.
class LayerNorm : public Module {
 public:
  /// Parameters "weight" and "bias"; `eps` is added to the variance.
  LayerNorm(at::Tensor weight, at::Tensor bias, double eps);

 protected:
  /// args[0]: [..., dim]; returns the normalised tensor of the same shape.
  Value forward(Inputs& inputs, ForwardContext& ctx) override;

 private:
  double eps_;
};

/// y = weight * (x / sqrt(mean(x^2) + eps)), computed in float32 as Hugging
/// Face does and cast back to the input dtype before the weight multiply.
/// type_name is the family's class name ("LlamaRMSNorm", "Qwen2RMSNorm", ...).
class RMSNorm : public Module {
 public:
  /// Parameter "weight"; `eps` as in the formula above.
  RMSNorm(std::string type_name, at::Tensor weight, double eps);

 protected:
  /// args[0]: [..., dim]; returns the normalised tensor of the same shape.
  Value forward(Inputs& inputs, ForwardContext& ctx) override;

 private:
  double eps_;
};

}  // namespace nnsight
