#pragma once
/// @file
/// Llama-family decoders (Hugging Face LlamaForCausalLM and the same layout
/// under Mistral / Qwen2 class names): RMSNorm, RoPE (rotate-half or
/// interleaved, per config.rope_style), grouped-query attention, SwiGLU MLP,
/// optional q/k/v (Qwen2), output and MLP biases, tied or untied lm_head.
///
/// ```
///   model (LlamaModel): embed_tokens, layers.N (LlamaDecoderLayer:
///   input_layernorm, self_attn (LlamaAttention: q_proj, k_proj, v_proj,
///   o_proj), post_attention_layernorm, mlp (LlamaMLP: gate_proj, up_proj,
///   down_proj, act_fn)), norm, rotary_emb; lm_head
/// ```

#include <memory>
#include <string>

#include "nnsight/runtime/models/causal_lm.h"

namespace nnsight {

class WeightLoader;

/// Builds a Llama/Mistral/Qwen2 tree (class names follow config.model_type).
/// Mistral's sliding window is not applied (all positions are attended).
std::unique_ptr<CausalLM> build_llama(const ModelConfig& config, WeightLoader& weights);

/// "Llama", "Mistral", "Qwen2": the class-name prefix for a model_type.
std::string llama_family_prefix(const std::string& model_type);

}  // namespace nnsight
