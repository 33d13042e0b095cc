#pragma once
/// @file
/// GPT-2 (Hugging Face GPT2LMHeadModel): learned positions, LayerNorm,
/// Conv1D projections, fused c_attn, gelu_new MLP, tied or untied lm_head.
///
/// ```
///   transformer (GPT2Model): wte, wpe, h.N (GPT2Block: ln_1, attn
///   (GPT2Attention: c_attn, c_proj), ln_2, mlp (GPT2MLP: c_fc, act, c_proj)),
///   ln_f; lm_head (Linear)
/// ```

#include <memory>

#include "nnsight/runtime/models/causal_lm.h"

namespace nnsight {

class WeightLoader;

/// Builds a GPT-2 tree. Accepts checkpoints with or without the
/// "transformer." prefix (GPT2Model saves omit it) and drops the attn.bias /
/// attn.masked_bias buffers older checkpoints carry.
std::unique_ptr<CausalLM> build_gpt2(const ModelConfig& config, WeightLoader& weights);

}  // namespace nnsight
