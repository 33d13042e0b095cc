// runtime_bench: speed and memory of the model runtime on a GPT-2-small-shaped
// model (12 layers, d=768, 12 heads, vocab 50257, tied head, random weights),
// fp32 and bf16, against the memory-bandwidth floor and PyTorch eager
// (bench/gpt2_eager.py, run in the same invocation).
//
//   runtime_bench [--reps N] [--no-python]
//   runtime_bench --prefill-products REPS   (64-row products only)
//   runtime_bench --gemv-chain REPS   (the decode step's matrix products alone vs the floor)
//   runtime_bench --decode-loop fp32|bf16 STEPS [--cold]   (decode steps only, for a profiler;
//                                                          --cold: a 512 MB copy before each step)
//   runtime_bench --op-profile fp32|bf16 prefill|decode STEPS   (time per ATen op)
//
// Prints a table; every ratio is measured in this one run.
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/sum.h>
#include <ATen/record_function.h>
#include <benchmark/benchmark.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "bench_util.h"
#include "nnsight/base/backend.h"
#include "nnsight/base/linear.h"
#include "nnsight/base/work_pool.h"
#include "nnsight/runtime/forward_context.h"
#include "nnsight/runtime/generation/kv_cache.h"
#include "nnsight/runtime/loaders/safetensors.h"
#include "nnsight/runtime/loaders/weight_store.h"
#include "nnsight/runtime/model_loader.h"
#include "nnsight/runtime/models/causal_lm.h"

namespace fs = std::filesystem;
using namespace nnsight;

namespace {

using bench::build_random_gpt2;
using bench::kD;
using bench::kHeads;
using bench::kLayers;
using bench::kPositions;
using bench::kVocab;
using bench::last_line;
using bench::median_ms;
using bench::random_gpt2_weights;
using bench::run_capture;
using bench::self_path;

int64_t weight_bytes(CausalLM& model) {
  int64_t bytes = 0;
  std::vector<const void*> seen;
  for (const auto& [n, t] : model.named_parameters()) {
    if (std::find(seen.begin(), seen.end(), t.data_ptr()) != seen.end()) continue;
    seen.push_back(t.data_ptr());
    bytes += t.numel() * static_cast<int64_t>(t.element_size());
  }
  return bytes;
}

struct Timings {
  double prefill_ms = 0, decode_ms = 0;
  double first_step_ms = 0;  // the decode step right after a prefill (median)
  double paired_ratio = 0;   // median over steps of decode ÷ the floor measured just before that step
};

// Copy bandwidth (bytes read + bytes written per second) on a 512 MB buffer,
// far larger than the caches. The copy runs on nnsight's work pool, not on
// ATen's OpenMP threads: after an OpenMP region libgomp's workers keep
// spinning for milliseconds, and a spinning worker would take a core from
// the decode step measured right after the probe (docs/benchmarks.md).
struct CopyProbe {
  static constexpr int64_t kBytes = int64_t{512} << 20;
  static constexpr int64_t kChunks = 128;  // 4 MB each
  std::vector<char> src = std::vector<char>(kBytes, 1);
  std::vector<char> dst = std::vector<char>(kBytes, 0);
  double gbs() {
    auto t0 = std::chrono::steady_clock::now();
    nnsight::run_chunks(kChunks, [&](int64_t chunk, int) {
      const int64_t n = kBytes / kChunks;
      std::memcpy(dst.data() + chunk * n, src.data() + chunk * n, static_cast<std::size_t>(n));
    });
    return 2.0 * static_cast<double>(kBytes) / (bench::ms_since(t0) * 1e6);
  }
  double median_gbs(int reps) {
    std::vector<double> v;
    for (int i = 0; i < reps; ++i) v.push_back(gbs());
    return bench::median(v);
  }
};

// The same copy through ATen (OpenMP), to show both measure the same bandwidth.
double aten_copy_bandwidth_gbs(int reps) {
  at::Tensor src = at::randn({128 * 1024 * 1024});  // 512 MB
  at::Tensor dst = at::empty_like(src);
  const double ms = median_ms(reps, [&] { dst.copy_(src); });
  return 2.0 * static_cast<double>(src.numel() * 4) / (ms * 1e6);
}

Timings time_model(CausalLM& model, int reps, CopyProbe& probe, double weight_mb) {
  c10::InferenceMode guard;
  Timings t;
  at::Tensor ids = at::randint(0, kVocab, {1, 64});
  t.prefill_ms = median_ms(reps, [&] { model.logits(ids); });
  // The first decode step after a prefill: libgomp's workers are still spinning from the prefill's
  // OpenMP regions and share a core with the decode kernels' work pool.
  {
    std::vector<double> first;
    for (int i = 0; i < reps; ++i) {
      KVCache cache(model.config(), 1, 128);
      model.logits(ids.narrow(1, 0, 63), {}, &cache, 1);
      auto t0 = std::chrono::steady_clock::now();
      model.logits(ids.narrow(1, 63, 1), {}, &cache, 1);
      first.push_back(bench::ms_since(t0));
    }
    t.first_step_ms = bench::median(first);
  }
  // Decode: one token per call with a KV cache holding 63..63+steps positions.
  KVCache cache(model.config(), 1, 128);
  const int steps = std::max(reps, 8);
  std::vector<double> per_token;
  model.logits(ids.narrow(1, 0, 63), {}, &cache, 1);
  at::Tensor next = ids.narrow(1, 63, 1);
  model.logits(next, {}, &cache, 1);  // warm-up step
  for (int i = 0; i < steps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    model.logits(next, {}, &cache, 1);
    per_token.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(per_token.begin(), per_token.end());
  t.decode_ms = per_token[per_token.size() / 2];
  // Paired: each step right after its own bandwidth probe, so load changes on a shared machine hit both
  // (the copy also evicts the weights from the caches: every step streams them from memory).
  std::vector<double> ratios;
  for (int i = 0; i < steps; ++i) {
    cache.truncate(64);
    const double floor_ms = weight_mb / probe.gbs();
    auto t0 = std::chrono::steady_clock::now();
    model.logits(next, {}, &cache, 1);
    ratios.push_back(bench::ms_since(t0) / floor_ms);
  }
  t.paired_ratio = bench::median(ratios);
  return t;
}

// A module that does nothing, to isolate the cost of the dispatch point.
class Noop : public Module {
 public:
  Noop() : Module("Noop") {}

 protected:
  Value forward(Inputs& inputs, ForwardContext&) override { return inputs.args.front(); }
};

class PassThroughHook : public CallHook {
 public:
  Value intercept(Module& m, Inputs& in, ForwardContext& ctx) override { return m.call_forward(in, ctx); }
};

struct DispatchCost {
  double direct_ns, dispatch_ns, hooked_ns;
};

DispatchCost dispatch_cost() {
  Noop noop;
  ForwardContext ctx;
  at::Tensor x = at::ones({1});
  constexpr int kCalls = 2'000'000;
  auto per_call = [&](const std::function<void()>& fn) {
    return median_ms(5,
                     [&] {
                       for (int i = 0; i < kCalls; ++i) fn();
                     }) *
           1e6 / kCalls;
  };
  DispatchCost c{};
  // Inputs construction is part of every call either way; the difference is the dispatch.
  c.direct_ns = per_call([&] {
    Inputs in({Value(x)});
    benchmark::DoNotOptimize(noop.call_forward(in, ctx));
  });
  c.dispatch_ns = per_call([&] { benchmark::DoNotOptimize(noop(Inputs({Value(x)}), ctx)); });
  PassThroughHook hook;
  noop.set_hook(&hook);
  c.hooked_ns = per_call([&] { benchmark::DoNotOptimize(noop(Inputs({Value(x)}), ctx)); });
  noop.set_hook(nullptr);
  return c;
}

int64_t status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stoll(line.substr(std::string(field).size()));
  return -1;
}

// Child mode: load the safetensors model in a fresh process and report RSS growth.
int measure_load(const std::string& dir) {
  init_backend();
  const int64_t before = status_kb("VmRSS:");
  LoadOptions options;
  options.require_tokenizer = false;
  LoadedModel lm = load_model(dir, options);
  const int64_t after_load = status_kb("VmHWM:");
  {
    c10::InferenceMode guard;
    lm.model->logits(at::randint(0, kVocab, {1, 8}));
  }
  const int64_t after_forward = status_kb("VmHWM:");
  nlohmann::json j = {{"rss_before_kb", before},
                      {"peak_after_load_kb", after_load},
                      {"peak_after_forward_kb", after_forward},
                      {"weight_bytes", weight_bytes(*lm.model)}};
  std::cout << j.dump() << "\n";
  return 0;
}

// Single-row products (decode) for each GPT-2 weight shape: ATen's at::linear
// against nnsight::linear (gemv routing), in microseconds.
void single_row_products(int reps) {
  c10::InferenceMode guard;
  std::printf("single-row products, us (GPT-2 weight shapes; HF Conv1D layout = transposed view):\n");
  std::printf("%-22s %-5s %12s %14s %8s\n", "weight [out, in]", "dtype", "at::linear", "nnsight::linear", "ratio");
  for (auto [out, in, conv] : {std::tuple{3 * kD, kD, true}, std::tuple{kD, kD, true}, std::tuple{4 * kD, kD, true},
                               std::tuple{kD, 4 * kD, true}, std::tuple{kVocab, kD, false}}) {
    for (auto dtype : {at::kFloat, at::kBFloat16}) {
      at::Tensor w = conv ? at::randn({in, out}).to(dtype).t() : at::randn({out, in}).to(dtype);
      at::Tensor x = at::randn({1, 1, in}).to(dtype);
      const double aten = median_ms(reps * 5, [&] { at::linear(x, w); }) * 1e3;
      const double ours = median_ms(reps * 5, [&] { nnsight::linear(x, w); }) * 1e3;
      std::printf("[%5lld, %4lld]%s %-5s %12.1f %14.1f %8.2f\n", static_cast<long long>(out),
                  static_cast<long long>(in), conv ? " conv1d" : "       ", dtype == at::kFloat ? "fp32" : "bf16", aten,
                  ours, aten / ours);
    }
  }
  std::printf("\n");
}

// Per-ATen-op wall time of the outermost op calls (nested ops are part of their caller).
struct OpProfile {
  struct Entry {
    double ms = 0;
    int64_t calls = 0;
  };
  static inline std::map<std::string, Entry> ops;
  static inline thread_local int depth = 0;
  static inline thread_local std::chrono::steady_clock::time_point start;
  static inline bool active = false;

  struct Ctx : at::ObserverContext {};
  static std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction&) {
    if (active && depth++ == 0) start = std::chrono::steady_clock::now();
    return nullptr;
  }
  static void on_end(const at::RecordFunction& fn, at::ObserverContext*) {
    if (!active || --depth != 0) return;
    Entry& e = ops[fn.name()];
    e.ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++e.calls;
  }
};

// Profiling mode: per-op times of prefill-64 or decode steps of one dtype.
int op_profile(const std::string& dtype_name, const std::string& phase, int steps) {
  init_backend();
  c10::NoGradGuard no_grad;
  at::manual_seed(0);
  auto model = build_random_gpt2(random_gpt2_weights(), dtype_name == "bf16" ? at::kBFloat16 : at::kFloat);
  c10::InferenceMode guard;
  at::Tensor ids = at::randint(0, kVocab, {1, 64});
  KVCache cache(model->config(), 1, 128);
  at::addGlobalCallback(
      at::RecordFunctionCallback(&OpProfile::on_start, &OpProfile::on_end).scopes({at::RecordScope::FUNCTION}));
  auto step = [&] {
    if (phase == "prefill") {
      model->logits(ids);
    } else {
      cache.truncate(64);
      model->logits(ids.narrow(1, 63, 1), {}, &cache, 1);
    }
  };
  model->logits(ids, {}, &cache, 1);
  step();
  OpProfile::active = true;
  double total = 0;
  const std::clock_t cpu0 = std::clock();
  for (int i = 0; i < steps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    step();
    total += bench::ms_since(t0);
  }
  const double cpu_ms = 1e3 * static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC / steps;
  OpProfile::active = false;
  std::vector<std::pair<std::string, OpProfile::Entry>> rows(OpProfile::ops.begin(), OpProfile::ops.end());
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second.ms > b.second.ms; });
  double in_ops = 0;
  int64_t calls = 0;
  std::printf("%s %s: %.3f ms per step, %.3f ms CPU time (all threads) (%d steps); outermost ATen ops per step:\n",
              dtype_name.c_str(), phase.c_str(), total / steps, cpu_ms, steps);
  for (const auto& [name, e] : rows) {
    in_ops += e.ms;
    calls += e.calls;
    std::printf("  %-40s %8.3f ms %6.1f calls %7.1f us/call\n", name.c_str(), e.ms / steps,
                static_cast<double>(e.calls) / steps, e.ms * 1e3 / static_cast<double>(e.calls));
  }
  std::printf("  %d op calls/step, %.3f ms in ATen ops, %.3f ms elsewhere (our kernels, module code)\n",
              static_cast<int>(calls / steps), in_ops / steps, (total - in_ops) / steps);
  return 0;
}

// Profiling mode: the decode step's matrix products alone (nnsight::linear on
// every weight in forward order), interleaved with the copy-bandwidth probe, to
// separate kernel efficiency from everything else a decode step does.
int gemv_chain(int reps) {
  init_backend();
  c10::NoGradGuard no_grad;
  at::manual_seed(0);
  const auto weights = random_gpt2_weights();
  CopyProbe probe;
  for (auto [name, dtype] : {std::pair{"fp32", at::kFloat}, std::pair{"bf16", at::kBFloat16}}) {
    auto model = build_random_gpt2(weights, dtype);
    c10::InferenceMode guard;
    std::vector<std::pair<at::Tensor, at::Tensor>> mats;  // (weight as used, bias)
    for (auto* m : model->modules()) {
      if (m->type_name() == "Conv1D") mats.emplace_back(m->parameter("weight").t(), m->parameter("bias"));
      if (m->type_name() == "Linear") mats.emplace_back(m->parameter("weight"), at::Tensor());
    }
    int64_t bytes = 0;
    for (auto& [w, b] : mats) bytes += w.numel() * static_cast<int64_t>(w.element_size());
    std::vector<at::Tensor> xs;
    for (auto& [w, b] : mats) xs.push_back(at::randn({1, 1, w.size(1)}).to(dtype));
    std::vector<double> chain, bandwidths;
    std::map<std::string, std::pair<double, int64_t>> by_shape;  // ms, bytes (all reps)
    for (int r = 0; r < reps; ++r) {
      bandwidths.push_back(probe.gbs());
      auto t0 = std::chrono::steady_clock::now();
      for (std::size_t i = 0; i < mats.size(); ++i) {
        auto t1 = std::chrono::steady_clock::now();
        nnsight::linear(xs[i], mats[i].first, mats[i].second);
        auto& [ms, nbytes] =
            by_shape[std::to_string(mats[i].first.size(0)) + "x" + std::to_string(mats[i].first.size(1))];
        ms += bench::ms_since(t1);
        nbytes += mats[i].first.numel() * static_cast<int64_t>(mats[i].first.element_size());
      }
      chain.push_back(bench::ms_since(t0));
    }
    for (const auto& [shape, v] : by_shape)
      std::printf("  %-12s %6.1f GB/s\n", shape.c_str(), static_cast<double>(v.second) / (v.first * 1e6));
    const double bw = bench::median(bandwidths);
    const double floor_ms = static_cast<double>(bytes) / 1e6 / bw;
    std::printf("%s: %zu products, %.0f MB, chain %.2f ms (min %.2f), floor %.2f ms (copy %.1f GB/s): %.2fx\n", name,
                mats.size(), static_cast<double>(bytes) / 1e6, bench::median(chain),
                *std::min_element(chain.begin(), chain.end()), floor_ms, bw, bench::median(chain) / floor_ms);
  }
  return 0;
}

// Profiling mode: only decode steps of one dtype, for perf/callgrind.
int decode_loop(const std::string& dtype_name, int steps, bool cold) {
  init_backend();
  c10::NoGradGuard no_grad;
  at::manual_seed(0);
  auto model = build_random_gpt2(random_gpt2_weights(), dtype_name == "bf16" ? at::kBFloat16 : at::kFloat);
  c10::InferenceMode guard;
  at::Tensor ids = at::randint(0, kVocab, {1, 64});
  KVCache cache(model->config(), 1, 128);
  model->logits(ids, {}, &cache, 1);
  at::Tensor next = ids.narrow(1, 63, 1);
  std::vector<double> per_token;
  std::unique_ptr<CopyProbe> probe;  // cold: a copy evicts the weights before each step
  if (cold) probe = std::make_unique<CopyProbe>();
  const double weight_mb = static_cast<double>(weight_bytes(*model)) / 1e6;
  double floor_sum = 0;
  for (int i = 0; i < steps; ++i) {
    cache.truncate(64);  // every step sees 64 cached positions
    if (probe) floor_sum += weight_mb / probe->gbs();
    auto t0 = std::chrono::steady_clock::now();
    model->logits(next, {}, &cache, 1);
    per_token.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("%s decode: median %.2f ms/token over %d steps (mean floor %.2f ms when --cold)\n", dtype_name.c_str(),
              bench::median(per_token), steps, floor_sum / steps);
  return 0;
}

// Prefill-sized products (64 rows) for each GPT-2 weight shape: at::linear
// against nnsight::linear, in ms and GFLOP/s.
void prefill_products(int reps) {
  c10::InferenceMode guard;
  std::printf("64-row products, ms (GPT-2 weight shapes; HF Conv1D layout = transposed view):\n");
  std::printf("%-22s %-5s %12s %14s %8s %8s\n", "weight [out, in]", "dtype", "at::linear", "nnsight::linear", "ratio",
              "GFLOP/s");
  for (auto [out, in, conv] : {std::tuple{3 * kD, kD, true}, std::tuple{kD, kD, true}, std::tuple{4 * kD, kD, true},
                               std::tuple{kD, 4 * kD, true}, std::tuple{kVocab, kD, false}}) {
    for (auto dtype : {at::kFloat, at::kBFloat16}) {
      at::Tensor w = conv ? at::randn({in, out}).to(dtype) : at::randn({out, in}).to(dtype);
      at::Tensor x = at::randn({1, 64, in}).to(dtype);
      const double aten = median_ms(reps, [&] { at::linear(x, conv ? w.t() : w); });
      const double ours = median_ms(reps, [&] { conv ? nnsight::linear_transposed(x, w) : nnsight::linear(x, w); });
      std::printf("[%5lld, %4lld]%s %-5s %12.2f %14.2f %8.2f %8.0f\n", static_cast<long long>(out),
                  static_cast<long long>(in), conv ? " conv1d" : "       ", dtype == at::kFloat ? "fp32" : "bf16", aten,
                  ours, aten / ours, 2.0 * 64 * static_cast<double>(in * out) / (ours * 1e6));
    }
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 10;
  bool python = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--measure-load" && i + 1 < argc) return measure_load(argv[i + 1]);
    if (a == "--prefill-products" && i + 1 < argc) {
      init_backend();
      prefill_products(std::stoi(argv[i + 1]));
      return 0;
    }
    if (a == "--gemv-chain" && i + 1 < argc) return gemv_chain(std::stoi(argv[i + 1]));
    if (a == "--decode-loop" && i + 2 < argc)
      return decode_loop(argv[i + 1], std::stoi(argv[i + 2]), i + 3 < argc && std::string(argv[i + 3]) == "--cold");
    if (a == "--op-profile" && i + 3 < argc) return op_profile(argv[i + 1], argv[i + 2], std::stoi(argv[i + 3]));
    if (a == "--reps" && i + 1 < argc) reps = std::stoi(argv[++i]);
    if (a == "--no-python") python = false;
  }
  BackendInfo info = init_backend();
  std::printf("runtime_bench: GPT-2-small shape (12 x 768, 12 heads, vocab 50257, tied), random weights\n");
  std::printf("threads %d, BLAS %s, reps %d\n\n", info.threads, info.blas_library.c_str(), reps);

  c10::NoGradGuard no_grad;
  at::manual_seed(0);
  const auto weights = random_gpt2_weights();
  CopyProbe probe;
  const double bandwidth = probe.median_gbs(5);
  const double aten_bandwidth = aten_copy_bandwidth_gbs(5);

  nlohmann::json py;
  if (python) {
    const fs::path script = bench::script_path("gpt2_eager.py", fs::path(__FILE__).parent_path());
    const std::string cmd = "/usr/bin/python3 " + script.string() + " --reps " + std::to_string(reps) + " --threads " +
                            std::to_string(info.threads);
    const std::string out = run_capture(cmd);
    try {
      py = nlohmann::json::parse(last_line(out));
    } catch (...) {
      std::printf("(PyTorch eager baseline unavailable: %s)\n", cmd.c_str());
    }
  }

  std::printf("%-6s %12s %12s %10s %14s %12s %10s %12s %12s %12s\n", "dtype", "prefill64 ms", "decode ms/t",
              "step-1 ms", "floor ms/t", "decode/floor", "paired d/f", "weight MB", "torch pre/us", "torch dec/us");
  for (auto [name, dtype] : {std::pair{"fp32", at::kFloat}, std::pair{"bf16", at::kBFloat16}}) {
    auto model = build_random_gpt2(weights, dtype);
    const double mb = static_cast<double>(weight_bytes(*model)) / 1e6;
    const double floor_ms = mb / 1e3 / bandwidth * 1e3;
    Timings t = time_model(*model, reps, probe, mb);
    double py_pre = 0, py_dec = 0;
    if (py.contains(name)) {
      py_pre = py[name]["prefill64_ms"].get<double>() / t.prefill_ms;
      py_dec = py[name]["decode_ms"].get<double>() / t.decode_ms;
    }
    std::printf("%-6s %12.1f %12.2f %10.2f %14.2f %12.2f %12.2f %10.0f %12.2f %12.2f\n", name, t.prefill_ms,
                t.decode_ms, t.first_step_ms, floor_ms, t.decode_ms / floor_ms, t.paired_ratio, mb, py_pre, py_dec);
  }
  std::printf(
      "  copy bandwidth %.1f GB/s (read + write; ATen's OpenMP copy: %.1f GB/s); floor = weight bytes / copy "
      "bandwidth\n",
      bandwidth, aten_bandwidth);
  std::printf("  step-1 = the first decode step right after a 63-token prefill\n");
  std::printf("  paired d/f = median over decode steps of step time / floor from a copy probe just before it\n");
  std::printf("  torch pre/us, torch dec/us = PyTorch eager time / our time (> 1: we are faster)\n\n");

  single_row_products(reps);
  prefill_products(reps);
  DispatchCost d = dispatch_cost();
  std::printf(
      "dispatch point: direct forward %.1f ns/call, through operator() %.1f ns/call (+%.1f ns), "
      "with a pass-through hook %.1f ns/call\n\n",
      d.direct_ns, d.dispatch_ns, d.dispatch_ns - d.direct_ns, d.hooked_ns);

  // Memory: write the fp32 model as a Hugging Face folder, load it in a fresh process.
  const fs::path dir = fs::temp_directory_path() / ("nnsight_bench_" + std::to_string(getpid()));
  fs::create_directories(dir);
  write_safetensors((dir / "model.safetensors").string(), weights);
  std::ofstream(dir / "config.json")
      << nlohmann::json{{"model_type", "gpt2"},       {"n_embd", kD},
                        {"n_layer", kLayers},         {"n_head", kHeads},
                        {"n_positions", kPositions},  {"vocab_size", kVocab},
                        {"layer_norm_epsilon", 1e-5}, {"activation_function", "gelu_new"}}
             .dump();
  const std::string out = run_capture(self_path() + " --measure-load " + dir.string());
  fs::remove_all(dir);
  try {
    auto j = nlohmann::json::parse(last_line(out));
    const double wb = j["weight_bytes"].get<double>();
    const double load = (j["peak_after_load_kb"].get<double>() - j["rss_before_kb"].get<double>()) * 1024;
    const double fwd = (j["peak_after_forward_kb"].get<double>() - j["rss_before_kb"].get<double>()) * 1024;
    std::printf(
        "load from safetensors: weights %.0f MB; peak RSS growth %.0f MB after load (%.2fx weights), "
        "%.0f MB after a forward (%.2fx weights; target <= 1.10x)\n",
        wb / 1e6, load / 1e6, load / wb, fwd / 1e6, fwd / wb);
  } catch (...) {
    std::printf("load measurement failed: %s\n", out.c_str());
  }
  return 0;
}
