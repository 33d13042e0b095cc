#pragma once
/// @file
/// load_model: a ready-to-run language model (module tree + tokenizer) from a
/// Hugging Face folder, a GGUF file or a llama2.c .bin checkpoint.

#include <c10/core/ScalarType.h>

#include <memory>
#include <string>

#include "nnsight/runtime/models/causal_lm.h"
#include "nnsight/runtime/tokenizers/tokenizer.h"

namespace nnsight {

/// What load_model reads besides the model files.
struct LoadOptions {
  /// Tokenizer file or folder; empty = find one beside the model (tokenizer.json,
  /// vocab.json + merges.txt, the GGUF's own vocabulary, or a single tok*.bin /
  /// tokenizer.bin next to a llama2.c checkpoint).
  std::string tokenizer_path;
  at::ScalarType dtype = at::kFloat;  ///< compute dtype: kFloat or kBFloat16
  bool require_tokenizer = true;      ///< false: a missing tokenizer leaves LoadedModel::tokenizer null
};

/// The result of load_model.
struct LoadedModel {
  std::unique_ptr<CausalLM> model;             ///< the module tree with its weights
  std::shared_ptr<const Tokenizer> tokenizer;  ///< null only when !require_tokenizer
  std::string source;                          ///< the path it was loaded from (for messages)
};

/// Throws nnsight::Error naming the file for a missing/corrupt model or
/// tokenizer, with a hint on what to pass.
LoadedModel load_model(const std::string& path, const LoadOptions& options = {});

/// Parses "fp32"/"float32"/"bf16"/"bfloat16"; throws nnsight::Error otherwise.
at::ScalarType parse_dtype(const std::string& name);

}  // namespace nnsight
