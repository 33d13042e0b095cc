// `nnsight generate`: stream a model's continuation of a prompt to stdout.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "commands.h"
#include "nnsight/base/backend.h"
#include "nnsight/base/error.h"
#include "nnsight/runtime/generation/generate.h"
#include "nnsight/runtime/model_loader.h"
#include "nnsight/runtime/tokenizers/text_stream.h"
#include "progress.h"

namespace nnsight::cli {
namespace {

struct GenerateArgs {
  std::string model;
  std::string tokenizer;
  std::string prompt;
  std::string dtype = "fp32";
  int64_t max_new_tokens = 64;
  double temperature = 0.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  uint64_t seed = 0;
  int threads = 0;
};

void run_generate(const GenerateArgs& args) {
  init_backend(args.threads);
  LoadOptions load;
  load.tokenizer_path = args.tokenizer;
  load.dtype = parse_dtype(args.dtype);
  LoadedModel lm = load_model(args.model, load);
  const Tokenizer& tok = *lm.tokenizer;

  std::vector<int64_t> prompt = tok.encode(args.prompt, /*add_bos=*/true);
  if (prompt.empty())
    throw Error("the prompt encodes to no tokens and the tokenizer adds no BOS", "--prompt",
                "give a non-empty --prompt");
  GenerateOptions options;
  options.max_new_tokens = args.max_new_tokens;
  options.temperature = args.temperature;
  options.top_k = args.top_k;
  options.top_p = args.top_p;
  options.seed = args.seed;

  // Tokens/s on stderr when it is a terminal: a live line when stdout goes
  // elsewhere, else (the streamed text is the progress) a closing summary.
  Progress progress(Progress::terminal(), "generating", args.max_new_tokens, !Progress::stdout_is_terminal());
  std::cout << tok.decode(prompt) << std::flush;
  TextStream stream(tok, /*skip_special=*/true, prompt.back());
  generate(*lm.model, {prompt}, options, [&](int64_t, int64_t id) {
    progress.without_status([&] { std::cout << stream.push(id) << std::flush; });
    progress.advance();
  });
  progress.without_status([&] { std::cout << stream.flush() << "\n" << std::flush; });
  progress.finish();
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt, streamed to stdout (prompt included)");
  cmd->add_option("--model,-m", args->model, "Model: Hugging Face folder, .gguf file, or llama2.c .bin")->required();
  cmd->add_option("--prompt,-p", args->prompt, "Prompt text")->required();
  cmd->add_option("--tokenizer", args->tokenizer, "Tokenizer file or folder (needed for llama2.c .bin files)");
  cmd->add_option("--max-new-tokens,-n", args->max_new_tokens, "Tokens to generate")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--temperature,-t", args->temperature, "Sampling temperature; 0 = greedy")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-k", args->top_k, "Keep only the k most likely tokens; 0 = off")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", args->top_p, "Nucleus sampling mass; 1 = off")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", args->seed, "Random seed for sampling")->capture_default_str();
  cmd->add_option("--dtype", args->dtype, "Compute dtype: fp32 or bf16")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "float32", "bfloat16"}));
  cmd->add_option("--threads", args->threads, "Intra-op threads; 0 = all available cores")->capture_default_str();
  cmd->callback([args] { run_generate(*args); });
}

}  // namespace nnsight::cli
