#pragma once
/// @file
/// Envoy: the handle on one module of a traced model, NNsight's `model.layer1`.
///
/// ```
///   model["model.layers"][2]["mlp"].output()            // a proxy of the MLP's output
///   model["model.layers.2"].set_output(v)               // swap the layer's output
///   model["lm_head"](model["model.norm"](h))            // out-of-band calls (logit lens)
///   model["layer1"].next().output()                     // its second call in this invoke
///   model["rep"].iter(Slice{1, 3}).output()             // calls 1 and 2
/// ```
///
/// Value accessors record entry points in the trace being recorded (they are
/// errors outside model.trace); repeated accesses of one module value at one
/// place are the same entry point, as in NNsight.

#include <functional>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "nnsight/graph/proxy.h"
#include "nnsight/runtime/module.h"

namespace nnsight {

class Model;

/// A handle on one module of a Model, for use inside its traces (see the file comment).
class Envoy {
 public:
  using Loc = std::source_location;  ///< the caller's source line, captured by default arguments

  /// The handle on `module` of `model`; `iteration`, when set, selects the calls its accesses take.
  Envoy(Model& model, Module& module, std::optional<graph::IterationSpec> iteration = std::nullopt);

  /// Descendant by relative dotted path ("h.0.attn"); throws Error listing the children.
  ///@{
  Envoy operator[](const std::string& relative_path) const;
  Envoy operator[](const char* relative_path) const { return (*this)[std::string(relative_path)]; }
  ///@}
  /// Child number i (negative counts from the end), e.g. a layer of a ModuleList.
  ///@{
  Envoy operator[](int64_t i) const;
  Envoy operator[](int i) const { return (*this)[static_cast<int64_t>(i)]; }
  ///@}

  const std::string& path() const { return module_->path(); }  ///< the module's dotted path ("" for the root)
  Module& module() const { return *module_; }                  ///< the module itself

  // ---- Module values (inside a trace) ----------------------------------------
  /// The module's output.
  graph::Proxy output(Loc loc = Loc::current()) const;
  /// Its first positional input.
  graph::Proxy input(Loc loc = Loc::current()) const;
  /// All its inputs as ((args...), {kwargs}).
  graph::Proxy inputs(Loc loc = Loc::current()) const;
  /// Replaces the output the model continues with (NNsight's `.output = v`).
  void set_output(graph::Arg value, Loc loc = Loc::current()) const;
  /// Replaces the first positional input (NNsight's `.input = v`).
  void set_input(graph::Arg value, Loc loc = Loc::current()) const;
  /// Does not run the module; `value` is its output (NNsight 0.5's `.skip`).
  void skip(graph::Arg value, Loc loc = Loc::current()) const;

  // ---- Which call -------------------------------------------------------------
  /// Advances this module and its descendants by n calls for the rest of the
  /// invoke (NNsight's `.next()`); returns this envoy.
  Envoy next(int64_t n = 1, Loc loc = Loc::current()) const;
  /// An envoy whose accesses take every call (deferred release until the last).
  Envoy all() const { return iter(graph::IterationSpec::all()); }
  /// An envoy whose accesses take the calls `spec` selects / call i / the listed calls / a slice of calls.
  ///@{
  Envoy iter(graph::IterationSpec spec) const;
  Envoy iter(int64_t call) const { return iter(graph::IterationSpec::at(call)); }
  Envoy iter(std::vector<int64_t> calls) const { return iter(graph::IterationSpec::list(std::move(calls))); }
  Envoy iter(const Slice& calls) const { return iter(graph::IterationSpec::range(calls)); }
  ///@}
  /// `with envoy.iter[spec]:` — accesses of this module and its descendants in
  /// `body` take `spec`.
  void iter(graph::IterationSpec spec, const std::function<void()>& body, Loc loc = Loc::current()) const;

  // ---- Out-of-band calls and parameters ----------------------------------------
  /// Calls the module on a value (or on positional and keyword arguments) while
  /// the trace runs (no interventions on that call).
  ///@{
  graph::Proxy operator()(graph::Arg x, Loc loc = Loc::current()) const;
  graph::Proxy call(std::vector<graph::Arg> args, Dict kwargs = {}, Loc loc = Loc::current()) const;
  ///@}
  /// A call that counts as a call of the run: interventions on this module and
  /// its descendants see it (NNsight's `module(x, hook=True)`, e.g. in edits).
  graph::Proxy call_with_hooks(std::vector<graph::Arg> args, Dict kwargs = {}, Loc loc = Loc::current()) const;
  /// A clone of the parameter (editing it never changes the model).
  graph::Proxy parameter(const std::string& name, Loc loc = Loc::current()) const;
  /// parameter("weight") / parameter("bias").
  ///@{
  graph::Proxy weight(Loc loc = Loc::current()) const { return parameter("weight", loc); }
  graph::Proxy bias(Loc loc = Loc::current()) const { return parameter("bias", loc); }
  ///@}

 private:
  std::string key(const char* point) const;
  graph::IterationSpec current_iteration(std::optional<int64_t>* call = nullptr) const;
  graph::Proxy entry_point(const char* point, const Loc& loc) const;
  void forget(const char* point) const;
  graph::Proxy module_call(std::vector<graph::Arg> args, Dict kwargs, const Loc& loc, bool with_hooks) const;

  Model* model_;
  Module* module_;
  std::optional<graph::IterationSpec> iteration_;
};

}  // namespace nnsight
