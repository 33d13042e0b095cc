// The demo trace run by `scripts/setup.sh demo`: look inside stories260K (a
// trained tiny Llama) while it reads "Once upon a time".
//
//   demo_trace [MODELS_DIR]
//
// 1. Logit lens: each layer's residual stream at the last position, read
//    through the final norm and the unembedding, as the model's "current guess".
// 2. Ablation: zero layer 1's MLP output and see the prediction change.
// 3. Activation patching: run two prompts in one batch and copy the last
//    position's layer-3 residual from one into the other.
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

  std::printf("1. Logit lens on \"Once upon a time\" (top token at the last position, and its probability)\n");
  std::vector<Saved> lens(layers);
  Saved final_probs;
  model.trace("Once upon a time", [&] {
    for (int64_t l = 0; l < layers; ++l) {
      graph::Proxy h = model["model.layers"][l].output()[0];
      lens[l] = model["lm_head"](model["model.norm"](h))[{0, -1}].softmax(-1).save();
    }
    final_probs = model["lm_head"].output()[{0, -1}].softmax(-1).save();
  });
  for (int64_t l = 0; l < layers; ++l) {
    at::Tensor p = lens[l].tensor();
    std::printf("   layer %lld: %-10s p=%.3f\n", static_cast<long long>(l), piece(model, p.argmax()).c_str(),
                p.max().item<double>());
  }
  std::printf("   output : %-10s p=%.3f\n\n", piece(model, final_probs.tensor().argmax()).c_str(),
              final_probs.tensor().max().item<double>());

  std::printf("2. Zeroing model.layers.1.mlp's output\n");
  Saved ablated;
  model.trace("Once upon a time", [&] {
    model["model.layers.1.mlp"].output().set({Slice()}, 0.0);
    ablated = model["lm_head"].output()[{0, -1}].softmax(-1).save();
  });
  const at::Tensor top = final_probs.tensor().argmax();
  std::printf("   p(%s) goes from %.3f to %.3f; the top token is now %s\n\n", piece(model, top).c_str(),
              final_probs.tensor()[top.item<int64_t>()].item<double>(),
              ablated.tensor()[top.item<int64_t>()].item<double>(), piece(model, ablated.tensor().argmax()).c_str());

  std::printf("3. Patching layer 3's last-position residual from \"The dog\" into \"The cat\" (one batch)\n");
  Saved clean, patched;
  model.trace([&](Tracer& tracer) {
    graph::Proxy source;
    tracer.invoke("The dog", [&] {
      source = model["model.layers.3"].output()[0][{Slice(), -1}];
      clean = model["lm_head"].output()[{0, -1}].argmax().save();
    });
    tracer.invoke("The cat", [&] {
      model["model.layers.3"].output()[0].set({Slice(), -1}, source);
      patched = model["lm_head"].output()[{0, -1}].argmax().save();
    });
  });
  std::printf("   \"The dog\" -> %s; \"The cat\" patched -> %s\n", piece(model, clean.tensor()).c_str(),
              piece(model, patched.tensor()).c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "demo_trace: error: %s\n", e.what());
  return 1;
}
