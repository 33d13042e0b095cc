// `nnsight inspect`: print a model's module tree (path, type, parameter shapes).
#include <c10/core/ScalarType.h>
#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <memory>
#include <set>

#include "commands.h"
#include "model_args.h"
#include "nnsight/base/value.h"

namespace nnsight::cli {
namespace {

void run_inspect(const ModelArgs& args) {
  LoadedModel lm = load_causal_lm(args);
  const ModelConfig& c = lm.model->config();

  // Tied weights (lm_head = embedding) are one tensor: count storage once.
  int64_t total = 0;
  std::set<const void*> seen;
  for (const auto& [name, t] : lm.model->named_parameters())
    if (seen.insert(t.data_ptr()).second) total += t.numel();
  std::cout << lm.model->type_name() << " from " << args.path << "\n"
            << "  " << c.model_type << ": " << c.num_layers << " layers, hidden " << c.hidden_size << ", "
            << c.num_heads << " heads (" << c.num_kv_heads << " kv), vocab " << c.vocab_size << ", " << total
            << " parameters, " << (c.dtype == at::kBFloat16 ? "bf16" : "fp32") << "\n";
  if (lm.tokenizer) std::cout << "  tokenizer: " << lm.tokenizer->source() << "\n";
  std::cout << "\n";

  std::size_t width = 0;
  for (Module* m : lm.model->modules()) width = std::max(width, m->path().size());
  for (Module* m : lm.model->modules()) {
    const std::string path = m->path().empty() ? "(root)" : m->path();
    std::cout << std::left << std::setw(static_cast<int>(width + 2)) << path << std::setw(26) << m->type_name();
    bool first = true;
    for (const auto& [name, t] : m->parameters()) {
      std::cout << (first ? "" : "  ") << name << " " << format_shape(t.sizes());
      first = false;
    }
    std::cout << "\n";
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<ModelArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Print the module tree: path, type, parameter shapes");
  add_model_options(*cmd, *args, TokenizerUse::Optional);
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace nnsight::cli
