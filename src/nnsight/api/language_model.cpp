// LanguageModel: tokenizing and left-padding invokes into one batch.

#include "nnsight/api/language_model.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/ones.h>

#include <algorithm>

#include "nnsight/base/error.h"
#include "nnsight/runtime/generation/kv_cache.h"
#include "nnsight/runtime/generation/sampler.h"

namespace nnsight {

LanguageModel::LanguageModel(LoadedModel loaded)
    : Model(std::unique_ptr<Module>(loaded.model.release())), tokenizer_(std::move(loaded.tokenizer)) {
  lm_ = static_cast<CausalLM*>(root_);
  if (!tokenizer_)
    throw Error("a LanguageModel needs a tokenizer", loaded.source,
                "load the model with a tokenizer (LoadOptions::tokenizer_path)");
}

LanguageModel LanguageModel::load(const std::string& path, const LoadOptions& options) {
  return LanguageModel(load_model(path, options));
}

std::vector<int64_t> LanguageModel::tokenize(const std::string& prompt) const {
  return tokenizer_->encode(prompt, /*add_bos=*/true);
}

void LanguageModel::add_rows(const Value& input, std::vector<std::vector<int64_t>>& rows) const {
  const char* hint = "pass a prompt, a list of prompts, a list of token ids or an int tensor [T] / [batch, T]";
  switch (input.kind()) {
    case Value::Kind::String: rows.push_back(tokenize(input.as_string())); return;
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      const auto& items = input.items();
      if (!items.empty() &&
          std::all_of(items.begin(), items.end(), [](const Value& v) { return v.kind() == Value::Kind::Int; })) {
        std::vector<int64_t> ids;
        for (const Value& v : items) ids.push_back(v.as_int());
        rows.push_back(std::move(ids));
        return;
      }
      for (const Value& v : items) add_rows(v, rows);
      return;
    }
    case Value::Kind::Tensor: {
      at::Tensor t = input.as_tensor();
      if (!t.defined() || t.dim() < 1 || t.dim() > 2 || at::isFloatingType(t.scalar_type()))
        throw Error("token ids must be an int tensor [T] or [batch, T], got " + input.repr(), "", hint);
      t = t.to(at::kLong).contiguous();
      if (t.dim() == 1) t = t.unsqueeze(0);
      for (int64_t r = 0; r < t.size(0); ++r) {
        const int64_t* p = t[r].data_ptr<int64_t>();
        rows.emplace_back(p, p + t.size(1));
      }
      return;
    }
    default: throw Error("a language model cannot take " + input.repr() + " as input", "", hint);
  }
}

Model::Batch LanguageModel::prepare(const std::vector<Value>& invoke_inputs) {
  Batch batch;
  std::vector<std::vector<int64_t>> rows;
  for (const Value& input : invoke_inputs) {
    const auto start = static_cast<int64_t>(rows.size());
    add_rows(input, rows);
    batch.groups.push_back({start, static_cast<int64_t>(rows.size()) - start});
  }
  std::size_t length = 0;
  for (const auto& r : rows) {
    if (r.empty()) throw Error("an input has no tokens", "", "pass a non-empty prompt");
    length = std::max(length, r.size());
  }
  const int64_t pad = tokenizer_->pad_id() >= 0 ? tokenizer_->pad_id() : 0;
  std::vector<int64_t> ids(rows.size() * length, pad), mask(rows.size() * length, 0);
  bool padded = false;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const std::size_t offset = length - rows[r].size();  // left padding
    padded = padded || offset > 0;
    std::copy(rows[r].begin(), rows[r].end(), ids.begin() + static_cast<std::ptrdiff_t>(r * length + offset));
    std::fill(mask.begin() + static_cast<std::ptrdiff_t>(r * length + offset),
              mask.begin() + static_cast<std::ptrdiff_t>((r + 1) * length), 1);
  }
  const std::vector<int64_t> shape{static_cast<int64_t>(rows.size()), static_cast<int64_t>(length)};
  batch.inputs = Inputs({Value(at::from_blob(ids.data(), shape, at::kLong).clone())});
  if (padded) batch.inputs.kwargs.set("attention_mask", Value(at::from_blob(mask.data(), shape, at::kLong).clone()));
  return batch;
}

}  // namespace nnsight

// ---- Traced generation ----------------------------------------------------------

namespace nnsight {

std::vector<std::vector<int64_t>> LanguageModel::tokens_of(const Traced& generated) {
  std::vector<std::vector<int64_t>> out;
  if (!generated.output.is_sequence()) return out;
  for (const Value& row : generated.output.items()) {
    std::vector<int64_t> ids;
    for (const Value& id : row.items()) ids.push_back(id.as_int());
    out.push_back(std::move(ids));
  }
  return out;
}

std::function<Value(Inputs&)> LanguageModel::generation_loop(const GenerateOptions& options) {
  return [this, options](Inputs& call) -> Value {
    if (options.max_new_tokens < 1)
      throw Error("a traced generation needs max_new_tokens >= 1, got " + std::to_string(options.max_new_tokens),
                  "generate", "use trace() to run the prompt once");
    const ModelConfig& config = lm_->config();
    const at::Tensor ids = call.args.at(0).as_tensor();
    at::Tensor prompt_mask;
    if (const Value* m = call.kwargs.find("attention_mask")) prompt_mask = m->as_tensor();
    const int64_t batch = ids.size(0), length = ids.size(1);
    const int64_t capacity = std::max(length, length + options.max_new_tokens - 1);
    if (config.arch == Architecture::GPT2 && config.max_positions > 0 && capacity > config.max_positions)
      throw Error(
          "the prompt plus max_new_tokens exceeds the model's " + std::to_string(config.max_positions) + " positions",
          "generate", "shorten the prompt or generate fewer tokens");
    const int64_t pad = config.pad_token_id >= 0        ? config.pad_token_id
                        : !config.eos_token_ids.empty() ? config.eos_token_ids.front()
                                                        : 0;
    auto is_eos = [&](int64_t id) {
      return std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), id) != config.eos_token_ids.end();
    };
    at::Tensor mask;
    if (prompt_mask.defined()) {
      mask = at::ones({batch, capacity}, at::TensorOptions().dtype(at::kLong));
      mask.narrow(1, 0, length).copy_(prompt_mask);
    }
    auto mask_upto = [&](int64_t s) { return mask.defined() ? mask.narrow(1, 0, s) : at::Tensor(); };

    KVCache cache(config, batch, capacity);
    std::vector<Sampler> samplers;
    const SamplingOptions sampling{options.temperature, options.top_k, options.top_p};
    for (int64_t r = 0; r < batch; ++r) samplers.emplace_back(sampling, options.seed + static_cast<uint64_t>(r));
    std::vector<std::vector<int64_t>> out(static_cast<std::size_t>(batch));
    std::vector<bool> finished(static_cast<std::size_t>(batch), false);

    at::Tensor logits = lm_->logits(ids, mask_upto(length), &cache, 1);
    for (int64_t step = 0; step < options.max_new_tokens; ++step) {
      const at::Tensor last = logits.select(1, logits.size(1) - 1).to(at::kFloat).contiguous();
      const float* rows = last.data_ptr<float>();
      const int64_t vocab = last.size(1);
      at::Tensor next = at::empty({batch, 1}, at::TensorOptions().dtype(at::kLong));
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
        if (options.stop_at_eos && is_eos(token)) finished[ur] = true;
        all_done = all_done && finished[ur];
        next_data[r] = token;
      }
      if (all_done || step + 1 == options.max_new_tokens) break;
      logits = lm_->logits(next, mask_upto(cache.length() + 1), &cache, 1);
    }
    std::vector<Value> rows;
    for (const auto& row : out) {
      std::vector<Value> items(row.begin(), row.end());
      rows.push_back(Value::list(std::move(items)));
    }
    return Value::list(std::move(rows));
  };
}

}  // namespace nnsight
