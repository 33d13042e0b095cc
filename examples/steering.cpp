// Steering on stories260K: can adding one vector to the residual stream change
// what the model writes about?
//
//   steering [MODELS_DIR [PROMPT [COEFFICIENT]]]
//
// The steering vector is the difference of the mean layer-4 residuals of two
// short prompts, one about a cat and one about a dog. During greedy generation
// it is added, times a coefficient (1.5), to layer 4's output at every position
// of every step. The story about a dog becomes one about a cat. (Larger
// coefficients push this 260K-parameter model off its text distribution.)
#include <ATen/ATen.h>

#include <cstdio>
#include <string>
#include <vector>

#include "example_support.h"

using namespace nnsight;

namespace {

constexpr int64_t kLayer = 4;
constexpr int64_t kNewTokens = 32;

}  // namespace

int main(int argc, char** argv) try {
  LanguageModel model = examples::load_stories260k(examples::models_dir(argc, argv));
  const std::string prompt = argc > 2 ? argv[2] : "Once upon a time, there was a little dog.";
  const double coefficient = argc > 3 ? std::stod(argv[3]) : 1.5;
  const std::string toward = "Lily saw a cat. The cat was soft.";
  const std::string away = "Lily saw a dog. The dog was soft.";

  // The steering vector: mean residual after layer kLayer over each prompt's positions, one invoke each.
  Saved toward_mean, away_mean;
  model.trace([&](Tracer& tracer) {
    tracer.invoke(toward, [&] { toward_mean = model["model.layers"][kLayer].output()[0][0].mean(0).save(); });
    tracer.invoke(away, [&] { away_mean = model["model.layers"][kLayer].output()[0][0].mean(0).save(); });
  });
  const at::Tensor steer = (toward_mean.tensor() - away_mean.tensor()) * coefficient;
  std::printf("steering vector: %.1f x (mean layer-%lld residual of \"%s\" - of \"%s\"), norm %.3f\n", coefficient,
              static_cast<long long>(kLayer), toward.c_str(), away.c_str(), steer.norm().item<double>());

  GenerateOptions options;  // greedy
  options.max_new_tokens = kNewTokens;
  auto continuation = [&](const Traced& generated) {
    return model.tokenizer().decode(LanguageModel::tokens_of(generated)[0]);
  };
  const Traced plain = model.generate(prompt, options, [] {});
  // The key line: .all() makes the edit apply at every generation step (the prompt, then each new token).
  const Traced steered =
      model.generate(prompt, options, [&] { model["model.layers"][kLayer].all().output()[0].add_(steer); });

  std::printf("prompt:    \"%s\"\n", prompt.c_str());
  std::printf("unsteered: \"%s\"\n", continuation(plain).c_str());
  std::printf("steered:   \"%s\"\n", continuation(steered).c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "steering: error: %s\n", e.what());
  return 1;
}
