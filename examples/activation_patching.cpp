// Activation patching across prompts on stories260K: where, by layer and
// position, does the model carry the information that decides its answer?
//
//   activation_patching [MODELS_DIR [CLEAN_PROMPT CORRUPTED_PROMPT]]
//
// The two prompts differ in one token (the object the story is about), which
// changes the answer. For every layer l and position p, the corrupted prompt
// is run with its layer-l residual at position p replaced by the clean one;
// the table shows how much of the clean answer that restores:
//
//   recovered(l, p) = (metric(patched) - metric(corrupt)) / (metric(clean) - metric(corrupt))
//
// with metric = logit(clean answer) - logit(corrupted answer) at the last
// position. 1 = the whole effect flows through that cell, 0 = none of it.
// Each layer is one trace: the clean prompt plus one invoke per position.
#include <ATen/ATen.h>

#include <cstdio>
#include <string>
#include <vector>

#include "example_support.h"

using namespace nnsight;
using examples::piece;

int main(int argc, char** argv) try {
  LanguageModel model = examples::load_stories260k(examples::models_dir(argc, argv));
  const int64_t layers = model.config().num_layers;
  const examples::PromptPair prompts =
      examples::prompt_pair(model, argc, argv, "Lily had a cat. Lily loved her", "Lily had a dog. Lily loved her");
  const std::string& clean = prompts.clean;
  const std::string& corrupt = prompts.corrupt;
  const std::vector<int64_t>& clean_ids = prompts.clean_ids;
  const std::vector<int64_t>& corrupt_ids = prompts.corrupt_ids;
  const auto positions = static_cast<int64_t>(clean_ids.size());

  // The answers: each prompt's own top next token.
  Saved clean_logits, corrupt_logits;
  model.trace([&](Tracer& tracer) {
    tracer.invoke(clean, [&] { clean_logits = model["lm_head"].output()[{0, -1}].save(); });
    tracer.invoke(corrupt, [&] { corrupt_logits = model["lm_head"].output()[{0, -1}].save(); });
  });
  const int64_t good = clean_logits.tensor().argmax().item<int64_t>();
  const int64_t bad = corrupt_logits.tensor().argmax().item<int64_t>();
  if (good == bad) {
    std::fprintf(stderr, "both prompts give the answer %s: nothing to patch\n", piece(model, good).c_str());
    return 1;
  }
  auto metric = [&](const at::Tensor& last_logits) { return (last_logits[good] - last_logits[bad]).item<double>(); };
  const double clean_metric = metric(clean_logits.tensor());
  const double corrupt_metric = metric(corrupt_logits.tensor());
  std::printf("clean:   \"%s\" -> %s\ncorrupt: \"%s\" -> %s\n", clean.c_str(), piece(model, good).c_str(),
              corrupt.c_str(), piece(model, bad).c_str());
  std::printf("metric = logit(%s) - logit(%s) at the last position: clean %.3f, corrupt %.3f\n\n",
              piece(model, good).c_str(), piece(model, bad).c_str(), clean_metric, corrupt_metric);

  // The key lines: per layer, one batched run; invoke 0 is the clean prompt, invoke 1 + p the corrupted prompt
  // with position p of the layer's residual taken from invoke 0.
  at::Tensor recovered = at::zeros({layers, positions}, at::kDouble);
  for (int64_t l = 0; l < layers; ++l) {
    std::vector<Saved> patched(static_cast<std::size_t>(positions));
    model.trace([&](Tracer& tracer) {
      Proxy clean_residual;
      tracer.invoke(clean, [&] { clean_residual = model["model.layers"][l].output()[0]; });
      for (int64_t p = 0; p < positions; ++p) {
        tracer.invoke(corrupt, [&] {
          model["model.layers"][l].output()[0].set({Slice(), p}, clean_residual[{Slice(), p}]);
          patched[static_cast<std::size_t>(p)] = model["lm_head"].output()[{0, -1}].save();
        });
      }
    });
    for (int64_t p = 0; p < positions; ++p)
      recovered[l][p] =
          (metric(patched[static_cast<std::size_t>(p)].tensor()) - corrupt_metric) / (clean_metric - corrupt_metric);
  }

  std::printf("recovered fraction of the metric when patching layer l's residual at one position, clean -> corrupt\n");
  std::printf("%-8s", "layer");
  for (int64_t p = 0; p < positions; ++p)
    std::printf(" %6s", examples::column_label(model, corrupt_ids[static_cast<std::size_t>(p)], 6).c_str());
  std::printf("\n");
  for (int64_t l = 0; l < layers; ++l) {
    std::printf("%-8lld", static_cast<long long>(l));
    for (int64_t p = 0; p < positions; ++p) std::printf(" %6.3f", recovered[l][p].item<double>());
    std::printf("\n");
  }
  const int64_t best = recovered.slice(1, 0, positions - 1).argmax().item<int64_t>();
  std::printf("\nbefore the last position, the most is recovered at layer %lld, position %lld (%s): %.3f\n",
              static_cast<long long>(best / (positions - 1)), static_cast<long long>(best % (positions - 1)),
              piece(model, corrupt_ids[static_cast<std::size_t>(best % (positions - 1))]).c_str(),
              recovered[best / (positions - 1)][best % (positions - 1)].item<double>());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "activation_patching: error: %s\n", e.what());
  return 1;
}
