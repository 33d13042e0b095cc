#pragma once
/// @file
/// Model: NNsight's `NNsight(module)` in C++ — tracing over any module tree.
///
/// ```
///   Model model(root);                                  // any nnsight::Module tree
///   Saved h;
///   model.trace(x, [&] { h = model["layer1"].output().save(); });
///   at::Tensor t = h.tensor();                          // after the run
/// ```
///
/// trace(input, body) records the body (an implicit invoke of `input`) and runs
/// the model once; trace(body) with a Tracer& parameter takes invokes instead.
/// Inside session(body), traces are recorded and all run when the session body
/// ends. Errors carry the user's source line; the model stays usable after them.

#include <concepts>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <vector>

#include "nnsight/api/envoy.h"
#include "nnsight/api/scan.h"
#include "nnsight/api/trace_state.h"
#include "nnsight/api/tracer.h"
#include "nnsight/graph/proxy.h"
#include "nnsight/interleave/batching.h"
#include "nnsight/runtime/module.h"

namespace nnsight {

using graph::Proxy;
using graph::Saved;

/// What a trace or session leaves behind.
struct Traced {
  Value output;                         ///< the model's output (stand-alone traces; None in sessions)
  std::shared_ptr<graph::Graph> graph;  ///< the recorded graph (its saved values)
  /// Values alive after the run: exactly the saved ones.
  std::size_t live_values() const;
};

/// A trace body: called with no arguments, or with the Tracer (for invokes).
template <class F>
concept TraceBody = std::invocable<F&> || std::invocable<F&, Tracer&>;

/// Options of model.trace(input, options, body).
struct TraceOptions {
  /// Scan the trace first (see Model::scan): a shape error is reported, naming
  /// the user's line, before the model runs at all.
  bool validate = false;
};

/// NNsight's `NNsight(module)`: the tracing API over a module tree (see the file comment).
class Model {
 public:
  using Loc = std::source_location;  ///< the caller's source line, captured by default arguments

  /// Wraps a module tree owned elsewhere (it must outlive the Model).
  explicit Model(Module& root);
  /// Wraps and owns a module tree.
  explicit Model(std::unique_ptr<Module> root);
  virtual ~Model();
  /// Takes over the tree (and its ownership) and the edits.
  Model(Model&&) noexcept;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  /// The module at a dotted path ("model.layers.2.mlp"); "" is the root.
  ///@{
  Envoy operator[](const std::string& path);
  Envoy operator[](const char* path) { return (*this)[std::string(path)]; }
  ///@}
  Envoy root() { return Envoy(*this, *root_); }  ///< the root module's envoy
  Module& module() { return *root_; }            ///< the root module

  /// Records `body` with `input` as the only invoke, then runs the model (or,
  /// inside a session, runs it when the session ends). `input` may be a proxy
  /// of the enclosing session (e.g. a loop item).
  template <class F>
  Traced trace(graph::Arg input, F&& body, Loc loc = Loc::current()) {
    return trace_impl(&input, as_tracer_body(std::forward<F>(body)), loc);
  }
  /// Records `body` (which adds inputs with tracer.invoke) and runs the model.
  template <class F>
  Traced trace(F&& body, Loc loc = Loc::current()) {
    return trace_impl(nullptr, as_tracer_body(std::forward<F>(body)), loc);
  }
  /// The same with options, e.g. trace(input, {.validate = true}, body).
  ///@{
  template <class F>
  Traced trace(graph::Arg input, const TraceOptions& options, F&& body, Loc loc = Loc::current()) {
    return trace_impl(&input, as_tracer_body(std::forward<F>(body)), loc, {}, options);
  }
  template <class F>
  Traced trace(const TraceOptions& options, F&& body, Loc loc = Loc::current()) {
    return trace_impl(nullptr, as_tracer_body(std::forward<F>(body)), loc, {}, options);
  }
  ///@}

  // ---- Scans ---------------------------------------------------------------------
  /// NNsight's `model.scan(input)`: records `body` like trace() and runs it on
  /// meta tensors (the model's parameters are swapped for meta copies for the
  /// duration), so every module call's shapes and dtypes, and the saved
  /// values' (as meta tensors), are known without computing anything. Shape
  /// errors of the interventions are raised naming the user's line. Apply
  /// nodes (C++ callables) run on meta tensors too; `print` prints nothing.
  template <TraceBody F>
  Scanned scan(graph::Arg input, F&& body, Loc loc = Loc::current()) {
    Scanned out;
    trace_impl(&input, as_tracer_body(std::forward<F>(body)), loc, {}, {}, &out);
    return out;
  }
  /// scan() with invokes (tracer.invoke), batched as trace() batches them.
  template <TraceBody F>
  Scanned scan(F&& body, Loc loc = Loc::current()) {
    Scanned out;
    trace_impl(nullptr, as_tracer_body(std::forward<F>(body)), loc, {}, {}, &out);
    return out;
  }
  /// A scan of `input` without interventions: the model's module shapes.
  Scanned scan(graph::Arg input, Loc loc = Loc::current()) {
    return scan(
        std::move(input), [] {}, loc);
  }
  // ---- Edits -------------------------------------------------------------------
  /// Records `body` as an edit of this model: its interventions run at the
  /// start of every later trace (and session trace), on the whole batch
  /// whatever the invokes. `body` is called with no arguments or with this Model&.
  template <class F>
  void edit_in_place(F&& body, Loc loc = Loc::current()) {
    record_edit(*this, body, loc);
  }
  /// NNsight's `model.edit()`: a copy of this model that shares its module
  /// tree (which must outlive the copy), with this model's edits plus `body`;
  /// this model is unchanged. `body` may take the copy (Model&).
  template <class F>
  Model edit(F&& body, Loc loc = Loc::current()) {
    Model copy(*root_);
    copy.edits_ = edits_;
    record_edit(copy, body, loc);
    return copy;
  }
  /// Forgets every edit of this model.
  void clear_edits() { edits_.clear(); }
  /// Number of recorded edits.
  std::size_t edit_count() const { return edits_.size(); }

  /// Records several traces and session-level control flow, then runs them in order.
  template <class F>
  Traced session(F&& body, Loc loc = Loc::current()) {
    if constexpr (std::invocable<F&, Session&>) {
      return session_impl(std::function<void(Session&)>(std::forward<F>(body)), loc);
    } else {
      return session_impl([&body](Session&) { body(); }, loc);
    }
  }

  /// Runs a graph recorded outside this model's tracing API (e.g. decoded from
  /// JSON, api/document_runner.h): every trace's inputs and settings come from
  /// `recording.setups` (by Trace node index), whose outputs it fills.
  virtual void run_recording(api_detail::Recording& recording);
  /// Runs the root on a prepared call (through its dispatch point).
  virtual Value forward(Inputs& inputs);

 protected:
  /// One forward pass for all invokes of a trace.
  struct Batch {
    Inputs inputs;                               ///< the root's call
    std::vector<interleave::BatchGroup> groups;  ///< rows of each invoke
  };
  /// Batches the invokes' inputs into one root call. Default: tensors,
  /// concatenated on dim 0.
  virtual Batch prepare(const std::vector<Value>& invoke_inputs);

  /// A trace body of either form as a function taking the Tracer.
  template <class F>
  static std::function<void(Tracer&)> as_tracer_body(F&& body) {
    if constexpr (std::invocable<F&, Tracer&>) {
      return std::function<void(Tracer&)>(std::forward<F>(body));
    } else {
      return [&body](Tracer&) { body(); };
    }
  }
  /// Records `body` as an edit appended to target's edits, with both this
  /// model and `target` recording into it; `body` is called with `target`
  /// (a Model& or LanguageModel&) when it takes one, else with no arguments.
  template <class F, class M>
  void record_edit(M& target, F& body, const Loc& loc) {
    record_edit_trace(
        target,
        [&] {
          if constexpr (std::invocable<F&, M&>) {
            body(target);
          } else {
            body();
          }
        },
        loc);
  }
  /// The untyped part of record_edit: records `body` as an edit trace of `target`.
  void record_edit_trace(Model& target, const std::function<void()>& body, const Loc& loc);

  /// `run` (optional) replaces the single forward pass of this trace. With
  /// `scan_only`, the trace runs on meta tensors only and logs its calls there.
  Traced trace_impl(const graph::Arg* input, const std::function<void(Tracer&)>& body, const Loc& loc,
                    std::function<Value(Inputs&)> run = {}, const TraceOptions& options = {},
                    Scanned* scan_only = nullptr);

  Module* root_;                   ///< the traced tree
  std::unique_ptr<Module> owned_;  ///< the tree, when this model owns it
  /// Recorded edits: (graph, trace node), inlined at the start of every trace.
  struct RecordedEdit {
    std::shared_ptr<const graph::Graph> graph;  ///< the edit's recording
    int32_t trace = -1;                         ///< its Trace node
  };
  std::vector<RecordedEdit> edits_;  ///< in recording order

 private:
  friend class Envoy;
  friend class Tracer;

  Traced session_impl(const std::function<void(Session&)>& body, const Loc& loc);
  /// What trace_impl and record_edit_trace share: opens a Trace node with `inputs`
  /// in `g` (null: the graph being recorded, a session's) at setup.loc, makes
  /// its TraceState the one this model (and `also`, when not null) records
  /// into, and calls `body` with it. Returns the Trace node's index.
  int32_t record_trace(std::shared_ptr<graph::Graph> g, std::vector<Value> inputs, api_detail::TraceSetup& setup,
                       Model* also, const std::function<void(api_detail::TraceState&)>& body);
  /// The trace being recorded; throws Error (at `loc`) when there is none.
  api_detail::TraceState& tracing(const Loc& loc, const char* what);

  api_detail::TraceState* tracing_ = nullptr;
  api_detail::Recording* session_ = nullptr;
};

}  // namespace nnsight
