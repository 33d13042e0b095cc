#pragma once
// Internal to the api layer: what a model remembers while a trace or session
// is being recorded, and what it needs to run each recorded trace.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <tuple>
#include <vector>

#include "nnsight/api/scan.h"
#include "nnsight/base/error.h"
#include "nnsight/graph/proxy.h"
#include "nnsight/runtime/module.h"

namespace nnsight::api_detail {

/// What running one recorded trace needs besides its graph.
struct TraceSetup {
  /// Inputs of explicit invokes, in invoke (batch group) order.
  std::vector<Value> invoke_inputs;
  /// trace(input, ...): the input is the Trace node's argument 0 (it may be a
  /// proxy of an enclosing session) and forms invoke 0.
  bool implicit_invoke = false;
  bool strict_order = true;  ///< out-of-order module access is an error
  std::string where;         ///< where the trace comes from, for messages (see describe())
  std::source_location loc;  ///< the trace's source line, used when `where` is empty
  const char* what = "trace";
  /// "trace at file.cpp:12" (formatted only when needed: this is error text).
  std::string describe() const { return where.empty() ? std::string(what) + " at " + format_location(loc) : where; }
  Value output;  ///< the model's output after the run
  /// Replaces the single forward pass (e.g. a generation loop calling the model
  /// once per step); given the batched root call, returns the trace's output.
  std::function<Value(Inputs&)> run;
};

/// Recording state of the trace whose body is running.
struct TraceState {
  std::shared_ptr<graph::Graph> graph;
  int32_t index = -1;
  TraceSetup* setup = nullptr;
  bool in_invoke = false;
  /// Cached entry proxies: (key, iteration, batch group, context) -> proxy, so
  /// repeated `.output()` of one module in one place is one entry point.
  std::map<std::tuple<std::string, std::string, int32_t, int32_t>, graph::Proxy> entries;
  /// Iteration overrides pushed by next() and scoped iter(): (module path
  /// prefix, spec, call index if the spec is a single call). Later ones win.
  struct Override {
    std::string prefix;
    graph::IterationSpec spec;
    std::optional<int64_t> call;
  };
  std::vector<Override> overrides;
};

/// A session (or a stand-alone trace): one graph, run once at the end.
struct Recording {
  std::shared_ptr<graph::Graph> graph;
  std::map<int32_t, std::unique_ptr<TraceSetup>> setups;  ///< by Trace node index
  /// Set for a shape-only run (a scan, or the check before a validated trace):
  /// everything runs on meta tensors and the module calls are logged here.
  /// One pointer, so "shape-only" and "where its calls go" cannot disagree.
  Scanned* scan = nullptr;
  /// Whether this run is shape-only.
  bool shape_only() const { return scan != nullptr; }
};

}  // namespace nnsight::api_detail
