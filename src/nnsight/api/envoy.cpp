// Envoy: module values as entry points of the trace being recorded.

#include "nnsight/api/envoy.h"

#include "nnsight/api/model.h"
#include "nnsight/base/error.h"
#include "nnsight/graph/recording.h"

namespace nnsight {
namespace {

bool covers(const std::string& prefix, const std::string& path) {
  return prefix.empty() || path == prefix ||
         (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 && path[prefix.size()] == '.');
}

/// ((v, args[1:]...), kwargs) from an ".input" pair: NNsight's `.input = v`.
Value replace_first_input(std::vector<Value>& args, const Dict&) {
  const Value& pair = args.at(0);
  if (!pair.is_sequence() || pair.items().size() != 2 || !pair.items()[0].is_sequence())
    throw Error("set_input expected the module's ((args...), {kwargs}), got " + pair.repr());
  std::vector<Value> positional = pair.items()[0].items();
  if (positional.empty()) {
    positional.push_back(args.at(1));
  } else {
    positional[0] = args.at(1);
  }
  return Value::tuple({Value::tuple(std::move(positional)), pair.items()[1]});
}

}  // namespace

Envoy::Envoy(Model& model, Module& module, std::optional<graph::IterationSpec> iteration)
    : model_(&model), module_(&module), iteration_(std::move(iteration)) {}

Envoy Envoy::operator[](const std::string& relative_path) const {
  return Envoy(*model_, module_->at(relative_path), iteration_);
}

Envoy Envoy::operator[](int64_t i) const {
  const auto n = static_cast<int64_t>(module_->children().size());
  const int64_t j = i < 0 ? i + n : i;
  if (j < 0 || j >= n)
    throw Error("child " + std::to_string(i) + " does not exist",
                "module '" + module_->path() + "' (" + module_->type_name() + ")",
                "it has " + std::to_string(n) + " children");
  return Envoy(*model_, *module_->children()[static_cast<std::size_t>(j)].second, iteration_);
}

std::string Envoy::key(const char* point) const {
  return module_->path().empty() ? std::string(point) : module_->path() + "." + point;
}

graph::IterationSpec Envoy::current_iteration(std::optional<int64_t>* call) const {
  if (iteration_) {
    if (call) call->reset();
    return *iteration_;
  }
  const api_detail::TraceState* state = model_->tracing_;
  if (state != nullptr)
    for (auto it = state->overrides.rbegin(); it != state->overrides.rend(); ++it)
      if (covers(it->prefix, module_->path())) {
        if (call) *call = it->call;
        return it->spec;
      }
  if (call) *call = 0;
  return graph::IterationSpec::at(0);
}

graph::Proxy Envoy::entry_point(const char* point, const Loc& loc) const {
  api_detail::TraceState& state = model_->tracing(loc, "a module value");
  const graph::IterationSpec spec = current_iteration();
  auto cache_key = std::make_tuple(key(point), spec.repr(), state.graph->batch_group(), state.graph->current_context());
  auto it = state.entries.find(cache_key);
  if (it != state.entries.end()) return it->second;
  graph::Proxy p = graph::entry(key(point), spec, loc);
  state.entries.emplace(std::move(cache_key), p);
  return p;
}

void Envoy::forget(const char* point) const {
  api_detail::TraceState* state = model_->tracing_;
  if (state == nullptr) return;
  const std::string k = key(point);
  const int32_t group = state->graph->batch_group();
  for (auto it = state->entries.begin(); it != state->entries.end();)
    it = (std::get<0>(it->first) == k && std::get<2>(it->first) == group) ? state->entries.erase(it) : std::next(it);
}

graph::Proxy Envoy::output(Loc loc) const { return entry_point("output", loc); }

graph::Proxy Envoy::inputs(Loc loc) const { return entry_point("input", loc); }

graph::Proxy Envoy::input(Loc loc) const {
  graph::Proxy args = graph::record("getitem", {inputs(loc), 0}, {}, loc);
  return graph::record("getitem", {args, 0}, {}, loc);
}

void Envoy::set_output(graph::Arg value, Loc loc) const {
  graph::swap(entry_point("output", loc), std::move(value), loc);
  forget("output");  // a later output() is a new entry point that sees the replacement
}

void Envoy::set_input(graph::Arg value, Loc loc) const {
  graph::Proxy pair = entry_point("input", loc);
  graph::Proxy replaced = graph::apply(replace_first_input, {pair, std::move(value)}, "set_input", loc);
  graph::swap(pair, replaced, loc);
  forget("input");
}

void Envoy::skip(graph::Arg value, Loc loc) const {
  graph::swap(entry_point("skip", loc), std::move(value), loc);
  forget("skip");
}

Envoy Envoy::next(int64_t n, Loc loc) const {
  api_detail::TraceState& state = model_->tracing(loc, "next()");
  std::optional<int64_t> call;
  current_iteration(&call);
  if (!call)
    throw Error("next() needs a single current call of '" + module_->path() + "'", format_location(loc),
                "next() follows a single call; it cannot follow all() or iter() over several calls");
  state.overrides.push_back({module_->path(), graph::IterationSpec::at(*call + n), *call + n});
  return Envoy(*model_, *module_);
}

Envoy Envoy::iter(graph::IterationSpec spec) const { return Envoy(*model_, *module_, std::move(spec)); }

void Envoy::iter(graph::IterationSpec spec, const std::function<void()>& body, Loc loc) const {
  api_detail::TraceState& state = model_->tracing(loc, "iter()");
  const std::size_t depth = state.overrides.size();
  state.overrides.push_back({module_->path(), std::move(spec), std::nullopt});
  struct Pop {
    api_detail::TraceState& s;
    std::size_t depth;
    ~Pop() { s.overrides.resize(depth); }
  } pop{state, depth};
  body();
}

graph::Proxy Envoy::operator()(graph::Arg x, Loc loc) const { return call({std::move(x)}, {}, loc); }

graph::Proxy Envoy::call(std::vector<graph::Arg> args, Dict kwargs, Loc loc) const {
  return module_call(std::move(args), std::move(kwargs), loc, false);
}

graph::Proxy Envoy::call_with_hooks(std::vector<graph::Arg> args, Dict kwargs, Loc loc) const {
  return module_call(std::move(args), std::move(kwargs), loc, true);
}

graph::Proxy Envoy::module_call(std::vector<graph::Arg> args, Dict kwargs, const Loc& loc, bool with_hooks) const {
  api_detail::TraceState& state = model_->tracing(loc, "calling a module");
  std::vector<Value> values;
  for (graph::Arg& a : args) {
    if (a.graph && a.graph != state.graph)
      throw Error("a module call mixes values of two different graphs", format_location(loc),
                  "use a session to pass values from one trace to another");
    values.push_back(std::move(a.value));
  }
  graph::Graph& g = *state.graph;
  return graph::Proxy(state.graph,
                      g.add_module_call(module_->path(), std::move(values), std::move(kwargs), loc, with_hooks));
}

graph::Proxy Envoy::parameter(const std::string& name, Loc loc) const {
  api_detail::TraceState& state = model_->tracing(loc, "a parameter");
  module_->parameter(name);  // throws an Error listing the parameters when absent
  return graph::Proxy(state.graph, state.graph->add_parameter(module_->path(), name, loc));
}

}  // namespace nnsight
