#include "model_args.h"

#include <CLI/CLI.hpp>

#include "nnsight/base/backend.h"
#include "nnsight/base/error.h"

namespace nnsight::cli {

void add_model_options(CLI::App& cmd, ModelArgs& args, TokenizerUse tokenizer) {
  args.require_tokenizer = tokenizer == TokenizerUse::Required;
  cmd.add_option("--model,-m", args.path, "Model: Hugging Face folder, .gguf file, or llama2.c .bin")->required();
  cmd.add_option("--tokenizer", args.tokenizer,
                 args.require_tokenizer ? "Tokenizer file or folder (needed for llama2.c .bin files)"
                                        : "Tokenizer file or folder (optional; shown when found)");
  cmd.add_option("--dtype", args.dtype, "Compute dtype: fp32 or bf16")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "float32", "bfloat16"}));
  add_threads_option(cmd, args.threads);
}

void add_threads_option(CLI::App& cmd, int& threads) {
  cmd.add_option("--threads", threads, "Intra-op threads; 0 = all available cores")->capture_default_str();
}

LoadedModel load_causal_lm(const ModelArgs& args) {
  init_backend(args.threads);
  LoadOptions load;
  load.tokenizer_path = args.tokenizer;
  load.dtype = parse_dtype(args.dtype);
  load.require_tokenizer = args.require_tokenizer;
  return load_model(args.path, load);
}

LanguageModel load_language_model(const ModelArgs& args) { return LanguageModel(load_causal_lm(args)); }

std::vector<int64_t> prompt_tokens(const Tokenizer& tokenizer, const std::string& prompt) {
  std::vector<int64_t> ids = tokenizer.encode(prompt, /*add_bos=*/true);
  if (ids.empty())
    throw Error("the prompt encodes to no tokens and the tokenizer adds no BOS", "--prompt",
                "give a non-empty --prompt");
  return ids;
}

}  // namespace nnsight::cli
