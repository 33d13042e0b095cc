#include "nnsight/runtime/generation/generate.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/ones.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>

#include "nnsight/base/error.h"
#include "nnsight/runtime/generation/kv_cache.h"
#include "nnsight/runtime/generation/sampler.h"
#include "nnsight/runtime/models/causal_lm.h"

namespace nnsight {
namespace {

// The token left padding fills in. Padded positions are masked out, so any id
// the embedding accepts will do: the configured pad token when it lies in the
// vocabulary (some configs name one outside it), else the first EOS, else 0.
int64_t padding_token(const ModelConfig& config) {
  auto in_vocab = [&](int64_t id) { return id >= 0 && id < config.vocab_size; };
  if (in_vocab(config.pad_token_id)) return config.pad_token_id;
  if (!config.eos_token_ids.empty() && in_vocab(config.eos_token_ids.front())) return config.eos_token_ids.front();
  return 0;
}

void check_prompts(const ModelConfig& config, const std::vector<std::vector<int64_t>>& prompts) {
  if (prompts.empty()) throw Error("generate() needs at least one prompt", "generate", "");
  for (std::size_t r = 0; r < prompts.size(); ++r) {
    if (prompts[r].empty())
      throw Error("prompt " + std::to_string(r) + " is empty", "generate",
                  "start the prompt with the BOS token (the tokenizer adds it when add_bos is true)");
    for (int64_t id : prompts[r])
      if (id < 0 || id >= config.vocab_size)
        throw Error("prompt " + std::to_string(r) + " holds token id " + std::to_string(id) +
                        ", outside the vocabulary of " + std::to_string(config.vocab_size),
                    "generate", "tokenize with this model's tokenizer");
  }
}

/// The last position's logits of every row as a contiguous float32 [B, vocab] tensor.
at::Tensor last_logits_float(const at::Tensor& logits) {
  at::Tensor last = logits.select(1, logits.size(1) - 1);  // [B, V]
  return last.to(at::kFloat).contiguous();
}

}  // namespace

std::vector<std::vector<int64_t>> generate_batch(CausalLM& model, const at::Tensor& ids,
                                                 const at::Tensor& attention_mask, const GenerateOptions& options,
                                                 const TokenCallback& on_token) {
  const ModelConfig& config = model.config();
  if (options.max_new_tokens < 0)
    throw Error("max_new_tokens must be >= 0, got " + std::to_string(options.max_new_tokens), "generate", "");
  const int64_t batch = ids.size(0), length = ids.size(1);
  std::vector<std::vector<int64_t>> out(static_cast<std::size_t>(batch));
  if (options.max_new_tokens == 0) return out;
  // The last new token is never fed back, so the cache needs one position fewer.
  const int64_t capacity = std::max(length, length + options.max_new_tokens - 1);
  if (config.arch == Architecture::GPT2 && config.max_positions > 0 && capacity > config.max_positions)
    throw Error("prompt (" + std::to_string(length) + " tokens) plus max_new_tokens (" +
                    std::to_string(options.max_new_tokens) + ") exceeds the model's " +
                    std::to_string(config.max_positions) + " positions",
                "generate", "shorten the prompt or generate fewer tokens");

  const int64_t pad = padding_token(config);
  auto is_eos = [&](int64_t id) {
    return std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), id) != config.eos_token_ids.end();
  };
  const auto long_opts = at::TensorOptions().dtype(at::kLong);
  at::Tensor mask;  // [B, capacity]: the prompt's mask, then ones for the new tokens
  if (attention_mask.defined()) {
    mask = at::ones({batch, capacity}, long_opts);
    mask.narrow(1, 0, length).copy_(attention_mask);
  }
  auto mask_upto = [&](int64_t s) { return mask.defined() ? mask.narrow(1, 0, s) : at::Tensor(); };

  KVCache cache(config, batch, capacity);
  std::vector<Sampler> samplers;
  samplers.reserve(static_cast<std::size_t>(batch));
  const SamplingOptions sampling{options.temperature, options.top_k, options.top_p};
  for (int64_t r = 0; r < batch; ++r) samplers.emplace_back(sampling, options.seed + static_cast<uint64_t>(r));

  std::vector<bool> finished(static_cast<std::size_t>(batch), false);
  at::Tensor logits = last_logits_float(model.logits(ids, mask_upto(length), &cache, 1));
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    const float* rows = logits.data_ptr<float>();
    const int64_t vocab = logits.size(1);
    // A fresh tensor per step: hooks may keep a step's input ids.
    at::Tensor next = at::empty({batch, 1}, long_opts);
    int64_t* next_data = next.data_ptr<int64_t>();
    bool all_done = true;
    for (int64_t r = 0; r < batch; ++r) {
      const auto ur = static_cast<std::size_t>(r);
      if (finished[ur]) {
        next_data[r] = pad;
        continue;
      }
      const int64_t token = samplers[ur].sample(rows + r * vocab, vocab);
      out[ur].push_back(token);
      if (on_token) on_token(r, token);
      if (options.stop_at_eos && is_eos(token)) finished[ur] = true;
      all_done &= finished[ur];
      next_data[r] = token;
    }
    if (all_done || step + 1 == options.max_new_tokens) break;
    logits = last_logits_float(model.logits(next, mask_upto(cache.length() + 1), &cache, 1));
  }
  return out;
}

std::vector<std::vector<int64_t>> generate(CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerateOptions& options, const TokenCallback& on_token) {
  check_prompts(model.config(), prompts);
  const auto batch = static_cast<int64_t>(prompts.size());
  int64_t longest = 0;
  bool ragged = false;
  for (const auto& p : prompts) longest = std::max(longest, static_cast<int64_t>(p.size()));
  for (const auto& p : prompts) ragged |= static_cast<int64_t>(p.size()) != longest;
  const ModelConfig& config = model.config();
  const int64_t pad = padding_token(config);

  c10::InferenceMode inference;
  // Left padding: every row's last prompt token sits at the same column.
  const auto long_opts = at::TensorOptions().dtype(at::kLong);
  at::Tensor ids = at::empty({batch, longest}, long_opts);
  at::Tensor mask;  // only when rows are padded
  if (ragged) mask = at::ones({batch, longest}, long_opts);
  int64_t* id_data = ids.data_ptr<int64_t>();
  for (int64_t r = 0; r < batch; ++r) {
    const auto& p = prompts[static_cast<std::size_t>(r)];
    const int64_t offset = longest - static_cast<int64_t>(p.size());
    std::fill(id_data + r * longest, id_data + r * longest + offset, pad);
    std::copy(p.begin(), p.end(), id_data + r * longest + offset);
    if (ragged && offset > 0) mask[r].narrow(0, 0, offset).fill_(0);
  }
  return generate_batch(model, ids, mask, options, on_token);
}

}  // namespace nnsight
