// runtime_bench: speed and memory of the model runtime on a GPT-2-small-shaped
// model (12 layers, d=768, 12 heads, vocab 50257, tied head, random weights),
// fp32 and bf16, against the memory-bandwidth floor and PyTorch eager
// (bench/gpt2_eager.py, run in the same invocation).
//
//   runtime_bench [--reps N] [--no-python]
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
#include <benchmark/benchmark.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "bench_util.h"
#include "nnsight/base/backend.h"
#include "nnsight/base/linear.h"
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

// Copy bandwidth (bytes read + bytes written per second) on a buffer far larger than the caches.
double copy_bandwidth_gbs(int reps) {
  at::Tensor src = at::randn({128 * 1024 * 1024});  // 512 MB
  at::Tensor dst = at::empty_like(src);
  const double ms = median_ms(reps, [&] { dst.copy_(src); });
  return 2.0 * static_cast<double>(src.numel() * 4) / (ms * 1e6);
}

struct Timings {
  double prefill_ms = 0, decode_ms = 0;
};

Timings time_model(CausalLM& model, int reps) {
  c10::InferenceMode guard;
  Timings t;
  at::Tensor ids = at::randint(0, kVocab, {1, 64});
  t.prefill_ms = median_ms(reps, [&] { model.logits(ids); });
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

}  // namespace

int main(int argc, char** argv) {
  int reps = 10;
  bool python = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--measure-load" && i + 1 < argc) return measure_load(argv[i + 1]);
    if (a == "--reps" && i + 1 < argc) reps = std::stoi(argv[++i]);
    if (a == "--no-python") python = false;
  }
  BackendInfo info = init_backend();
  std::printf("runtime_bench: GPT-2-small shape (12 x 768, 12 heads, vocab 50257, tied), random weights\n");
  std::printf("threads %d, BLAS %s, reps %d\n\n", info.threads, info.blas_library.c_str(), reps);

  c10::NoGradGuard no_grad;
  at::manual_seed(0);
  const auto weights = random_gpt2_weights();
  const double bandwidth = copy_bandwidth_gbs(5);

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

  std::printf("%-6s %12s %12s %14s %12s %10s %12s %12s\n", "dtype", "prefill64 ms", "decode ms/t", "floor ms/t",
              "decode/floor", "weight MB", "torch pre/us", "torch dec/us");
  for (auto [name, dtype] : {std::pair{"fp32", at::kFloat}, std::pair{"bf16", at::kBFloat16}}) {
    auto model = build_random_gpt2(weights, dtype);
    const double mb = static_cast<double>(weight_bytes(*model)) / 1e6;
    const double floor_ms = mb / 1e3 / bandwidth * 1e3;
    Timings t = time_model(*model, reps);
    double py_pre = 0, py_dec = 0;
    if (py.contains(name)) {
      py_pre = py[name]["prefill64_ms"].get<double>() / t.prefill_ms;
      py_dec = py[name]["decode_ms"].get<double>() / t.decode_ms;
    }
    std::printf("%-6s %12.1f %12.2f %14.2f %12.2f %10.0f %12.2f %12.2f\n", name, t.prefill_ms, t.decode_ms, floor_ms,
                t.decode_ms / floor_ms, mb, py_pre, py_dec);
  }
  std::printf("  copy bandwidth %.1f GB/s (read + write); floor = weight bytes / copy bandwidth\n", bandwidth);
  std::printf("  torch pre/us, torch dec/us = PyTorch eager time / our time (> 1: we are faster)\n\n");

  single_row_products(reps);
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
