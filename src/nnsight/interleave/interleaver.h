#pragma once
/// @file
/// Interleaver: runs one trace's intervention graph inside a model's forward
/// pass, by hooking exactly the modules the graph names.
///
/// ```
///   Interleaver il(root, ig, {{0, 1}, {1, 2}});  // two invokes: rows 0 and 1..2
///   il.run([&] { root(inputs, ctx); });           // hooks removed afterwards
/// ```
///
/// Entry keys are "<path>.input", "<path>.output" and "<path>.skip" ("input",
/// "output", "skip" for the root). On every call of a hooked module:
/// ```
///   1. input entries get ((args...), {kwargs}); a swap rewrites the call's Inputs;
///   2. skip entries get the same pair; a swap there is the module's output and
///      the module does not run (when every invoke skips it; otherwise the
///      module runs and the skipping invokes' rows are replaced);
///   3. the module runs (Module::call_forward);
///   4. output entries get the output; a swap replaces it.
/// ```
/// Iteration k of an entry is the k-th call of its module in this run. With
/// several batch groups each entry sees its group's rows as views (batching.h)
/// and its swaps are spliced back; entries outside any group see everything.
/// Out-of-band module calls and parameter reads of the graph (ModuleCaller)
/// go to the same module tree, bypassing hooks (also those of the called
/// module's descendants: an out-of-band call is not a call of the run).
/// When the trace uses gradients, hooked floating-point values that do not
/// yet require gradients are made to (the model's weights never do, so no
/// gradient is accumulated into them), and a Grad node on an invoke's rows
/// hooks the batch tensor the model really computes with.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nnsight/graph/intervention_graph.h"
#include "nnsight/interleave/batching.h"
#include "nnsight/runtime/module.h"

namespace nnsight::interleave {

/// ModuleCaller over a module tree: runs modules directly (no hooks) with a
/// default ForwardContext, and reads parameters.
class ModuleTreeCaller : public graph::ModuleCaller {
 public:
  /// Calls modules of the tree under `root` (module paths are relative to it).
  explicit ModuleTreeCaller(Module& root) : root_(root) {}
  Value call_module(const std::string& path, Inputs& inputs) override { return call(path, inputs, false); }
  Value call_module_with_hooks(const std::string& path, Inputs& inputs) override { return call(path, inputs, true); }
  at::Tensor parameter(const std::string& path, const std::string& name) override;

 private:
  Value call(const std::string& path, Inputs& inputs, bool with_hooks);
  Module& root_;
};

/// Runs one trace's InterventionGraph inside a forward pass of a module tree (see the file comment).
class Interleaver : public CallHook, public graph::ModuleCaller {
 public:
  /// Installs hooks on the modules `trace` names (throws Error for an unknown
  /// module path, naming the entry's source line). `groups` are the invokes'
  /// rows, indexed by batch group; with fewer than two nothing is narrowed.
  Interleaver(Module& root, graph::InterventionGraph& trace, std::vector<BatchGroup> groups = {});
  /// Removes the hooks and detaches the module caller (also after errors).
  ~Interleaver() override;
  Interleaver(const Interleaver&) = delete;
  Interleaver& operator=(const Interleaver&) = delete;

  /// Runs `forward` (the model call) with the hooks in place. A StopSignal
  /// from the graph ends the forward pass and is swallowed; other errors
  /// propagate (LibTorch errors as nnsight::Error).
  void run(const std::function<void()>& forward);
  /// Whether the last run() was ended by a stop.
  bool stopped() const { return stopped_; }

  /// The hook of every hooked module call: delivers its input, skip and output entries (steps 1-4 above).
  Value intercept(Module& module, Inputs& inputs, ForwardContext& ctx) override;

  /// Out-of-band calls (ModuleCaller) run without interventions: hooks of the
  /// called module's descendants pass through and do not count calls.
  Value call_module(const std::string& path, Inputs& inputs) override;
  /// A call of the run: the module's (and its descendants') entries see it and count it.
  Value call_module_with_hooks(const std::string& path, Inputs& inputs) override;
  at::Tensor parameter(const std::string& path, const std::string& name) override;
  /// For an invoke's rows handed to the graph as a view: the batch tensor and the rows.
  graph::GradTarget grad_target(const at::Tensor& t) override;

 private:
  struct Hooked {
    Module* module = nullptr;
    int32_t input = -1;  // key ids, -1 = not used
    int32_t skip = -1;
    int32_t output = -1;
  };
  Hooked& hooked(Module& m);
  std::optional<BatchGroup> group_of(int32_t entry) const;
  /// The group's rows of `value` (views); remembered when the trace uses gradients.
  Value narrow(const Value& value, const BatchGroup& group);
  /// Delivers `value` to the ready entries of `key_id`, splicing swaps into it; true if it changed.
  bool deliver(int32_t key_id, Value& value);
  /// Delivers to skip entries; the module's replacement output, or nullopt to run it.
  std::optional<Value> deliver_skip(int32_t key_id, const Value& pair,
                                    std::vector<std::pair<BatchGroup, Value>>& partial);

  Module& root_;
  graph::InterventionGraph& ig_;
  std::vector<BatchGroup> groups_;
  int64_t total_ = 0;
  bool narrowing_ = false;
  bool stopped_ = false;
  int suspended_ = 0;  ///< depth of out-of-band calls in progress
  std::vector<Hooked> hooked_;
  /// Views of invokes' rows handed out in this run (traces with gradients only).
  struct NarrowedView {
    c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl> view, base;
    int64_t start = 0;
    int64_t length = 0;
  };
  std::vector<NarrowedView> narrowed_;
  ModuleTreeCaller caller_;
  graph::ModuleCaller* previous_caller_ = nullptr;
};

/// ((args...), {kwargs}): the value an ".input" entry receives.
Value inputs_to_value(const Inputs& inputs);
/// The inverse; throws Error (naming `where`) when `v` is not such a pair.
Inputs value_to_inputs(const Value& v, const std::string& where);

}  // namespace nnsight::interleave
