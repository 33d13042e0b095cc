#pragma once
/// @file
/// Recording contexts of the C++ tracing API: Tracer (inside model.trace) and
/// Session (model.session), with NNsight's control flow as scoped calls.
///
/// ```
///   model.trace([&](Tracer& tracer) {
///     tracer.invoke("The Eiffel Tower is in", [&] { ... });   // batch group 0
///     tracer.invoke("The Colosseum is in", [&] { ... });      // batch group 1
///     tracer.cond(h.sum() > 0, [&] { ... }).else_([&] { ... });
///     tracer.iter(list_of({0, 1, 2}), [&](Proxy i) { ... });
///     tracer.stop();
///   });
/// ```

#include <functional>
#include <initializer_list>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include "nnsight/graph/proxy.h"

namespace nnsight {

class Model;
namespace api_detail {
struct TraceState;
}

/// The chain after a cond: further branches directly follow it.
class Branch {
 public:
  using Loc = std::source_location;  ///< the caller's source line, captured by default arguments
  /// `elif condition:`.
  Branch elif (graph::Arg condition, const std::function<void()>& body, Loc loc = Loc::current());
  /// `else:`.
  void else_(const std::function<void()>& body, Loc loc = Loc::current());
};

/// Control flow shared by traces and sessions; nodes go to the innermost open scope.
class Context {
 public:
  using Loc = std::source_location;  ///< the caller's source line, captured by default arguments
  /// `if condition:` (a proxy or a constant); chain `.elif(...)` / `.else_(...)`.
  Branch cond(graph::Arg condition, const std::function<void()>& body, Loc loc = Loc::current());
  /// `for item in collection:` (a proxy or a constant list); the body runs once per item.
  void iter(graph::Arg collection, const std::function<void(graph::Proxy)>& body, Loc loc = Loc::current());
  /// Ends the innermost trace, loop or session when reached.
  void stop(Loc loc = Loc::current());
  /// Calls `fn` on the resolved arguments when the graph runs (local only).
  graph::Proxy apply(graph::ApplyFn fn, std::vector<graph::Arg> args = {}, Loc loc = Loc::current());
  /// Writes the items to the graph's log sink when reached.
  void log(std::initializer_list<graph::Arg> items, Loc loc = Loc::current());
  /// New empty list / dict values (NNsight's `nnsight.list()`).
  ///@{
  graph::Proxy list(Loc loc = Loc::current());
  graph::Proxy dict(Loc loc = Loc::current());
  ///@}

 protected:
  Context() = default;
};

/// Module outputs collected by Tracer::cache, readable after the run.
class Cache {
 public:
  /// The module's output at every call, in call order (the values themselves,
  /// so later in-place edits show).
  std::vector<Value> outputs(const std::string& path) const;
  /// Its output at the first call.
  Value output(const std::string& path) const;
  /// The cached module paths.
  std::vector<std::string> paths() const;

 private:
  friend class Tracer;
  std::vector<std::pair<std::string, graph::Saved>> lists_;
};

/// The argument of model.trace's body.
class Tracer : public Context {
 public:
  /// Made by Model::trace for the trace being recorded.
  Tracer(Model& model, api_detail::TraceState& state) : model_(model), state_(state) {}
  /// Adds `input` (a prompt, token ids, a tensor: whatever the model accepts)
  /// as one more batch group of this trace's forward pass; accesses inside
  /// `body` see only its rows. Not available when the trace was given an input.
  void invoke(graph::Arg input, const std::function<void()>& body, Loc loc = Loc::current());

  /// Off: an access of a module value that the model computed before an
  /// earlier access of this invoke silently does nothing (NNsight 0.4's
  /// lenient behaviour) instead of being an error.
  void strict_order(bool strict);

  using Context::iter;
  /// Accesses of every module inside `body` take the calls `spec` selects; in
  /// generation, call k of every module is generation step k (NNsight 0.5's
  /// `tracer.iter[...]`): `tracer.iter(Slice{3, 8}, [&] { ... })`.
  ///@{
  void iter(graph::IterationSpec spec, const std::function<void()>& body);
  void iter(const Slice& steps, const std::function<void()>& body) { iter(graph::IterationSpec::range(steps), body); }
  ///@}
  /// Every call / generation step.
  void all(const std::function<void()>& body) { iter(graph::IterationSpec::all(), body); }

  /// Collects the outputs of the modules at `paths` (every module when empty)
  /// at every call (NNsight 0.5's `tracer.cache()`). Each cached module is
  /// its own ordering group, so the paths may come in any order, and sees the
  /// whole batch.
  Cache cache(const std::vector<std::string>& paths = {}, Loc loc = Loc::current());

 private:
  Model& model_;
  api_detail::TraceState& state_;
};

/// The argument of model.session's body: several traces run one after another
/// (in one graph, so values flow between them), with control flow between them.
class Session : public Context {};

}  // namespace nnsight
