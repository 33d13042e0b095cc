// Soak test (issue 6): 1000 traces of every kind in one process; the resident
// set after them stays within 5% of the one after the first 100, so nothing
// grows per trace (graphs, hooks, saved values, errors, scans, generations).

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "nnsight/api/nnsight.h"
#include "server/patching_fixture.h"

namespace nnsight {
namespace {

/// VmRSS of this process in KiB (Linux).
int64_t resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      int64_t kib = 0;
      status >> kib;
      return kib;
    }
    status.ignore(1 << 16, '\n');
  }
  return -1;
}

/// One trace of kind `i % 6`; returns a number derived from its results, so nothing is optimised away.
double one_trace(LanguageModel& model, int i) {
  switch (i % 6) {
    case 0: {  // saves
      Saved h, logits;
      model.trace(test::kCleanPrompt, [&] {
        h = model["model.layers.2"].output()[0].save();
        logits = model["lm_head"].output()[{0, -1}].softmax(-1).save();
      });
      return h.tensor().sum().item<double>() + logits.tensor().max().item<double>();
    }
    case 1: {  // patching across invokes
      Saved patched;
      model.trace([&](Tracer& tracer) {
        Proxy source;
        tracer.invoke(test::kCleanPrompt, [&] { source = model["model.layers.3"].output()[0][{Slice(), -1}]; });
        tracer.invoke(test::kCorruptPrompt, [&] {
          model["model.layers.3"].output()[0].set({Slice(), -1}, source);
          patched = model["lm_head"].output()[{0, -1}].argmax().save();
        });
      });
      return patched.tensor().item<double>();
    }
    case 2: {  // generation with an intervention at every step
      Traced t = model.generate(test::kCorruptPrompt, {.max_new_tokens = 4},
                                [&] { model["model.layers.1.mlp"].all().output().set({Slice()}, 0.0); });
      return static_cast<double>(LanguageModel::tokens_of(t)[0].back());
    }
    case 3: {  // a failing trace: the error path must free everything too
      try {
        model.trace(test::kCleanPrompt, [&] { (model["model.layers.0"].output()[0] + at::ones({3})).save(); });
      } catch (const Error&) {
        return 1.0;
      }
      return 0.0;
    }
    case 4: {  // gradients
      Saved grad;
      model.trace(test::kCleanPrompt, [&] {
        grad = model["model.layers.2"].output()[0].grad().save();
        model["lm_head"].output()[{0, -1, 7}].backward();
      });
      return grad.tensor().abs().sum().item<double>();
    }
    default: {  // scans
      Saved h;
      Scanned s = model.scan(test::kCleanPrompt, [&] { h = model["model.layers.4"].output()[0].save(); });
      return static_cast<double>(h.tensor().size(-1) + static_cast<int64_t>(s.calls.size()));
    }
  }
}

TEST(Soak, AThousandTracesDoNotGrowTheProcess) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's quarantine keeps freed memory resident by design";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "ASan's quarantine keeps freed memory resident by design";
#endif
#endif
  REQUIRE_STORIES();
  LanguageModel& model = *test::stories();
  double checksum = 0;
  for (int i = 0; i < 100; ++i) checksum += one_trace(model, i);
  const int64_t after_100 = resident_kib();
  for (int i = 100; i < 1000; ++i) checksum += one_trace(model, i);
  const int64_t after_1000 = resident_kib();
  ASSERT_GT(after_100, 0);
  const double ratio = static_cast<double>(after_1000) / static_cast<double>(after_100);
  std::printf("soak: RSS after 100 traces %lld KiB, after 1000 %lld KiB, ratio %.3f (checksum %.3f)\n",
              static_cast<long long>(after_100), static_cast<long long>(after_1000), ratio, checksum);
  EXPECT_LE(ratio, 1.05);
  // Stricter than the 5%: a leak of 2 KiB per trace (a small saved tensor) would show here.
  EXPECT_LT(after_1000 - after_100, 2048) << "KiB grown over 900 traces";
  // The same trace gives the same numbers at the end as at the start: nothing leaked into the model.
  EXPECT_DOUBLE_EQ(one_trace(model, 0), one_trace(model, 600));
}

}  // namespace
}  // namespace nnsight
