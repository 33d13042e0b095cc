#pragma once
// The model options the subcommands share (--model, --tokenizer, --dtype,
// --threads) and the one way they become a loaded model, so every command
// spells, documents, defaults and rejects them the same way.
//
//   struct RunArgs { ModelArgs model; ... };
//   add_model_options(*cmd, args->model);          // when registering the subcommand
//   LanguageModel model = load_language_model(args.model);  // in its callback

#include <cstdint>
#include <string>
#include <vector>

#include "nnsight/api/language_model.h"
#include "nnsight/runtime/model_loader.h"
#include "nnsight/runtime/tokenizers/tokenizer.h"

namespace CLI {
class App;
}

namespace nnsight::cli {

/// Whether a command needs a tokenizer (most do; `inspect` only shows one).
enum class TokenizerUse { Required, Optional };

/// The values of the shared model options (see add_model_options).
struct ModelArgs {
  std::string path;               ///< --model: Hugging Face folder, .gguf file or llama2.c .bin
  std::string tokenizer;          ///< --tokenizer: file or folder; empty = look beside the model
  std::string dtype = "fp32";     ///< --dtype: fp32 / bf16 (or float32 / bfloat16)
  int threads = 0;                ///< --threads: intra-op threads; 0 = all available cores
  bool require_tokenizer = true;  ///< set by add_model_options from its TokenizerUse
};

/// Registers --model/-m (required), --tokenizer, --dtype and --threads on
/// `cmd`, writing into `args` (which must outlive the parse, e.g. a member of
/// a shared_ptr the callback holds). Values outside the --dtype choices are
/// usage errors reported by CLI11.
void add_model_options(CLI::App& cmd, ModelArgs& args, TokenizerUse tokenizer = TokenizerUse::Required);

/// Registers --threads alone, for commands that load models their own way (`serve`).
void add_threads_option(CLI::App& cmd, int& threads);

/// Sets up the backend with args.threads and loads the module tree with its
/// tokenizer (null only for TokenizerUse::Optional when none is found).
/// Throws nnsight::Error naming the file for a missing or corrupt model or
/// tokenizer, with a hint on what to pass.
LoadedModel load_causal_lm(const ModelArgs& args);

/// load_causal_lm wrapped for tracing (needs a tokenizer).
LanguageModel load_language_model(const ModelArgs& args);

/// The prompt's token ids (with BOS when the tokenizer adds one); throws
/// nnsight::Error pointing at --prompt when there are none.
std::vector<int64_t> prompt_tokens(const Tokenizer& tokenizer, const std::string& prompt);

}  // namespace nnsight::cli
