#pragma once
/// @file
/// Graph: the flat, index-addressed store of every node recorded in one
/// session (or one stand-alone trace), the recording state (stack of open
/// contexts), and session-level execution.
///
/// A session's top level holds session-level nodes and Trace contexts; a Trace
/// context's body is an InterventionGraph (intervention_graph.h) driven by
/// hooks. Values flow between traces through ordinary dependencies, since all
/// nodes share one index space. A stand-alone trace is a Graph whose only
/// top-level node is its Trace.
///
/// Recording goes to the innermost open context of the graph made current on
/// this thread by a scope object (recording.h). Graphs are created with
/// Graph::create() and shared by the proxies and saved handles that refer to
/// them.

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <vector>

#include "nnsight/graph/node.h"
#include "nnsight/runtime/module.h"

namespace nnsight::graph {

class InterventionGraph;

/// Thrown by a Stop node; ends the innermost trace, loop or session. The
/// interleaver catches it to abandon the forward pass.
struct StopSignal : std::exception {
  int32_t node = -1;                           ///< the Stop node that fired
  explicit StopSignal(int32_t n) : node(n) {}  ///< fired by Stop node `n`
  /// "nnsight: stop requested".
  const char* what() const noexcept override { return "nnsight: stop requested"; }
};

/// Where the gradient of a value really flows: the tensor itself, or, for a
/// view of one invoke's rows made by batching, the whole batch tensor (the
/// model computes with it, not with the view) and those rows.
struct GradTarget {
  at::Tensor tensor;    ///< the tensor to hook
  int64_t start = 0;    ///< first row of the value within `tensor` (dim 0)
  int64_t length = -1;  ///< -1: the whole tensor
};

/// Out-of-band access to the model, implemented by the interleave layer.
class ModuleCaller {
 public:
  virtual ~ModuleCaller() = default;
  /// Calls the module at `path` on `inputs` (an ApplyModule node).
  virtual Value call_module(const std::string& path, Inputs& inputs) = 0;
  /// The same through the module's dispatch point, so the trace's own
  /// interventions on it and its descendants apply (NNsight's `hook=True`).
  virtual Value call_module_with_hooks(const std::string& path, Inputs& inputs) { return call_module(path, inputs); }
  /// The parameter `name` of the module at `path` (a Parameter node clones it).
  virtual at::Tensor parameter(const std::string& path, const std::string& name) = 0;
  /// Where gradients of `t` flow (a Grad node hooks that tensor).
  virtual GradTarget grad_target(const at::Tensor& t) { return GradTarget{t}; }
};

/// Runs one trace's model forward, delivering module values to the graph
/// (InterventionGraph::fire). Implemented by the interleave layer; tests
/// implement it with simulated hooks.
class TraceRunner {
 public:
  virtual ~TraceRunner() = default;
  /// `trace` is compiled and its leading nodes have run. A StopSignal may
  /// escape (it ends this trace only).
  virtual void run(InterventionGraph& trace) = 0;
};

/// The node store and recording state of one session or stand-alone trace (see the file comment).
class Graph : public std::enable_shared_from_this<Graph> {
 public:
  /// A new empty graph (graphs are always held by shared_ptr).
  static std::shared_ptr<Graph> create();
  ~Graph() { remove_grad_hooks(); }
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // ---- Recording -----------------------------------------------------------
  /// The graph recording on this thread (innermost scope), or nullptr.
  static Graph* current();
  /// Makes `g` current on this thread; returns the previous one.
  static Graph* set_current(Graph* g);

  /// Adds an Op node (the op, or its name: unknown names throw Error); Refs
  /// inside args/kwargs become dependencies. Returns the node's index, as do
  /// all add_* and open_* functions.
  ///@{
  int32_t add_op(const OpInfo& op, std::vector<Value> args, Dict kwargs = {},
                 std::source_location loc = std::source_location::current());
  int32_t add_op(std::string_view op_name, std::vector<Value> args, Dict kwargs = {},
                 std::source_location loc = std::source_location::current());
  ///@}
  /// Adds an entry point for "<module path>.output|input", in the current batch group.
  int32_t add_entry(std::string key, IterationSpec iteration = {},
                    std::source_location loc = std::source_location::current());
  /// A Save node: node `target`'s value is kept after the run.
  int32_t add_save(int32_t target, std::source_location loc = std::source_location::current());
  /// A Swap node: `replacement` is handed back for Entry or Grad node `entry` (else throws Error).
  int32_t add_swap(int32_t entry, Value replacement, std::source_location loc = std::source_location::current());
  /// A stop; with `after` >= 0 it fires as soon as that node has executed.
  int32_t add_stop(int32_t after = -1, std::source_location loc = std::source_location::current());
  /// An Apply node: `fn` on the resolved arguments (local only); `label` names it in messages.
  int32_t add_apply(ApplyFn fn, std::vector<Value> args, Dict kwargs = {}, std::string label = "apply",
                    std::source_location loc = std::source_location::current());
  /// args[0] of the node is the module path; the call's inputs follow.
  /// `with_hooks`: the call counts as a call of the run (ModuleCaller::call_module_with_hooks).
  int32_t add_module_call(std::string path, std::vector<Value> args, Dict kwargs = {},
                          std::source_location loc = std::source_location::current(), bool with_hooks = false);
  /// Appends a copy of the body of trace `trace` of `source` to the innermost
  /// open context (references renumbered; entry points in the current batch
  /// group). Used to apply a model's edits at the start of every trace.
  /// Throws Error when the body uses values from outside that trace.
  void inline_trace(const Graph& source, int32_t trace);
  /// A Parameter node: a clone of parameter `name` of the module at `path` (through the ModuleCaller).
  int32_t add_parameter(std::string path, std::string name, std::source_location loc = std::source_location::current());
  /// A Grad node: the gradient of node `target` in the next backward pass recorded after it.
  int32_t add_grad(int32_t target, std::source_location loc = std::source_location::current());

  /// Opens a Trace or Condition context; nodes recorded until close() form its body.
  ///@{
  int32_t open_trace(std::vector<Value> inputs = {}, std::source_location loc = std::source_location::current());
  int32_t open_condition(Value condition, std::source_location loc = std::source_location::current());
  ///@}
  /// An elif (with a condition) or else (without) of the condition closed last
  /// at this level (nodes recorded in between, e.g. the elif's condition, run
  /// unconditionally).
  int32_t open_else(std::optional<Value> condition, std::source_location loc = std::source_location::current());
  /// Opens a loop; its Variable node (the loop item) is returned index + 1.
  int32_t open_iterator(Value collection, std::source_location loc = std::source_location::current());
  /// Closes the innermost context, which must be `context`.
  void close(int32_t context);
  /// Innermost open context, or -1.
  int32_t current_context() const { return open_.empty() ? -1 : open_.back(); }
  /// Batch group stamped on new entry points (an invoke's index; -1 = none).
  ///@{
  void set_batch_group(int32_t group) { batch_group_ = group; }
  int32_t batch_group() const { return batch_group_; }
  ///@}

  // ---- Inspection ------------------------------------------------------------
  int32_t size() const { return static_cast<int32_t>(nodes_.size()); }  ///< number of nodes
  /// Node i (0 <= i < size(); not checked).
  ///@{
  const Node& node(int32_t i) const { return nodes_[static_cast<std::size_t>(i)]; }
  Node& node(int32_t i) { return nodes_[static_cast<std::size_t>(i)]; }
  ///@}
  /// The side record of node i, which must be of the matching kind (not checked):
  /// entry() for Entry nodes, context() for Condition / Iterator / Trace nodes,
  /// apply_fn() for Apply nodes, grad() for Grad nodes.
  ///@{
  EntryInfo& entry(int32_t i) { return entries_[static_cast<std::size_t>(node(i).extra)]; }
  const EntryInfo& entry(int32_t i) const { return entries_[static_cast<std::size_t>(node(i).extra)]; }
  ContextInfo& context(int32_t i) { return contexts_[static_cast<std::size_t>(node(i).extra)]; }
  const ContextInfo& context(int32_t i) const { return contexts_[static_cast<std::size_t>(node(i).extra)]; }
  const ApplyFn& apply_fn(int32_t i) const { return applies_[static_cast<std::size_t>(node(i).extra)]->fn; }
  GradInfo& grad(int32_t i) { return grads_[static_cast<std::size_t>(node(i).extra)]; }
  const GradInfo& grad(int32_t i) const { return grads_[static_cast<std::size_t>(node(i).extra)]; }
  ///@}
  /// "node 7 (add)", "node 3 (layer1.output, iteration 0)": for messages.
  std::string label(int32_t i) const;
  /// Where node i was created, "file.cpp:42"; its location text when one is set.
  std::string where(int32_t i) const;
  /// Per-node location texts that where() reports instead of the C++ source
  /// line (a decoded graph's client lines: "patch.py:12"); empty entries and
  /// nodes past the table's end keep the source line.
  void set_location_texts(std::vector<std::string> texts) { location_texts_ = std::move(texts); }
  /// Indices of the top-level Trace nodes, in order.
  std::vector<int32_t> traces() const;

  // ---- Run state -------------------------------------------------------------
  /// Number of nodes holding a value (after a run: exactly the saved ones).
  std::size_t live_values() const;
  /// Indices of the nodes holding a value.
  std::vector<int32_t> live_nodes() const;
  /// The value of node i; throws an Error naming the node and saying why it
  /// is unavailable (not saved and freed, never executed, in a branch not taken).
  const Value& value(int32_t i) const;
  /// Gives node i a value computed elsewhere (a remote run) as if it had run here.
  void set_value(int32_t i, Value v);
  /// Forgets every run state (values, flags, counters): ready to run again.
  void reset();
  /// Drops every value and pending swap (after an error): nothing leaks.
  void clean_all();
  /// A deep copy: same nodes and compiled state, fresh run state.
  std::shared_ptr<Graph> copy() const;

  /// Runs the session: top-level nodes in order, each Trace through `runner`
  /// (a TraceRunner, or a function given each trace's InterventionGraph).
  ///@{
  void run(TraceRunner& runner);
  void run(const std::function<void(InterventionGraph&)>& runner);
  ///@}

  /// Sink of `print` nodes (default: stdout).
  ///@{
  void set_log_sink(LogSink sink) { log_sink_ = std::move(sink); }
  const LogSink& log_sink() const { return log_sink_; }
  ///@}
  /// Model access for ApplyModule / Parameter nodes.
  ///@{
  void set_module_caller(ModuleCaller* caller) { module_caller_ = caller; }
  ModuleCaller* module_caller() const { return module_caller_; }
  ///@}
  /// Called before every pass of a loop (throws to stop the run, e.g. at a
  /// deadline): a loop without model calls would otherwise never be interrupted.
  ///@{
  void set_interrupt_check(std::function<void()> check) { interrupt_check_ = std::move(check); }
  const std::function<void()>& interrupt_check() const { return interrupt_check_; }
  ///@}
  /// Shape-only runs (a scan): every tensor a node computes with is a meta
  /// tensor (constants are converted), so ops check shapes and compute nothing.
  ///@{
  void set_shape_only(bool on) { shape_only_ = on; }
  bool shape_only() const { return shape_only_; }
  ///@}

  // ---- Gradients (gradients.h) ------------------------------------------------
  /// Remembers a tensor hook a Grad node installed, so it can be removed.
  void add_grad_hook(at::Tensor tensor, unsigned id) { grad_hooks_.push_back({std::move(tensor), id}); }
  /// Removes every installed gradient hook (end of a trace, errors).
  void remove_grad_hooks();
  /// The backward node running now (its hooks fire), or -1.
  ///@{
  int32_t running_backward() const { return running_backward_; }
  void set_running_backward(int32_t node) { running_backward_ = node; }
  ///@}

 private:
  Graph() = default;
  friend class Executor;
  friend class InterventionGraph;

  int32_t add_node(NodeKind kind, std::vector<Value> args, Dict kwargs, std::source_location loc);
  void link(int32_t index);
  int32_t open_context(NodeKind kind, std::vector<Value> args, ContextInfo info, std::source_location loc);

  std::vector<Node> nodes_;
  std::vector<EntryInfo> entries_;
  std::vector<ContextInfo> contexts_;
  struct ApplyRecord {
    ApplyFn fn;
    std::string label;
  };
  std::vector<std::shared_ptr<const ApplyRecord>> applies_;
  std::vector<GradInfo> grads_;
  struct GradHook {
    at::Tensor tensor;
    unsigned id;
  };
  std::vector<GradHook> grad_hooks_;
  int32_t running_backward_ = -1;
  std::vector<int32_t> open_;
  int32_t last_closed_condition_ = -1;
  int32_t batch_group_ = -1;
  LogSink log_sink_;
  ModuleCaller* module_caller_ = nullptr;
  bool shape_only_ = false;
  std::function<void()> interrupt_check_;
  std::vector<std::string> location_texts_;
};

}  // namespace nnsight::graph
