#pragma once
/// @file
/// CausalLM: the root module of a decoder-only language model (Hugging Face
/// GPT2LMHeadModel, LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM),
/// and build_model, which makes one from a config and its weights.
///
/// Root call: Inputs{args: [input_ids int64 [B, T]], kwargs: {attention_mask:
/// [B, past + T] (1 = real token, 0 = padding), optional; logits_to_keep: int,
/// optional (only the last N positions reach lm_head, as in Hugging Face)}}
/// with ForwardContext::cache possibly set. The root derives position ids
/// (cumsum of the mask, so left padding works), the additive attention bias and
/// leaves both in the context for the layers; it returns logits [B, T, vocab].
///
/// Submodule outputs follow Hugging Face: decoder layers and the base model
/// ("transformer"/"model") return tuples whose element 0 is the hidden states,
/// attention modules return (attn_output, None), everything else a tensor.

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <memory>

#include "nnsight/runtime/model_config.h"
#include "nnsight/runtime/module.h"

namespace nnsight {

class KVCache;
class WeightStore;

/// The root module of a decoder-only language model (see the file comment for its call).
class CausalLM : public Module {
 public:
  /// The architecture, sizes and dtype it was built with.
  const ModelConfig& config() const { return config_; }

  /// Logits [B, T, vocab] (or [B, logits_to_keep, vocab]) through the root's
  /// dispatch point, so hooks on the root see the call. `cache` is read and
  /// extended by T positions.
  at::Tensor logits(const at::Tensor& input_ids, const at::Tensor& attention_mask = {}, KVCache* cache = nullptr,
                    int64_t logits_to_keep = 0);

  /// Number of decoder layers.
  std::size_t num_layers() const { return layers_->size(); }
  /// Decoder layer i ("transformer.h.i" / "model.layers.i").
  Module& layer(std::size_t i) const;
  /// "transformer.ln_f" / "model.norm".
  Module& final_norm() const { return *final_norm_; }
  /// "lm_head": hidden states to logits.
  Module& lm_head() const { return *lm_head_; }
  /// "transformer.wte" / "model.embed_tokens".
  Module& embed_tokens() const { return *embed_tokens_; }
  /// "transformer" / "model".
  Module& base_model() const { return *base_model_; }

 protected:
  /// An empty root called `type_name` ("LlamaForCausalLM"); the family builder adds the tree.
  CausalLM(std::string type_name, ModelConfig config);
  /// Called by the family builders once the tree exists.
  void set_structure(Module* base_model, ModuleList* layers, Module* embed_tokens, Module* final_norm, Module* lm_head);
  /// The root call described in the file comment: input ids (and mask) to logits.
  Value forward(Inputs& inputs, ForwardContext& ctx) override;

 private:
  ModelConfig config_;
  Module* base_model_ = nullptr;
  ModuleList* layers_ = nullptr;
  Module* embed_tokens_ = nullptr;
  Module* final_norm_ = nullptr;
  Module* lm_head_ = nullptr;
};

/// Builds the module tree for config.arch and takes every tensor it needs
/// from `weights` (Hugging Face names), checking shapes and converting to
/// config.dtype (no copy when the dtype already matches, so memory-mapped
/// weights stay mapped). Throws nnsight::Error naming the file and tensor on a
/// missing or mis-shaped tensor, and listing leftovers when the checkpoint
/// holds tensors the architecture does not use. Weights do not require grad
/// and are not inference tensors (safe to use under autograd later).
std::unique_ptr<CausalLM> build_model(const ModelConfig& config, WeightStore& weights);

}  // namespace nnsight
