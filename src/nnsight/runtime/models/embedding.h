#pragma once
// Embedding: torch.nn.Embedding, a lookup of rows of weight [num, dim].

#include <ATen/core/Tensor.h>

#include "nnsight/runtime/module.h"

namespace nnsight {

class Embedding : public Module {
 public:
  explicit Embedding(at::Tensor weight);

 protected:
  /// args[0]: integer ids of any shape; returns [..., dim].
  Value forward(Inputs& inputs, ForwardContext& ctx) override;
};

}  // namespace nnsight
