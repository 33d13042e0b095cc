#pragma once
/// @file
/// Embedding: torch.nn.Embedding, a lookup of rows of weight [num, dim].

#include <ATen/core/Tensor.h>

#include "nnsight/runtime/module.h"

namespace nnsight {

/// torch.nn.Embedding: output[..., :] = weight[id].
class Embedding : public Module {
 public:
  /// Rows of `weight` [num, dim] (its parameter "weight").
  explicit Embedding(at::Tensor weight);

 protected:
  /// args[0]: integer ids of any shape; returns [..., dim].
  Value forward(Inputs& inputs, ForwardContext& ctx) override;
};

}  // namespace nnsight
