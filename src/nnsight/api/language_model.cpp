// LanguageModel: tokenizing and left-padding invokes into one batch.

#include "nnsight/api/language_model.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/ones.h>

#include <algorithm>

#include "nnsight/base/error.h"

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

std::function<Value(Inputs&)> LanguageModel::generation_loop(const GenerateOptions& options, TokenCallback on_token) {
  return [this, options, on_token = std::move(on_token)](Inputs& call) -> Value {
    if (options.max_new_tokens < 1)
      throw Error("a traced generation needs max_new_tokens >= 1, got " + std::to_string(options.max_new_tokens),
                  "generate", "use trace() to run the prompt once");
    const at::Tensor ids = call.args.at(0).as_tensor();
    at::Tensor prompt_mask;
    if (const Value* m = call.kwargs.find("attention_mask")) prompt_mask = m->as_tensor();
    const auto out = generate_batch(*lm_, ids, prompt_mask, options, on_token);
    std::vector<Value> rows;
    for (const auto& row : out) {
      std::vector<Value> items(row.begin(), row.end());
      rows.push_back(Value::list(std::move(items)));
    }
    return Value::list(std::move(rows));
  };
}

}  // namespace nnsight
