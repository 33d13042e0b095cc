#pragma once
/// @file
/// RAII scopes that direct recording: a session, a trace, a condition (with
/// elif / else), a loop, and the batch group (invoke) stamped on entry points.
/// They mirror NNsight's `with` blocks:
///
/// ```
///   auto g = Graph::create();
///   {
///     TraceScope trace(g);                       // with model.trace(...):
///     Proxy out = entry("layer1.output");
///     { CondScope c(out.sum() > 0);              //   if out.sum() > 0:
///       out.set({Slice()}, 0.0); }               //     out[:] = 0
///     { ElseScope e;                             //   else:
///       out.set({Slice()}, 1.0); }               //     out[:] = 1
///     { IterScope loop(list_of({0, 1, 2}));      //   for i in [0, 1, 2]:
///       out.set({Slice(), loop.item()}, 2.0); }  //     out[:, i] = 2
///   }
///   g->run(runner);
/// ```
///
/// Scopes close their context when destroyed (also during stack unwinding) and
/// make their graph the thread's current graph for their lifetime.

#include <memory>
#include <source_location>
#include <vector>

#include "nnsight/graph/proxy.h"

namespace nnsight::graph {

/// Makes `g` the current graph of this thread (restored on destruction).
class SessionScope {
 public:
  /// Makes `g` current on this thread until the scope ends.
  explicit SessionScope(std::shared_ptr<Graph> g);
  ~SessionScope();
  SessionScope(const SessionScope&) = delete;
  SessionScope& operator=(const SessionScope&) = delete;
  Graph& graph() const { return *g_; }  ///< the session's graph

 private:
  std::shared_ptr<Graph> g_;
  Graph* previous_;
};

/// One trace (model run). With no graph given it records into the current
/// graph (a session), or into a new graph when none is current.
class TraceScope {
 public:
  /// Opens a Trace node whose arguments are `inputs` (a trace's input; none with invokes)
  /// and makes its graph current until the scope ends.
  explicit TraceScope(std::shared_ptr<Graph> g = nullptr, std::vector<Value> inputs = {},
                      std::source_location loc = std::source_location::current());
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

  int32_t index() const { return index_; }                    ///< the Trace node's index
  const std::shared_ptr<Graph>& graph() const { return g_; }  ///< the graph it records into
  /// Closes the trace early (the destructor then does nothing).
  void close();

 private:
  std::shared_ptr<Graph> g_;
  Graph* previous_;
  int32_t index_;
  bool open_ = true;
};

/// `if condition:` (a proxy, or a constant).
class CondScope {
 public:
  /// Opens a Condition node in the condition's graph (or the current one); it closes with the scope.
  explicit CondScope(Arg condition, std::source_location loc = std::source_location::current());
  ~CondScope();
  CondScope(const CondScope&) = delete;
  CondScope& operator=(const CondScope&) = delete;
  int32_t index() const { return index_; }  ///< the Condition node's index

 protected:
  /// For ElseScope: closes the already opened Condition node `index` of `g` at the end of the scope.
  CondScope(Graph& g, int32_t index) : g_(&g), index_(index) {}
  Graph* g_;       ///< the graph recorded into
  int32_t index_;  ///< the Condition node
};

/// `elif condition:` (with a condition) or `else:` (without); must directly
/// follow a closed CondScope / ElseScope at the same level.
class ElseScope : public CondScope {
 public:
  /// Opens the `else:` branch, or the `elif condition:` branch, in the current graph.
  ///@{
  explicit ElseScope(std::source_location loc = std::source_location::current());
  explicit ElseScope(Arg condition, std::source_location loc = std::source_location::current());
  ///@}
};

/// `for item in collection:`; the body runs once per element at run time.
class IterScope {
 public:
  /// Opens an Iterator node over `collection` in its graph (or the current one); it closes with the scope.
  explicit IterScope(Arg collection, std::source_location loc = std::source_location::current());
  ~IterScope();
  IterScope(const IterScope&) = delete;
  IterScope& operator=(const IterScope&) = delete;
  /// The loop variable.
  Proxy item() const { return Proxy(g_, index_ + 1); }

 private:
  std::shared_ptr<Graph> g_;
  int32_t index_;
};

/// Entry points recorded in this scope belong to batch group `group` (an invoke).
class BatchGroupScope {
 public:
  /// Sets `g`'s batch group to `group` until the scope ends.
  BatchGroupScope(Graph& g, int32_t group) : g_(g), previous_(g.batch_group()) { g.set_batch_group(group); }
  ~BatchGroupScope() { g_.set_batch_group(previous_); }
  BatchGroupScope(const BatchGroupScope&) = delete;
  BatchGroupScope& operator=(const BatchGroupScope&) = delete;

 private:
  Graph& g_;
  int32_t previous_;
};

}  // namespace nnsight::graph
