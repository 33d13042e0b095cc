#pragma once
/// @file
/// ModelConfig: the architecture hyper-parameters every loader produces and
/// every model builder consumes, whatever the file format.

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nnsight {

/// The model family a config builds: GPT-2, or Llama (also Mistral and Qwen2, which share its layout).
enum class Architecture { GPT2, Llama };

/// How rotary embeddings pair dimensions within a head.
enum class RopeStyle {
  RotateHalf,   ///< Hugging Face: (x[i], x[i + d/2])
  Interleaved,  ///< llama2.c / GGUF: (x[2i], x[2i+1])
};

/// A model's hyper-parameters, named after Hugging Face's config.json fields where they differ.
struct ModelConfig {
  Architecture arch = Architecture::Llama;       ///< which builder makes the module tree
  std::string model_type;                        ///< "gpt2", "llama", "mistral", "qwen2"
  int64_t vocab_size = 0;                        ///< rows of the embedding and of lm_head
  int64_t hidden_size = 0;                       ///< model width
  int64_t num_layers = 0;                        ///< decoder layers
  int64_t num_heads = 0;                         ///< attention (query) heads
  int64_t num_kv_heads = 0;                      ///< key/value heads (< num_heads: grouped-query attention)
  int64_t head_dim = 0;                          ///< hidden_size / num_heads unless the config says otherwise
  int64_t intermediate_size = 0;                 ///< MLP width
  int64_t max_positions = 0;                     ///< longest sequence (n_positions / max_position_embeddings)
  double norm_eps = 1e-5;                        ///< epsilon of the LayerNorm / RMSNorm layers
  double rope_theta = 10000.0;                   ///< rotary base (Llama family)
  RopeStyle rope_style = RopeStyle::RotateHalf;  ///< rotary layout of the checkpoint's q/k weights
  bool tie_word_embeddings = false;              ///< lm_head shares the embedding's weight
  bool attention_qkv_bias = false;               ///< q/k/v projections have biases (Qwen2, GPT-2)
  bool attention_out_bias = false;               ///< the attention output projection has a bias
  bool mlp_bias = false;                         ///< the MLP projections have biases
  std::string activation = "silu";               ///< "gelu_new" for GPT-2
  int64_t bos_token_id = -1;                     ///< -1 = none
  std::vector<int64_t> eos_token_ids;            ///< generation stops a row at any of these
  int64_t pad_token_id = -1;                     ///< -1 = none (generation pads with EOS)
  at::ScalarType dtype = at::kFloat;             ///< compute dtype of the built model

  /// Throws nnsight::Error naming `source` if a field is missing or inconsistent.
  void validate(const std::string& source) const;
};

/// "gpt2" / "llama".
const char* to_string(Architecture arch);

}  // namespace nnsight
