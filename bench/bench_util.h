#pragma once
// Helpers shared by the benchmark programs: timing, running a Python baseline
// script and reading its JSON, and the GPT-2-small-shaped random model
// (12 layers, d=768, 12 heads, vocab 50257, tied head) both benchmarks use.

#include <ATen/TensorOperators.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nnsight/runtime/loaders/weight_store.h"
#include "nnsight/runtime/model_config.h"
#include "nnsight/runtime/models/causal_lm.h"

namespace nnsight::bench {

constexpr int64_t kD = 768, kLayers = 12, kHeads = 12, kVocab = 50257, kPositions = 1024;

/// Milliseconds since `t0`.
inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

/// Median of a sample (copied: the caller's order is kept).
inline double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs.empty() ? 0.0 : xs[xs.size() / 2];
}

/// Median wall time of `reps` calls of `fn`, in ms, after one warm-up call
/// (page faults, oneDNN primitive creation).
inline double median_ms(int reps, const std::function<void()>& fn) {
  fn();
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    times.push_back(ms_since(t0));
  }
  return median(std::move(times));
}

inline ModelConfig gpt2_small_config(at::ScalarType dtype) {
  ModelConfig c;
  c.arch = Architecture::GPT2;
  c.model_type = "gpt2";
  c.vocab_size = kVocab;
  c.hidden_size = kD;
  c.num_layers = kLayers;
  c.num_heads = kHeads;
  c.num_kv_heads = kHeads;
  c.head_dim = kD / kHeads;
  c.intermediate_size = 4 * kD;
  c.max_positions = kPositions;
  c.tie_word_embeddings = true;
  c.activation = "gelu_new";
  c.eos_token_ids = {50256};
  c.dtype = dtype;
  return c;
}

/// Random weights under Hugging Face GPT-2 names (std 0.02, unit LayerNorm gains).
inline std::vector<std::pair<std::string, at::Tensor>> random_gpt2_weights() {
  std::vector<std::pair<std::string, at::Tensor>> w;
  auto r = [](std::vector<int64_t> shape) { return at::randn(shape) * 0.02; };
  w.emplace_back("transformer.wte.weight", r({kVocab, kD}));
  w.emplace_back("transformer.wpe.weight", r({kPositions, kD}));
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = "transformer.h." + std::to_string(l) + ".";
    w.emplace_back(p + "ln_1.weight", at::ones({kD}));
    w.emplace_back(p + "ln_1.bias", r({kD}));
    w.emplace_back(p + "attn.c_attn.weight", r({kD, 3 * kD}));
    w.emplace_back(p + "attn.c_attn.bias", r({3 * kD}));
    w.emplace_back(p + "attn.c_proj.weight", r({kD, kD}));
    w.emplace_back(p + "attn.c_proj.bias", r({kD}));
    w.emplace_back(p + "ln_2.weight", at::ones({kD}));
    w.emplace_back(p + "ln_2.bias", r({kD}));
    w.emplace_back(p + "mlp.c_fc.weight", r({kD, 4 * kD}));
    w.emplace_back(p + "mlp.c_fc.bias", r({4 * kD}));
    w.emplace_back(p + "mlp.c_proj.weight", r({4 * kD, kD}));
    w.emplace_back(p + "mlp.c_proj.bias", r({kD}));
  }
  w.emplace_back("transformer.ln_f.weight", at::ones({kD}));
  w.emplace_back("transformer.ln_f.bias", r({kD}));
  return w;
}

/// The GPT-2-small-shaped model built from `weights` in `dtype`.
inline std::unique_ptr<CausalLM> build_random_gpt2(const std::vector<std::pair<std::string, at::Tensor>>& weights,
                                                   at::ScalarType dtype) {
  WeightStore store;
  for (const auto& [n, t] : weights) store.add(n, t, "(random)");
  return build_model(gpt2_small_config(dtype), store);
}

/// Everything `command` writes to stdout (empty if it cannot be started).
inline std::string run_capture(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe)) out += buf;
  pclose(pipe);
  return out;
}

/// The last non-empty line of `text` (where the Python baselines print their JSON).
inline std::string last_line(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

/// This program's path.
inline std::string self_path() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

/// A baseline script: beside the binary if the build copied it there, else in
/// the source folder `source_dir` (pass the bench folder, e.g. from __FILE__).
inline std::filesystem::path script_path(const std::string& name, const std::filesystem::path& source_dir) {
  const std::filesystem::path beside = std::filesystem::path(self_path()).parent_path() / name;
  return std::filesystem::exists(beside) ? beside : source_dir / name;
}

}  // namespace nnsight::bench
