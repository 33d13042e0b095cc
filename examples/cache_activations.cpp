// Caching activations on stories260K: every module's output for one prompt,
// in one forward pass, without naming the modules.
//
//   cache_activations [MODELS_DIR [PROMPT]]
//
// tracer.cache() (NNsight's `tracer.cache()`) collects the output of every
// module at every call. The program prints each module path with the shape of
// its output (tuples as (..., ...)) at its first call and a checksum: the sum
// of all its elements in double precision.
#include <ATen/ATen.h>

#include <cstdio>
#include <string>
#include <vector>

#include "example_support.h"

using namespace nnsight;

namespace {

/// "[1, 6, 64]", "([1, 6, 64], None)", ...
std::string shape_of(const Value& v) {
  if (v.is_tensor()) return format_shape(v.as_tensor().sizes());
  if (v.is_sequence()) {
    std::string out = "(";
    for (std::size_t i = 0; i < v.items().size(); ++i) out += (i ? ", " : "") + shape_of(v.items()[i]);
    return out + ")";
  }
  return v.repr();
}

/// The sum of every element of every tensor in `v`.
double checksum(const Value& v) {
  double sum = 0;
  for_each_tensor(v, [&](const at::Tensor& t) { sum += t.to(at::kDouble).sum().item<double>(); });
  return sum;
}

}  // namespace

int main(int argc, char** argv) try {
  LanguageModel model = examples::load_stories260k(examples::models_dir(argc, argv));
  const std::string prompt = argc > 2 ? argv[2] : "Once upon a time";

  // The key lines: cache every module's outputs (containers such as model.layers, which are never called
  // themselves, are left out), run once, read the outputs afterwards. tracer.cache({paths...}) picks modules.
  Cache cache;
  model.trace(prompt, [&](Tracer& tracer) { cache = tracer.cache(); });

  std::printf("every module's output for \"%s\" (%zu modules): path, shape, sum of the elements\n", prompt.c_str(),
              cache.paths().size());
  for (const std::string& path : cache.paths()) {
    const Value out = cache.output(path);  // its first call (cache.outputs(path) has every call)
    std::printf("%-40s %-22s %14.6f\n", path.empty() ? "(root)" : path.c_str(), shape_of(out).c_str(), checksum(out));
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cache_activations: error: %s\n", e.what());
  return 1;
}
