#pragma once
/// @file
/// ForwardContext: per-call state that is not an activation (KV cache, masks,
/// positions). It travels beside a module call's Inputs so interventions see
/// only activations, and out-of-band calls (e.g. the logit lens calling
/// lm_head on a proxy) can use a default-constructed context.

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace nnsight {

class KVCache;

/// The non-activation state of one forward call (see the file comment); default = no cache, plain causal.
struct ForwardContext {
  /// Cache to read past keys/values from and append new ones to; null = none.
  KVCache* cache = nullptr;
  /// [B, T] positions of the current tokens; undefined = 0..T-1 after the cache.
  at::Tensor position_ids;
  /// Additive attention bias [B, 1, T, S] (0 or a large negative) built by the
  /// model root from the attention mask; undefined = plain causal.
  at::Tensor attention_bias;
  /// Rotary tables for position_ids, [B, T, head_dim] each (Llama only).
  at::Tensor rope_cos;
  at::Tensor rope_sin;  ///< the sine table beside rope_cos
};

}  // namespace nnsight
