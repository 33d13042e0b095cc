#pragma once
/// @file
/// Text generation with a KV cache: prefill the prompts, then decode one token
/// per step for every row.
///
/// Prompts of different lengths are LEFT-padded, with an attention mask and
/// mask-derived position ids, so every row produces exactly what it would
/// produce alone (the batching trap of NNsight issue #672). Rows that emit an
/// end-of-sequence token stop (they are fed padding while the others go on).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace nnsight {

class CausalLM;

/// How generate() and generate_batch() choose and stop: greedy by default.
struct GenerateOptions {
  int64_t max_new_tokens = 32;  ///< new tokens per row at most
  double temperature = 0.0;     ///< <= 0: greedy
  int64_t top_k = 0;            ///< 0: no top-k filter
  double top_p = 1.0;           ///< 1: no nucleus filter
  /// Row r samples from its own generator seeded with seed + r, so a row's
  /// tokens do not depend on the other rows of the batch.
  uint64_t seed = 0;
  bool stop_at_eos = true;  ///< stop a row after it emits one of config().eos_token_ids
};

/// Called for each new token as soon as it is chosen.
using TokenCallback = std::function<void(int64_t row, int64_t token_id)>;

/// The same for an already batched, left-padded prompt: ids [B, T] and an
/// optional attention mask [B, T] (1 = token, 0 = padding). Runs under the
/// caller's grad mode (the tracing API generates with autograd available).
std::vector<std::vector<int64_t>> generate_batch(CausalLM& model, const at::Tensor& ids,
                                                 const at::Tensor& attention_mask, const GenerateOptions& options,
                                                 const TokenCallback& on_token = {});

/// The new tokens of each prompt (prompt excluded; a final EOS included).
/// Runs under c10::InferenceMode. Throws nnsight::Error for empty prompts,
/// token ids outside the vocabulary, or more positions than a model with
/// learned positions (GPT-2) supports.
std::vector<std::vector<int64_t>> generate(CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerateOptions& options = {}, const TokenCallback& on_token = {});

}  // namespace nnsight
