// graph_bench: what the intervention graph costs (issue 3).
//
//   graph_bench [--reps N] [--no-python]
//
// 1. Per node: a trace on a one-module model whose body records a chain of N
//    `x = x + 1` on the module's [1, 1] output, then saves it (build, compile
//    and execute, i.e. the whole model.trace call), for N = 10, 100, 1000,
//    minus N bare ATen `t = t + 1` so what remains is the graph's own cost.
// 2. Per forward: a trace with N saves on the GPT-2-small-shaped random model
//    (fp32, 64 tokens) divided by the bare forward (the same root call, no
//    trace), for N = 0, 12, 100; bare and traced runs interleaved.
// 3. The 12-save forward done with PyTorch forward hooks (bench/trace_hooks.py,
//    run in the same invocation), side by side.
//
// Prints tables; every ratio is measured in this one run.
#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/zeros.h>
#include <benchmark/benchmark.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.h"
#include "nnsight/api/nnsight.h"
#include "nnsight/base/backend.h"
#include "nnsight/graph/recording.h"
#include "nnsight/runtime/forward_context.h"

namespace fs = std::filesystem;
using namespace nnsight;
using bench::median;
using bench::ms_since;

namespace {

constexpr double kNodeTargetUs = 2.0;
constexpr double kSaveTargetRatio = 1.02;

// ---- 1. Cost per node ----------------------------------------------------------

/// Returns its input: the one module whose output the chains start from.
class Identity : public Module {
 public:
  Identity() : Module("Identity") {}

 protected:
  Value forward(Inputs& inputs, ForwardContext&) override { return inputs.args.front(); }
};

/// A root with one child "layer" (Identity), called on the input.
class OneLayer : public Module {
 public:
  OneLayer() : Module("OneLayer") { layer_ = &add_module("layer", std::make_unique<Identity>()); }

 protected:
  Value forward(Inputs& inputs, ForwardContext& ctx) override { return (*layer_)(Inputs({inputs.args.front()}), ctx); }

 private:
  Module* layer_;
};

/// Microseconds per call of each of `fns`, measured in alternating batches
/// (one batch of each fn per sample, about `batch_ms` long; counts calibrated
/// once) so that drift hits all alike. Returns samples[fn][sample].
std::vector<std::vector<double>> us_per_call(const std::vector<std::function<void()>>& fns, int samples,
                                             double batch_ms = 10) {
  std::vector<int> calls;
  for (const auto& fn : fns) {
    fn();
    int n = 1;
    for (;;) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < n; ++i) fn();
      const double ms = ms_since(t0);
      if (ms >= batch_ms / 4 || n >= (1 << 20)) {
        calls.push_back(std::max(1, static_cast<int>(n * batch_ms / std::max(ms, 1e-3))));
        break;
      }
      n *= 4;
    }
  }
  std::vector<std::vector<double>> out(fns.size());
  for (int s = 0; s < samples; ++s) {
    for (std::size_t f = 0; f < fns.size(); ++f) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < calls[f]; ++i) fns[f]();
      out[f].push_back(ms_since(t0) * 1e3 / calls[f]);
    }
  }
  return out;
}

struct NodeCost {
  int32_t nodes = 0;       ///< nodes in the recorded graph (chain + entry, save, trace)
  double trace_us = 0;     ///< the whole model.trace call (median)
  double empty_us = 0;     ///< the same trace with an empty chain (entry + save)
  double aten_us = 0;      ///< `chain` bare ATen adds
  double graph_us = 0;     ///< median over samples of trace - aten, per node
  double marginal_us = 0;  ///< median over samples of trace - empty - aten, per node
  double build_us = 0;     ///< recording the same graph only (no compile, no run), per node
};

/// The chain's body: x = layer.output; x = x + 1 (chain times); save x.
graph::Saved record_chain(Model& model, int chain) {
  graph::Proxy x = model["layer"].output();
  for (int i = 0; i < chain; ++i) x = x + 1;
  return x.save();
}

NodeCost node_cost(Model& model, int chain, int samples) {
  NodeCost c;
  const at::Tensor input = at::zeros({1, 1});
  // Check once that the graph computes what it should.
  graph::Saved out;
  Traced run = model.trace(input, [&] { out = record_chain(model, chain); });
  c.nodes = run.graph->size();
  if (out.tensor().item<float>() != static_cast<float>(chain) || run.live_values() != 1)
    std::printf("!! chain of %d: got %s with %zu live values (expected %d and 1)\n", chain, out.value().repr().c_str(),
                run.live_values(), chain);

  auto trace = [&](int n) {
    return [&model, &input, n] {
      graph::Saved s;
      benchmark::DoNotOptimize(model.trace(input, [&] { s = record_chain(model, n); }));
    };
  };
  // Recording alone, with the graph layer's own scopes (what model.trace does before running).
  auto build = [&] {
    auto g = graph::Graph::create();
    graph::TraceScope scope(g, {Value(input)});
    graph::Proxy x = graph::entry("layer.output");
    for (int i = 0; i < chain; ++i) x = x + 1;
    benchmark::DoNotOptimize(x.save());
  };
  auto aten = [&] {
    at::Tensor t = input;
    for (int i = 0; i < chain; ++i) t = t + 1;
    benchmark::DoNotOptimize(t);
  };
  const auto us = us_per_call({trace(chain), trace(0), aten, build}, samples);
  std::vector<double> own, marginal;
  for (int s = 0; s < samples; ++s) {
    own.push_back((us[0][s] - us[2][s]) / chain);
    marginal.push_back((us[0][s] - us[1][s] - us[2][s]) / chain);
  }
  c.trace_us = median(us[0]);
  c.empty_us = median(us[1]);
  c.aten_us = median(us[2]);
  c.build_us = median(us[3]) / chain;
  c.graph_us = median(own);
  c.marginal_us = median(marginal);
  return c;
}

void report_node_costs(int samples, bool& met) {
  OneLayer net;
  Model model(net);
  std::printf("1. Cost per node (x = x + 1 on a [1, 1] module output; whole model.trace call)\n");
  std::printf("%8s %6s %10s %10s %10s %10s %10s %10s %10s\n", "chain", "nodes", "trace us", "empty us", "raw us/n",
              "aten us/n", "graph us/n", "marg us/n", "build us/n");
  for (int chain : {10, 100, 1000}) {
    const NodeCost c = node_cost(model, chain, samples);
    met = met && c.graph_us <= kNodeTargetUs;
    std::printf("%8d %6d %10.1f %10.1f %10.3f %10.3f %10.3f %10.3f %10.3f\n", chain, c.nodes, c.trace_us, c.empty_us,
                c.trace_us / chain, c.aten_us / chain, c.graph_us, c.marginal_us, c.build_us);
  }
  std::printf(
      "   raw = trace / chain; graph = (trace - bare ATen adds) / chain (target <= %.1f us); marg = (trace - empty\n"
      "   trace - ATen) / chain; graph and marg are medians of per-sample differences (batches interleaved);\n"
      "   build = recording only; empty = the trace with no chain (entry + save, 1-module forward)\n\n",
      kNodeTargetUs);
}

// ---- 2. Saves on a GPT-2 forward -----------------------------------------------

struct SavePoint {
  std::string path;
  bool tuple;  ///< output is a tuple: save element 0
};

/// `n` module outputs (0, 12 or 100) in the order the model computes them.
std::vector<SavePoint> save_points(int n) {
  std::vector<SavePoint> points;
  if (n == 12) {
    for (int64_t l = 0; l < bench::kLayers; ++l) points.push_back({"transformer.h." + std::to_string(l), true});
  } else if (n == 100) {
    points.push_back({"transformer.wte", false});
    points.push_back({"transformer.wpe", false});
    for (int64_t l = 0; l < bench::kLayers; ++l) {
      const std::string p = "transformer.h." + std::to_string(l);
      for (const char* m : {".ln_1", ".attn.c_attn", ".attn.c_proj"}) points.push_back({p + m, false});
      points.push_back({p + ".attn", true});
      for (const char* m : {".ln_2", ".mlp.c_fc", ".mlp.c_proj"}) points.push_back({p + m, false});
      points.push_back({p, true});
    }
    points.push_back({"transformer.ln_f", false});
    points.push_back({"lm_head", false});
  }
  return points;
}

Traced traced_forward(Model& model, const at::Tensor& ids, const std::vector<SavePoint>& points,
                      std::vector<graph::Saved>& saved) {
  saved.clear();
  return model.trace(ids, [&] {
    for (const SavePoint& p : points) {
      graph::Proxy v = model[p.path].output();
      saved.push_back((p.tuple ? v[0] : v).save());
    }
  });
}

at::Tensor bare_forward(Module& root, const at::Tensor& ids) {
  ForwardContext ctx;
  return root(Inputs({Value(ids)}), ctx).as_tensor();
}

struct SaveCost {
  double bare_ms = 0;
  double control_ratio = 0;  ///< second bare / bare: the noise floor of the ratios
  std::array<double, 3> traced_ms{}, ratio{};
};

constexpr std::array<int, 3> kSaveCounts{0, 12, 100};

SaveCost save_costs(CausalLM& lm, int reps) {
  Model model(lm);
  const at::Tensor ids = at::randint(0, bench::kVocab, {1, 64});
  std::array<std::vector<SavePoint>, 3> points;
  for (std::size_t k = 0; k < 3; ++k) points[k] = save_points(kSaveCounts[k]);

  // Check once: the traced output equals the bare one and only the saves survive.
  const at::Tensor reference = bare_forward(lm, ids);
  std::vector<graph::Saved> saved;
  for (std::size_t k = 0; k < 3; ++k) {
    Traced run = traced_forward(model, ids, points[k], saved);
    if (!at::equal(run.output.as_tensor(), reference) || run.live_values() != points[k].size())
      std::printf("!! trace with %d saves: output differs from the bare forward or %zu values live\n", kSaveCounts[k],
                  run.live_values());
  }

  // Each rep runs bare, a second bare (the control: its ratio shows the
  // noise floor) and the three traces once; the order rotates so no variant
  // always runs first (drift and cache effects cancel); each trace is
  // compared with the mean of its own rep's two bare runs.
  std::vector<double> bare, control;
  std::array<std::vector<double>, 3> traced, ratio;
  for (int r = 0; r < reps; ++r) {
    std::array<double, 5> t{};
    for (int i = 0; i < 5; ++i) {
      const int variant = (i + r) % 5;  // 0, 1 = bare, 2..4 = traces
      auto t0 = std::chrono::steady_clock::now();
      if (variant < 2) {
        benchmark::DoNotOptimize(bare_forward(lm, ids));
      } else {
        std::vector<graph::Saved> kept;  // freed inside the timed region, as in trace_hooks.py
        benchmark::DoNotOptimize(traced_forward(model, ids, points[variant - 2], kept));
      }
      t[variant] = ms_since(t0);
    }
    const double baseline = (t[0] + t[1]) / 2;
    bare.push_back(baseline);
    control.push_back(t[1] / t[0]);
    for (std::size_t k = 0; k < 3; ++k) {
      traced[k].push_back(t[k + 2]);
      ratio[k].push_back(t[k + 2] / baseline);
    }
  }
  SaveCost c;
  c.bare_ms = median(bare);
  c.control_ratio = median(control);
  for (std::size_t k = 0; k < 3; ++k) {
    c.traced_ms[k] = median(traced[k]);
    c.ratio[k] = median(ratio[k]);
  }
  return c;
}

nlohmann::json python_hooks(int reps, int threads) {
  const fs::path script = bench::script_path("trace_hooks.py", fs::path(__FILE__).parent_path());
  const std::string cmd = "/usr/bin/python3 " + script.string() + " --reps " + std::to_string(reps) + " --threads " +
                          std::to_string(threads);
  try {
    return nlohmann::json::parse(bench::last_line(bench::run_capture(cmd)));
  } catch (const nlohmann::json::exception&) {
    std::printf("(PyTorch hooks baseline unavailable: %s)\n", cmd.c_str());
    return {};
  }
}

}  // namespace

int main(int argc, char** argv) try {
  int reps = 15;
  bool python = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc) reps = std::stoi(argv[++i]);
    if (a == "--no-python") python = false;
  }
  BackendInfo info = init_backend();
  std::printf("graph_bench: intervention graph overhead\n");
  std::printf("threads %d, BLAS %s, reps %d\n\n", info.threads, info.blas_library.c_str(), reps);
  c10::NoGradGuard no_grad;  // bare and traced runs alike (python: torch.no_grad())
  at::manual_seed(0);

  bool node_met = true;
  report_node_costs(reps, node_met);

  // The Python baseline runs first, before our model takes its memory.
  const nlohmann::json py = python ? python_hooks(reps, info.threads) : nlohmann::json();
  auto lm = bench::build_random_gpt2(bench::random_gpt2_weights(), at::kFloat);
  const SaveCost s = save_costs(*lm, reps);

  std::printf("2. Forward with N saves / bare forward (GPT-2-small shape, fp32, 64 tokens, random weights)\n");
  std::printf("%8s %12s %12s %12s %14s\n", "saves", "bare ms", "traced ms", "ratio", "torch hooks");
  for (std::size_t k = 0; k < 3; ++k) {
    std::string torch_col = "-";
    if (kSaveCounts[k] == 12 && py.contains("ratio")) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", py["ratio"].get<double>());
      torch_col = buf;
    }
    std::printf("%8d %12.1f %12.1f %12.3f %14s\n", kSaveCounts[k], s.bare_ms, s.traced_ms[k], s.ratio[k],
                torch_col.c_str());
  }
  std::printf("%8s %12.1f %12s %12.3f %14s\n", "control", s.bare_ms, "(bare)", s.control_ratio, "-");
  std::printf(
      "   ratio = median over reps of traced / mean of the same rep's two bare runs (target <= %.2f with 12\n"
      "   saves); control = median of bare run 2 / bare run 1 (0 saves, no trace): the noise floor\n",
      kSaveTargetRatio);
  if (py.contains("ratio"))
    std::printf(
        "   torch hooks: PyTorch %s forward hooks on the 12 blocks keeping output[0].detach(): bare %.1f ms, "
        "hooked %.1f ms\n",
        py["torch"].get<std::string>().c_str(), py["bare_ms"].get<double>(), py["hooks_ms"].get<double>());
  std::printf("\ntargets: per node <= %.1f us: %s; 12 saves <= %.2fx: %s\n", kNodeTargetUs,
              node_met ? "met" : "NOT met", kSaveTargetRatio, s.ratio[1] <= kSaveTargetRatio ? "met" : "NOT met");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "graph_bench: %s\n", e.what());
  return 1;
}
