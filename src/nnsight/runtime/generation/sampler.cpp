#include "nnsight/runtime/generation/sampler.h"

#include <algorithm>
#include <cmath>

#include "nnsight/base/error.h"

namespace nnsight {

int64_t argmax(const float* values, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (values[i] > values[best]) best = i;
  return best;
}

Sampler::Sampler(SamplingOptions options, uint64_t seed) : options_(options), rng_(seed) {
  if (options_.top_k < 0)
    throw Error("top_k must be >= 0, got " + std::to_string(options_.top_k), "sampling options", "0 disables top-k");
  if (!(options_.top_p > 0.0 && options_.top_p <= 1.0))
    throw Error("top_p must be in (0, 1], got " + std::to_string(options_.top_p), "sampling options",
                "1 disables nucleus sampling");
}

double Sampler::uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

int64_t Sampler::sample(const float* logits, int64_t n) {
  if (greedy()) return argmax(logits, n);
  const double inv_t = 1.0 / options_.temperature;
  candidates_.clear();
  candidates_.reserve(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) candidates_.emplace_back(logits[i], i);
  // Most likely first; ties by index so the order is fully determined.
  auto more_likely = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  std::size_t keep = candidates_.size();
  if (options_.top_k > 0 && static_cast<std::size_t>(options_.top_k) < keep) {
    keep = static_cast<std::size_t>(options_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep), candidates_.end(),
                      more_likely);
  } else if (options_.top_p < 1.0) {
    std::sort(candidates_.begin(), candidates_.end(), more_likely);
  }
  candidates_.resize(keep);
  // Softmax over the kept logits (in double, shifted by the maximum).
  double max_logit = -INFINITY;
  for (const auto& c : candidates_) max_logit = std::max(max_logit, static_cast<double>(c.first));
  std::vector<double>& weights = weights_;
  weights.resize(candidates_.size());
  double total = 0.0;
  for (std::size_t i = 0; i < candidates_.size(); ++i) {
    weights[i] = std::exp((static_cast<double>(candidates_[i].first) - max_logit) * inv_t);
    total += weights[i];
  }
  if (options_.top_p < 1.0) {
    // Candidates are sorted: keep the shortest prefix reaching top_p (at least one token).
    double cumulative = 0.0;
    std::size_t cut = weights.size();
    for (std::size_t i = 0; i < weights.size(); ++i) {
      cumulative += weights[i] / total;
      if (cumulative >= options_.top_p) {
        cut = i + 1;
        break;
      }
    }
    weights.resize(cut);
    total = 0.0;
    for (double w : weights) total += w;
  }
  double target = uniform() * total;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    target -= weights[i];
    if (target < 0.0) return candidates_[i].second;
  }
  return candidates_[weights.size() - 1].second;  // rounding left a sliver
}

}  // namespace nnsight
