// `nnsight generate`: stream a model's continuation of a prompt to stdout.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "commands.h"
#include "model_args.h"
#include "nnsight/runtime/generation/generate.h"
#include "nnsight/runtime/tokenizers/text_stream.h"
#include "progress.h"

namespace nnsight::cli {
namespace {

struct GenerateArgs {
  ModelArgs model;
  std::string prompt;
  int64_t max_new_tokens = 64;
  double temperature = 0.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  uint64_t seed = 0;
};

void run_generate(const GenerateArgs& args) {
  LoadedModel lm = load_causal_lm(args.model);
  const Tokenizer& tok = *lm.tokenizer;
  const std::vector<int64_t> prompt = prompt_tokens(tok, args.prompt);
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
  add_model_options(*cmd, args->model);
  cmd->add_option("--prompt,-p", args->prompt, "Prompt text")->required();
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
  cmd->callback([args] { run_generate(*args); });
}

}  // namespace nnsight::cli
