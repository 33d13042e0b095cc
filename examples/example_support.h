#pragma once
// Helpers shared by the example programs: where the test models are, loading
// stories260K, and printing tokens.
//
// Every example takes the models folder as its first argument (default
// ../shared/models, as seen from the project root) and runs on stories260K: a
// trained 5-layer Llama-architecture model small enough to run instantly.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "nnsight/api/nnsight.h"
#include "nnsight/base/backend.h"

namespace nnsight::examples {

/// argv[1], or ../shared/models.
inline std::string models_dir(int argc, char** argv) { return argc > 1 ? argv[1] : "../shared/models"; }

/// stories260K in Hugging Face layout (module paths model.layers.N, model.norm, lm_head) with its llama2.c
/// tokenizer, after setting up the tensor backend.
inline LanguageModel load_stories260k(const std::string& models) {
  init_backend();
  LoadOptions options;
  options.tokenizer_path = models + "/stories260K/tok512.bin";
  return LanguageModel::load(models + "/stories260K-hf", options);
}

/// One token's text in quotes, e.g. "' time'" (the quotes show leading spaces).
inline std::string piece(const LanguageModel& model, int64_t id) { return "'" + model.tokenizer().decode({id}) + "'"; }
inline std::string piece(const LanguageModel& model, const at::Tensor& id) { return piece(model, id.item<int64_t>()); }

/// One token's own text in quotes, leading space included ("' time'"): as the token stands in a text, not
/// as the first word of one (piece drops that space, as decoding a whole text does).
inline std::string token(const LanguageModel& model, int64_t id) {
  return "'" + model.tokenizer().token_bytes(id) + "'";
}
inline std::string token(const LanguageModel& model, const at::Tensor& id) { return token(model, id.item<int64_t>()); }

/// A token as a table column header: its text cut to `width` bytes, "<s>" for BOS (which decodes to nothing).
inline std::string column_label(const LanguageModel& model, int64_t id, std::size_t width) {
  const std::string text = model.tokenizer().decode({id});
  return text.empty() ? "<s>" : text.substr(0, width);
}

/// A clean and a corrupted prompt of equal token count, for patching: argv[2] and argv[3] when both are
/// given, else the defaults.
struct PromptPair {
  std::string clean, corrupt;
  std::vector<int64_t> clean_ids, corrupt_ids;
};
inline PromptPair prompt_pair(const LanguageModel& model, int argc, char** argv, std::string clean,
                              std::string corrupt) {
  if (argc > 3) {
    clean = argv[2];
    corrupt = argv[3];
  }
  PromptPair pair{clean, corrupt, model.tokenize(clean), model.tokenize(corrupt)};
  if (pair.clean_ids.size() != pair.corrupt_ids.size())
    throw std::runtime_error("the two prompts must have as many tokens (" + std::to_string(pair.clean_ids.size()) +
                             " vs " + std::to_string(pair.corrupt_ids.size()) + ")");
  return pair;
}

}  // namespace nnsight::examples
