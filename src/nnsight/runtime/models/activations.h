#pragma once
/// @file
/// Activation modules, as separate modules the way Hugging Face has them, so
/// `mlp.act` (GPT-2) and `mlp.act_fn` (Llama) are hookable.

#include <memory>
#include <string>

#include "nnsight/runtime/module.h"

namespace nnsight {

/// Element-wise activation; type_name() is the Hugging Face / PyTorch class.
class Activation : public Module {
 public:
  /// The function computed: GELU with the tanh approximation or exact (erf), SiLU, ReLU.
  enum class Kind { GeluTanh, GeluErf, Silu, Relu };
  /// `type_name` is the Hugging Face / PyTorch class name shown for the module.
  Activation(std::string type_name, Kind kind) : Module(std::move(type_name)), kind_(kind) {}
  /// The function computed.
  Kind kind() const { return kind_; }

 protected:
  /// args[0]: a tensor; returns the activation of every element.
  Value forward(Inputs& inputs, ForwardContext& ctx) override;

 private:
  Kind kind_;
};

/// The module for a config's activation name: "gelu_new" -> NewGELUActivation,
/// "gelu_pytorch_tanh" -> PytorchGELUTanh, "gelu" -> GELUActivation,
/// "silu"/"swish" -> SiLU, "relu" -> ReLU. Throws nnsight::Error (naming
/// `source`) for anything else.
std::unique_ptr<Activation> make_activation(const std::string& name, const std::string& source);

}  // namespace nnsight
