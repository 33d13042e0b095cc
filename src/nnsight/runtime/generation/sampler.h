#pragma once
/// @file
/// Token sampling from one row of logits: greedy, temperature, top-k, top-p.
///
/// Deterministic for a given seed on every platform: std::mt19937_64 (fully
/// specified by the standard) drives our own uniform and categorical draws
/// (std::*_distribution are implementation-defined, so they are not used).

#include <cstdint>
#include <random>
#include <vector>

namespace nnsight {

/// How a token is drawn from a row of logits.
struct SamplingOptions {
  double temperature = 0.0;  ///< <= 0: greedy (argmax, first index on ties)
  int64_t top_k = 0;         ///< keep the k most likely tokens; 0 = all
  double top_p = 1.0;        ///< keep the smallest set with cumulative probability >= top_p; 1 = all
};

/// Draws tokens with its own random generator (one per generated row).
class Sampler {
 public:
  /// Throws nnsight::Error for top_k < 0 or top_p outside (0, 1].
  Sampler(SamplingOptions options, uint64_t seed);

  /// The next token from logits[0 .. n). Greedy when temperature <= 0.
  int64_t sample(const float* logits, int64_t n);

  /// True when sample() is an argmax (temperature <= 0).
  bool greedy() const { return options_.temperature <= 0.0; }

 private:
  double uniform();  // [0, 1) with 53 random bits

  SamplingOptions options_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int64_t>> candidates_;  // reused across calls
  std::vector<double> weights_;
};

/// Index of the largest value (first one on ties).
int64_t argmax(const float* values, int64_t n);

}  // namespace nnsight
