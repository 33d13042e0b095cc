#pragma once
/// @file
/// Rotary position embeddings (RoPE) in both conventions found in checkpoints:
/// Hugging Face rotate-half pairs (x[i], x[i + D/2]) and llama2.c / GGUF
/// interleaved pairs (x[2i], x[2i+1]). The two differ only in which dims are
/// paired, so the tables are laid out per style and one formula applies:
/// x * cos + rotate(x) * sin.

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <string>
#include <utility>

#include "nnsight/runtime/model_config.h"
#include "nnsight/runtime/module.h"

namespace nnsight {

/// The model's `rotary_emb` module (LlamaRotaryEmbedding and per-family
/// copies). Call args: [x, position_ids [B, T]]; returns the tuple
/// (cos, sin), each [B, T, head_dim] in x's dtype.
class RotaryEmbedding : public Module {
 public:
  /// `type_name` as Hugging Face names the class; tables for `head_dim` with base `theta`, laid out for `style`.
  RotaryEmbedding(std::string type_name, int64_t head_dim, double theta, RopeStyle style);

  /// (cos, sin) for position_ids [B, T], computed in float32 and cast to dtype.
  std::pair<at::Tensor, at::Tensor> tables(const at::Tensor& position_ids, at::ScalarType dtype) const;
  /// Which dims are paired (rotate-half or interleaved).
  RopeStyle style() const { return style_; }

 protected:
  /// args [x, position_ids]: the tuple (cos, sin) (see the class comment).
  Value forward(Inputs& inputs, ForwardContext& ctx) override;

 private:
  RopeStyle style_;
  at::Tensor inv_freq_;  // [head_dim / 2] float32, a buffer (not a parameter), as in Hugging Face
};

/// x * cos + rotate(x) * sin for x [B, T, heads, D] and tables [B or 1, T, D].
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, RopeStyle style);

}  // namespace nnsight
