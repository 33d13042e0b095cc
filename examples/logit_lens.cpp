// Logit lens on stories260K: what would the model predict if it stopped after
// layer l? Each layer's residual stream, at every position, is read through
// the final norm and the unembedding (the model's own last two steps).
//
//   logit_lens [MODELS_DIR [PROMPT]]
//
// Prints a table: one row per layer (and the model's real output), one column
// per input token; each cell is the top next-token guess and its probability.
// `nnsight logit-lens` draws the same table as a heatmap.
#include <ATen/ATen.h>

#include <cstdio>
#include <string>
#include <vector>

#include "example_support.h"

using namespace nnsight;

namespace {

/// One table row: the top token and its probability at every position of `probs` [T, V].
void print_row(const LanguageModel& model, const std::string& label, const at::Tensor& probs) {
  std::printf("%-8s", label.c_str());
  const auto [p, id] = probs.max(-1);
  for (int64_t t = 0; t < probs.size(0); ++t)
    std::printf(" %-9s %.3f", examples::token(model, id[t]).c_str(), p[t].item<double>());
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) try {
  LanguageModel model = examples::load_stories260k(examples::models_dir(argc, argv));
  const std::string prompt = argc > 2 ? argv[2] : "Lily went to the park";
  const int64_t layers = model.config().num_layers;

  // The key lines: for every layer, lm_head(norm(residual)), computed while the trace runs.
  std::vector<Saved> lens(static_cast<std::size_t>(layers));
  Saved output;
  model.trace(prompt, [&] {
    for (int64_t l = 0; l < layers; ++l) {
      Proxy residual = model["model.layers"][l].output()[0];  // [1, T, hidden]
      lens[static_cast<std::size_t>(l)] = model["lm_head"](model["model.norm"](residual))[0].softmax(-1).save();
    }
    output = model["lm_head"].output()[0].softmax(-1).save();
  });

  std::printf("logit lens on \"%s\": the top next token read from each layer at each position, and its probability\n",
              prompt.c_str());
  std::printf("%-8s", "");
  for (int64_t id : model.tokenize(prompt))
    std::printf(" %-15s", id == model.tokenizer().bos_id() ? "<s>" : examples::token(model, id).c_str());
  std::printf("\n");
  for (int64_t l = 0; l < layers; ++l)
    print_row(model, "layer " + std::to_string(l), lens[static_cast<std::size_t>(l)].tensor());
  print_row(model, "output", output.tensor());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "logit_lens: error: %s\n", e.what());
  return 1;
}
