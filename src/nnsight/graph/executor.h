#pragma once
// Executor (internal to the graph layer): walks node index ranges, executes
// nodes, runs conditions and loops, and releases values by the memory rule.
//
// Release rule with a defer floor F (F < 0: no deferral). When a node is done
// (executed or skipped) it decrements remaining_listeners of each dependency
// d, except the ones `kept(d, F)`: nodes before F (they are needed again when
// the deferred section re-runs) and entry points after F (hoisted entries
// of the trace being run, which a loop or a later call re-reads). Kept edges are released later by cleanup (or
// when the section runs for the last time), so every edge is released once.

#include <cstdint>
#include <vector>

#include "nnsight/graph/graph.h"

namespace nnsight::graph {

class Executor {
 public:
  enum class Mode {
    Hook,        ///< trace level: wait (return) at a pending entry or unfulfilled node
    Sequential,  ///< loop bodies and session level: everything must be runnable
  };

  Executor(Graph& g, TraceRunner* runner = nullptr) : g_(g), runner_(runner) {}

  /// Processes nodes from `pos` up to `end` in index order; returns where it
  /// stopped (== end when finished). `record` collects processed nodes of a
  /// deferred section.
  int32_t walk(int32_t pos, int32_t end, Mode mode, int32_t floor, std::vector<int32_t>* record);

  /// Marks every not yet processed node of [begin, end) skipped and releases its edges.
  void skip_range(int32_t begin, int32_t end, int32_t floor, std::vector<int32_t>* record);
  /// Releases the edges of node i that floor `inner` kept but floor `outer` would not.
  void release_kept(int32_t i, int32_t inner, int32_t outer);
  /// Forgets node i's run state so it can run again.
  void reset_node(int32_t i);
  /// Drops the values of [begin, end) that nothing pending needs and no Save keeps.
  void sweep(int32_t begin, int32_t end);

  bool fulfilled(int32_t i) const;
  /// Entry points of a trace that encloses the floor keep their value across
  /// passes (they are not re-delivered); the section's own entry (dep == floor) is.
  bool kept(int32_t dep, int32_t floor) const {
    if (floor < 0) return false;
    if (dep < floor) return true;
    const Node& d = g_.node(dep);
    return dep != floor && d.kind == NodeKind::Entry && g_.entry(dep).trace < floor;
  }

  /// Runs one Trace node at the session level.
  void run_trace(int32_t t, int32_t floor);

  /// Grad node i's gradient arrived (inside a backward pass): stores it and
  /// runs every grad-only node of its trace that can run now, in index order.
  void gradient_arrived(int32_t i, Value gradient);

 private:
  void execute(int32_t i, int32_t floor);
  /// Installs Grad node i's tensor hook (errors name the node).
  void install_hook(int32_t i);
  void run_condition(int32_t i, int32_t floor, std::vector<int32_t>* record);
  void run_loop(int32_t i, int32_t floor, std::vector<int32_t>* record);
  void release(int32_t i, int32_t floor);
  void done(int32_t i, Value v, int32_t floor);
  Value resolve(const Value& v) const;
  std::vector<Value> resolve_all(const std::vector<Value>& args) const;
  [[noreturn]] void not_runnable(int32_t i) const;
  [[noreturn]] void rethrow_in_node(int32_t i) const;

  Graph& g_;
  TraceRunner* runner_;
  bool grad_phase_ = false;  ///< running grad-only nodes (inside backward)
};

/// The Trace node enclosing node i, or -1.
int32_t enclosing_trace(const Graph& g, int32_t i);

}  // namespace nnsight::graph
