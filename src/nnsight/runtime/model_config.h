#pragma once
// ModelConfig: the architecture hyper-parameters every loader produces and
// every model builder consumes, whatever the file format.

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nnsight {

enum class Architecture { GPT2, Llama };

/// How rotary embeddings pair dimensions within a head.
enum class RopeStyle {
  RotateHalf,   ///< Hugging Face: (x[i], x[i + d/2])
  Interleaved,  ///< llama2.c / GGUF: (x[2i], x[2i+1])
};

struct ModelConfig {
  Architecture arch = Architecture::Llama;
  std::string model_type;  ///< "gpt2", "llama", "mistral", "qwen2"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  ///< hidden_size / num_heads unless the config says otherwise
  int64_t intermediate_size = 0;
  int64_t max_positions = 0;
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeStyle rope_style = RopeStyle::RotateHalf;
  bool tie_word_embeddings = false;
  bool attention_qkv_bias = false;  ///< Qwen2
  bool attention_out_bias = false;
  bool mlp_bias = false;
  std::string activation = "silu";  ///< "gelu_new" for GPT-2
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = -1;
  at::ScalarType dtype = at::kFloat;  ///< compute dtype of the built model

  /// Throws nnsight::Error naming `source` if a field is missing or inconsistent.
  void validate(const std::string& source) const;
};

const char* to_string(Architecture arch);

}  // namespace nnsight
