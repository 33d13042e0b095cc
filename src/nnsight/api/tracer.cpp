// Tracer / Session control flow and invokes.

#include "nnsight/api/tracer.h"

#include "nnsight/api/model.h"
#include "nnsight/base/error.h"
#include "nnsight/graph/recording.h"

namespace nnsight {

Branch Branch::elif (graph::Arg condition, const std::function<void()>& body, Loc loc) {
  {
    graph::ElseScope scope(std::move(condition), loc);
    body();
  }
  return Branch{};
}

void Branch::else_(const std::function<void()>& body, Loc loc) {
  graph::ElseScope scope(loc);
  body();
}

Branch Context::cond(graph::Arg condition, const std::function<void()>& body, Loc loc) {
  {
    graph::CondScope scope(std::move(condition), loc);
    body();
  }
  return Branch{};
}

void Context::iter(graph::Arg collection, const std::function<void(graph::Proxy)>& body, Loc loc) {
  graph::IterScope scope(std::move(collection), loc);
  body(scope.item());
}

void Context::stop(Loc loc) { graph::stop(loc); }

graph::Proxy Context::apply(graph::ApplyFn fn, std::vector<graph::Arg> args, Loc loc) {
  return graph::apply(std::move(fn), std::move(args), "apply", loc);
}

void Context::log(std::initializer_list<graph::Arg> items, Loc loc) { graph::log(items, loc); }

graph::Proxy Context::list(Loc loc) { return graph::list(loc); }

graph::Proxy Context::dict(Loc loc) { return graph::dict(loc); }

void Tracer::invoke(graph::Arg input, const std::function<void()>& body, Loc loc) {
  if (state_.setup->implicit_invoke)
    throw Error("invoke() in a trace that was given an input", format_location(loc),
                "either pass the input to model.trace(input, ...) or call model.trace([&](Tracer& t) { "
                "t.invoke(input, ...); ... }) without one");
  if (state_.in_invoke) throw Error("invoke() inside another invoke", format_location(loc), "invokes cannot be nested");
  if (input.graph)
    throw Error("an invoke's input must be a value, not a proxy", format_location(loc),
                "pass proxies of a session as the input of model.trace(input, ...) instead");
  const auto group = static_cast<int32_t>(state_.setup->invoke_inputs.size());
  state_.setup->invoke_inputs.push_back(std::move(input.value));
  graph::BatchGroupScope scope(*state_.graph, group);
  // Each invoke starts from call 0 of every module, as in NNsight.
  struct Reset {
    api_detail::TraceState& s;
    Reset(api_detail::TraceState& st) : s(st) {
      s.in_invoke = true;
      s.overrides.clear();
    }
    ~Reset() {
      s.in_invoke = false;
      s.overrides.clear();
    }
  } reset(state_);
  body();
}

void Tracer::strict_order(bool strict) { state_.setup->strict_order = strict; }

void Tracer::iter(graph::IterationSpec spec, const std::function<void()>& body) {
  const std::size_t depth = state_.overrides.size();
  state_.overrides.push_back({"", std::move(spec), std::nullopt});
  struct Pop {
    api_detail::TraceState& s;
    std::size_t depth;
    ~Pop() { s.overrides.resize(depth); }
  } pop{state_, depth};
  body();
}

Cache Tracer::cache(const std::vector<std::string>& paths, Loc loc) {
  // Batch groups past every invoke: no narrowing, and no ordering against other entries.
  constexpr int32_t kFirstCacheGroup = 1 << 24;
  std::vector<Module*> modules;
  if (paths.empty()) {
    // Containers (ModuleList) are never called: they would only add empty lists.
    for (Module* m : model_.module().modules())
      if (dynamic_cast<ModuleList*>(m) == nullptr) modules.push_back(m);
  } else {
    for (const std::string& p : paths) modules.push_back(&model_.module().at(p));
  }
  Cache out;
  // Every list first: a list recorded after the entry of a module that is never called would wait
  // behind that entry and never run.
  for (Module* m : modules) out.lists_.emplace_back(m->path(), graph::list(loc).save(loc));
  int32_t group = kFirstCacheGroup;
  for (auto& [path, list] : out.lists_) {
    graph::BatchGroupScope scope(*state_.graph, group++);
    list.append(graph::entry(path.empty() ? "output" : path + ".output", graph::IterationSpec::all(), loc), loc);
  }
  return out;
}

std::vector<Value> Cache::outputs(const std::string& path) const {
  for (const auto& [p, list] : lists_)
    if (p == path) return list.value().items();
  std::string names;
  for (const auto& [p, list] : lists_) names += (names.empty() ? "'" : ", '") + p + "'";
  throw Error("module '" + path + "' is not in the cache", "", "cached modules: " + names);
}

Value Cache::output(const std::string& path) const {
  std::vector<Value> all = outputs(path);
  if (all.empty())
    throw Error("module '" + path + "' was not called in the run", "", "check that the model calls this module");
  return all.front();
}

std::vector<std::string> Cache::paths() const {
  std::vector<std::string> out;
  for (const auto& [p, list] : lists_) out.push_back(p);
  return out;
}

}  // namespace nnsight
