#pragma once
/// @file
/// InterventionGraph: one trace's part of a Graph, driven by module hooks.
///
/// The interleaver (a later layer) uses it like this for one forward pass:
///
/// ```
///   InterventionGraph ig(graph, trace_node);   // or the one TraceRunner::run gets
///   ig.begin();                                // compile, reset, run leading nodes
///   // in the hook of module key K (e.g. "layer1.output"), on every call:
///   for (int32_t e : ig.entries(ig.key_id(K))) {
///     auto r = ig.count(e);                    // counts the call, says if e takes it
///     if (!r.ready) continue;
///     if (auto swap = ig.fire(e, value_for(e)))  // runs the graph forward from e
///       replace the activation by *swap;
///   }
///   ig.finish();                               // after the forward (or a StopSignal)
/// ```
///
/// fire() runs nodes in index order until the next entry point that has not
/// received its value or a node whose inputs are missing. Each node's value is
/// dropped once its last listener ran, unless saved. Errors inside a node
/// become nnsight::Error naming the node, its op, the module key, the
/// iteration and the user's source line; the graph is then cleaned (no values
/// left) and can be reset and run again.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nnsight/graph/graph.h"

namespace nnsight::graph {

/// The driver of one trace's nodes during a forward pass (see the file comment for the protocol).
class InterventionGraph {
 public:
  /// The body of Trace node `trace` of `graph` (the graph must outlive this object).
  InterventionGraph(Graph& graph, int32_t trace);

  Graph& graph() { return *g_; }            ///< the graph holding the trace
  int32_t index() const { return trace_; }  ///< the Trace node's index
  /// The trace's inputs (the Trace node's arguments) with references resolved.
  std::vector<Value> inputs() const;

  /// Derives entry points per key (creation order), resume positions and
  /// deferred sections (node indices), hoists entries out of loops (the loop
  /// then depends on them). Idempotent; copied with the graph.
  void compile();
  /// compile(), fresh run state for this trace, then runs the nodes that need
  /// no module value (up to the first entry point).
  void begin();

  /// Entry keys, in first-use order ("layer1.output", ...).
  const std::vector<std::string>& keys() const { return tables().keys; }
  /// Id of `key`, or -1 when no entry uses it (no hook needed).
  int32_t key_id(std::string_view key) const;
  /// Entry nodes of a key id, in creation order.
  const std::vector<int32_t>& entries(int32_t key_id) const;
  /// The invoke (batch group) an entry node belongs to; -1 = the whole batch.
  int32_t batch_group(int32_t entry) const { return g_->entry(entry).batch_group; }
  /// The module value an entry node waits for ("layer1.output").
  const std::string& key(int32_t entry) const { return g_->entry(entry).key; }

  /// What count() says about one module call for one entry.
  struct Readiness {
    bool ready = false;  ///< this call is one the entry takes
    bool defer = false;  ///< another call will follow: its section re-runs, releases wait
    int64_t call = 0;    ///< 0-based call number of the module in this run
  };
  /// Counts one call of the entry's module; call once per call and entry.
  Readiness count(int32_t entry);
  /// Delivers a ready call's value and runs the graph forward from the entry.
  /// Returns the value a Swap node set for this entry (to hand back to the
  /// model instead), if any. Throws Error on an out-of-order access or a
  /// failing node, StopSignal for a stop.
  std::optional<Value> fire(int32_t entry, Value value);
  /// A swap set for `entry` by nodes that ran after its fire() returned.
  std::optional<Value> take_swap(int32_t entry);
  /// Convenience for interleavers without batching (and tests): count + fire
  /// every entry of `key` in creation order, threading swaps through; returns
  /// the value the model should continue with.
  Value deliver(std::string_view key, Value activation);

  /// After the forward pass (also after a stop): releases deferred sections
  /// and everything not saved (or needed by a later trace).
  void finish();
  /// After an error outside the graph (e.g. in the model): drops every value.
  void abort() { g_->clean_all(); }

  /// Whether the trace uses gradients (.grad, backward, retain_grad,
  /// requires_grad_): the interleaver then makes module values differentiable.
  bool needs_grad() const { return tables().needs_grad; }

  /// Out-of-order accesses are errors (default). Off: NNsight 0.4's lenient behaviour.
  void set_strict_order(bool strict) { g_->context(trace_).trace.strict_order = strict; }

 private:
  TraceTables& tables() { return g_->context(trace_).trace; }
  const TraceTables& tables() const { return g_->context(trace_).trace; }
  int32_t end() const { return g_->context(trace_).body_end; }
  void compile_gradients();
  void check_reachable(int32_t entry);
  void check_order(int32_t entry);

  Graph* g_;
  int32_t trace_;
};

}  // namespace nnsight::graph
