#pragma once
/// @file
/// Node: one step of an intervention graph, plus the kind-specific records
/// (entry points, contexts) that a Graph keeps in side tables.
///
/// Coordinate system: a node is named by its index in its Graph's node vector,
/// everywhere (dependencies, listeners, context bodies, resume positions,
/// deferred sections). There are no positions relative to a sub-sequence.
///
/// State machine of a node during a run (details in docs/graph-core.md):
/// ```
///   pending --(all dependencies executed, reached in program order)--> executed
///   pending --(its branch not taken / the run stopped / the run ended)--> skipped
///   executed --(re-run by a loop iteration or a repeated module call)--> pending
/// ```
/// `value` is held from execution until the last listener has executed
/// (remaining_listeners reaches 0), unless a Save node listens to it.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "nnsight/base/value.h"
#include "nnsight/graph/ops.h"

namespace nnsight::graph {

/// What a node is; every kind but Op and Apply has a fixed meaning beyond its arguments.
enum class NodeKind : uint8_t {
  Op,           ///< an op of the closed set (ops.h), by name
  Entry,        ///< a module value delivered by a hook: "<path>.output" / "<path>.input"
  Save,         ///< keeps its argument's value alive after the run (NNsight's Lock)
  Swap,         ///< replaces the value an entry hands back to the model
  Stop,         ///< ends the enclosing trace / loop / session
  Variable,     ///< a loop variable (first node of an Iterator body)
  Condition,    ///< context: if / elif / else branch
  Iterator,     ///< context: loop over a collection
  Trace,        ///< context: one model run (an InterventionGraph)
  Apply,        ///< an arbitrary local C++ callable (not serialisable)
  ApplyModule,  ///< an out-of-band module call, through ModuleCaller
  Parameter,    ///< a clone of a named parameter, through ModuleCaller
  Grad,         ///< the gradient of its argument, delivered by a tensor hook during backward
};

/// The kind's name for messages ("op", "entry", "save", ...).
const char* kind_name(NodeKind k);
/// Whether nodes of kind `k` open a context (have a body): Condition, Iterator, Trace.
inline bool is_context(NodeKind k) {
  return k == NodeKind::Condition || k == NodeKind::Iterator || k == NodeKind::Trace;
}

/// Which calls of a module an entry point takes: one call, a list of calls,
/// a range with step (Python slice semantics, no negatives), or every call.
class IterationSpec {
 public:
  IterationSpec() = default;  ///< call 0
  /// Call number `call` only.
  static IterationSpec at(int64_t call);
  /// The listed calls.
  static IterationSpec list(std::vector<int64_t> calls);
  /// The calls of a slice start:stop:step (no negatives).
  static IterationSpec range(const Slice& s);
  /// Every call.
  static IterationSpec all() { return range(Slice{}); }

  /// Whether call number `call` (0-based) is one of ours.
  bool ready(int64_t call) const;
  /// Whether another ready call may follow `call` (its section must be re-run: defer).
  bool more_after(int64_t call) const;
  /// For messages: "2", "[0, 2]", "1:3", "all".
  std::string repr() const;

 private:
  enum class Kind : uint8_t { Index, List, Range } kind_ = Kind::Index;
  int64_t start_ = 0;
  std::optional<int64_t> stop_;
  int64_t step_ = 1;
  std::vector<int64_t> calls_;
};

/// Side record of an Entry node.
struct EntryInfo {
  std::string key;           ///< "<module path>.output" or "<module path>.input"
  int32_t batch_group = -1;  ///< the invoke it was recorded in; -1 = outside invokes (the whole batch)
  int32_t trace = -1;        ///< the Trace node it belongs to
  IterationSpec iteration;   ///< which calls of the module it takes
  // Set by compile():
  int32_t key_id = -1;      ///< index of `key` in the trace's TraceTables::keys
  int32_t resume = -1;      ///< node index where execution continues after the value arrives
  int32_t section = -1;     ///< first node index of what a repeated call re-executes
  int32_t hoisted_to = -1;  ///< the loop node this entry was hoisted out of, or -1
  // Run state:
  int64_t calls = 0;          ///< calls of the module seen in this run
  int64_t current_call = -1;  ///< call number of the last ready call
  bool defer = false;         ///< last ready call will be followed by another
  bool fired_once = false;    ///< it has received a value in this run
  std::optional<Value> swap;  ///< replacement set by a Swap node, taken by the interleaver
};

/// Side record of a Grad node. A Grad node is bound to the first backward
/// pass run by a node recorded after it (NNsight: each `.grad` belongs to the
/// next `.backward()`); its hook ignores earlier passes and later ones.
struct GradInfo {
  bool registered = false;    ///< its tensor hook is installed (run state)
  bool fired = false;         ///< its gradient arrived (run state)
  uint32_t generation = 0;    ///< bumped on every registration; stale hooks ignore themselves
  std::optional<Value> swap;  ///< replacement gradient set by a Swap node (`.grad = v`)
};

/// What compile() derives for a Trace, and the trace's per-run bookkeeping.
struct TraceTables {
  bool compiled = false;                       ///< compile() has run (the tables below are valid)
  bool strict_order = true;                    ///< out-of-order module access is an error
  bool needs_grad = false;                     ///< uses .grad / backward / retain_grad / requires_grad_
  std::vector<std::string> keys;               ///< entry keys, in first-use order
  std::vector<std::vector<int32_t>> by_key;    ///< entry nodes per key id, creation order
  std::vector<int32_t> groups;                 ///< batch groups seen
  std::vector<std::vector<int32_t>> by_group;  ///< entry nodes per group, creation order
  // Run state:
  std::vector<std::size_t> group_cursor;  ///< first entry of each group that may still be pending
  std::vector<std::pair<int32_t, std::vector<int32_t>>> deferred;  ///< section start -> nodes it ran
  int32_t current_entry = -1;  ///< entry whose value is being processed (for messages)
  int32_t base_floor = -1;     ///< defer floor of the enclosing session loop pass, if any
};

/// Side record of a context node (Condition, Iterator, Trace). The body is the
/// node index range [context + 1, body_end).
struct ContextInfo {
  int32_t body_end = -1;      ///< one past the body's last node index
  bool else_branch = false;   ///< Condition: an elif/else (args[0] = previous branch)
  bool has_condition = true;  ///< Condition: false for a plain else
  TraceTables trace;          ///< Trace only
};

/// Signature of Apply nodes.
using ApplyFn = std::function<Value(std::vector<Value>& args, const Dict& kwargs)>;

/// One recorded step (see the file comment for its states).
struct Node {
  NodeKind kind = NodeKind::Op;     ///< what it does
  bool executed = false;            ///< it ran in the current run (state "executed")
  bool skipped = false;             ///< it will not run in the current run (state "skipped")
  bool taken = false;               ///< Condition: this branch ran
  bool has_value = false;           ///< `value` holds its result (not yet released)
  bool saved = false;               ///< a Save node listens to this node
  bool with_hooks = false;          ///< ApplyModule: a call of the run, seen by the trace's interventions
  bool grad_only = false;           ///< downstream of a Grad node: runs during backward, when the gradient arrives
  int32_t parent = -1;              ///< enclosing context node, -1 at the top level
  int32_t extra = -1;               ///< index into the graph's entry / context / apply table
  int32_t remaining_listeners = 0;  ///< listeners that have not executed yet; 0 releases the value
  const OpInfo* op = nullptr;       ///< Op nodes
  std::vector<Value> args;          ///< constants and Refs to earlier nodes
  Dict kwargs;                      ///< keyword arguments (constants and Refs)
  std::vector<int32_t> deps;        ///< nodes this one reads (sorted, unique)
  std::vector<int32_t> listeners;   ///< nodes reading this one
  Value value;                      ///< its result while has_value
  std::source_location loc;         ///< where the user created it

  /// Drops the value (tensors are freed when nothing else holds them).
  void destroy() {
    value = Value();
    has_value = false;
  }
};

}  // namespace nnsight::graph
