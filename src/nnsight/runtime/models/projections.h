#pragma once
/// @file
/// Projection modules: Linear (torch.nn.Linear, weight [out, in]) and Conv1D
/// (Hugging Face GPT-2's projection, weight [in, out]).
///
/// Both compute through nnsight::linear so single-row (decode) calls take the
/// gemv path. Conv1D keeps the checkpoint's [in, out] tensor and multiplies by
/// its transposed view: no transposed copy of the weight is ever made.

#include <ATen/core/Tensor.h>

#include "nnsight/runtime/module.h"

namespace nnsight {

/// y = x W^T + b; weight [out, in], bias [out] or undefined.
class Linear : public Module {
 public:
  /// Parameters "weight" and, when `bias` is defined, "bias".
  explicit Linear(at::Tensor weight, at::Tensor bias = {});

 protected:
  /// args[0]: [..., in]; returns [..., out].
  Value forward(Inputs& inputs, ForwardContext& ctx) override;
};

/// y = x W + b; weight [in, out] as stored by Hugging Face GPT-2, bias [out].
class Conv1D : public Module {
 public:
  /// Parameters "weight" and "bias".
  Conv1D(at::Tensor weight, at::Tensor bias);

 protected:
  /// args[0]: [..., in]; returns [..., out].
  Value forward(Inputs& inputs, ForwardContext& ctx) override;
};

}  // namespace nnsight
