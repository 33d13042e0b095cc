// Definitions for runtime/model_config.h (kept with the loaders, which produce ModelConfigs).
#include "nnsight/runtime/model_config.h"

#include "nnsight/base/error.h"

namespace nnsight {

const char* to_string(Architecture arch) {
  switch (arch) {
    case Architecture::GPT2: return "gpt2";
    case Architecture::Llama: return "llama";
  }
  return "unknown";
}

void ModelConfig::validate(const std::string& source) const {
  const std::string where = "model config from " + source;
  const std::string hint = "the config is incomplete or inconsistent; check it belongs to these weights";
  auto positive = [&](const char* field, int64_t v) {
    if (v <= 0) throw Error(std::string(field) + " must be positive but is " + std::to_string(v), where, hint);
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("num_layers", num_layers);
  positive("num_heads", num_heads);
  positive("num_kv_heads", num_kv_heads);
  positive("head_dim", head_dim);
  positive("intermediate_size", intermediate_size);
  positive("max_positions", max_positions);
  if (num_heads % num_kv_heads != 0)
    throw Error("num_heads (" + std::to_string(num_heads) + ") is not a multiple of num_kv_heads (" +
                    std::to_string(num_kv_heads) + ")",
                where, hint);
  if (arch == Architecture::GPT2 && (hidden_size % num_heads != 0 || head_dim * num_heads != hidden_size))
    throw Error("hidden_size (" + std::to_string(hidden_size) + ") is not num_heads (" + std::to_string(num_heads) +
                    ") x head_dim (" + std::to_string(head_dim) + ")",
                where, hint);
  if (arch == Architecture::Llama && head_dim % 2 != 0)
    throw Error("head_dim (" + std::to_string(head_dim) + ") must be even for rotary embeddings", where, hint);
  if (!(norm_eps > 0)) throw Error("norm epsilon must be positive", where, hint);
  if (arch == Architecture::Llama && !(rope_theta > 0)) throw Error("rope_theta must be positive", where, hint);
  if (bos_token_id >= vocab_size)
    throw Error("bos_token_id " + std::to_string(bos_token_id) + " is outside the vocabulary", where, hint);
  for (int64_t e : eos_token_ids)
    if (e >= vocab_size) throw Error("eos_token_id " + std::to_string(e) + " is outside the vocabulary", where, hint);
}

}  // namespace nnsight
