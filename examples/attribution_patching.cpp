// Attribution patching on stories260K: which layer outputs, at which
// positions, carry the difference between a clean and a corrupted prompt for
// the model's answer?
//
//   attribution_patching [MODELS_DIR [CLEAN_PROMPT CORRUPTED_PROMPT]]
//
// Activation patching answers this by re-running the corrupted prompt once per
// (layer, position) with the clean activation pasted in. Attribution patching
// estimates all of those effects from one forward and one backward pass:
//
//   effect(l, p) ~ (a_clean[l, p] - a_corrupt[l, p]) . d metric / d a[l, p]   (corrupted run)
//
// with metric = logit(right name) - logit(wrong name) at the last position
// (indirect object identification). Both prompts run as two invokes of one trace; each invoke's
// gradient is its own rows. The strongest cell is then checked against real
// activation patching.
#include <ATen/ATen.h>

#include <cstdio>
#include <string>
#include <vector>

#include "example_support.h"

using namespace nnsight;
using examples::piece;

namespace {

/// logit(good) - logit(bad) at the last position of `logits` [1, T, V].
double logit_diff(const at::Tensor& logits, int64_t good, int64_t bad) {
  const at::Tensor last = logits[0][-1];
  return (last[good] - last[bad]).item<double>();
}

}  // namespace

int main(int argc, char** argv) try {
  LanguageModel model = examples::load_stories260k(examples::models_dir(argc, argv));
  const int64_t layers = model.config().num_layers;

  const examples::PromptPair prompts =
      examples::prompt_pair(model, argc, argv, "Tom and Sam went to the park. Tom gave the ball to",
                            "Tom and Sam went to the park. Sam gave the ball to");
  const std::string& clean = prompts.clean;
  const std::string& corrupt = prompts.corrupt;
  const std::vector<int64_t>& clean_ids = prompts.clean_ids;
  const std::vector<int64_t>& corrupt_ids = prompts.corrupt_ids;

  // Indirect object identification: after "Tom and Sam ... Tom gave the ball to" the answer is the
  // other name, Sam; the corrupted prompt repeats the other name instead. The first position where the
  // prompts differ holds the repeated name: its clean token is the wrong answer, its corrupted token the
  // right one.
  std::size_t differ = 0;
  while (differ < clean_ids.size() && clean_ids[differ] == corrupt_ids[differ]) ++differ;
  if (differ == clean_ids.size()) {
    std::fprintf(stderr, "the two prompts are the same\n");
    return 1;
  }
  const int64_t good = corrupt_ids[differ];
  const int64_t bad = clean_ids[differ];
  Saved clean_logits, corrupt_logits;
  model.trace([&](Tracer& tracer) {
    tracer.invoke(clean, [&] { clean_logits = model["lm_head"].output().save(); });
    tracer.invoke(corrupt, [&] { corrupt_logits = model["lm_head"].output().save(); });
  });
  const double clean_metric = logit_diff(clean_logits.tensor(), good, bad);
  const double corrupt_metric = logit_diff(corrupt_logits.tensor(), good, bad);
  std::printf("clean:   \"%s\"\ncorrupt: \"%s\"\n", clean.c_str(), corrupt.c_str());
  std::printf("metric = logit(%s) - logit(%s) at the last position: clean %.3f, corrupt %.3f\n\n",
              piece(model, good).c_str(), piece(model, bad).c_str(), clean_metric, corrupt_metric);

  // One trace: clean activations, corrupted activations and their gradients.
  std::vector<Saved> clean_acts(layers), corrupt_acts(layers), grads(layers);
  model.trace([&](Tracer& tracer) {
    tracer.invoke(clean, [&] {
      for (int64_t l = 0; l < layers; ++l) clean_acts[l] = model["model.layers"][l].output()[0].save();
    });
    tracer.invoke(corrupt, [&] {
      for (int64_t l = 0; l < layers; ++l) {
        Proxy h = model["model.layers"][l].output()[0];
        corrupt_acts[l] = h.save();
        grads[l] = h.grad().save();
      }
      Proxy logits = model["lm_head"].output();
      (logits[{0, -1, good}] - logits[{0, -1, bad}]).backward();
    });
  });

  // The table: layers x positions.
  const auto positions = static_cast<int64_t>(corrupt_ids.size());
  at::Tensor table = at::zeros({layers, positions}, at::kDouble);
  for (int64_t l = 0; l < layers; ++l)
    table[l] = ((clean_acts[l].tensor() - corrupt_acts[l].tensor()) * grads[l].tensor()).sum(-1)[0].to(at::kDouble);
  std::printf("attribution (estimated change of the metric when patching that cell from clean into corrupt)\n");
  std::printf("%-8s", "layer");
  for (int64_t p = 0; p < positions; ++p) {
    std::printf(" %7s", examples::column_label(model, corrupt_ids[static_cast<std::size_t>(p)], 7).c_str());
  }
  std::printf("\n");
  for (int64_t l = 0; l < layers; ++l) {
    std::printf("%-8lld", static_cast<long long>(l));
    for (int64_t p = 0; p < positions; ++p) std::printf(" %7.3f", table[l][p].item<double>());
    std::printf("\n");
  }

  // Check the strongest cell with real activation patching, in full and by 1% of the difference (where the
  // linear estimate must hold: it is the derivative).
  const int64_t best = table.abs().argmax().item<int64_t>();
  const int64_t bl = best / positions, bp = best % positions;
  auto patched_change = [&](double fraction) {
    const at::Tensor from = corrupt_acts[bl].tensor()[0][bp];
    const at::Tensor to = from + (clean_acts[bl].tensor()[0][bp] - from) * fraction;
    Saved patched_logits;
    model.trace(corrupt, [&] {
      model["model.layers"][bl].output()[0].set({0, bp}, to);
      patched_logits = model["lm_head"].output().save();
    });
    return logit_diff(patched_logits.tensor(), good, bad) - corrupt_metric;
  };
  std::printf("\nstrongest cell: layer %lld, position %lld: estimated change %.3f\n", static_cast<long long>(bl),
              static_cast<long long>(bp), table[bl][bp].item<double>());
  std::printf("  patched change %.3f; 100 x the change from patching 1%% of the difference: %.3f\n",
              patched_change(1.0), 100 * patched_change(0.01));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "attribution_patching: %s\n", e.what());
  return 1;
}
