// Graph: recording (nodes, edges, contexts), inspection, run-state reset and copy.

#include "nnsight/graph/graph.h"

#include <algorithm>

#include "nnsight/base/error.h"
#include "nnsight/graph/executor.h"
#include "nnsight/graph/intervention_graph.h"
#include "nnsight/graph/value_refs.h"

namespace nnsight::graph {
namespace {

thread_local Graph* tl_current = nullptr;

/// Collects the node indices referenced anywhere inside v.
void collect_refs(const Value& v, std::vector<int32_t>& out) {
  switch (v.kind()) {
    case Value::Kind::Ref: out.push_back(static_cast<int32_t>(v.as_ref())); break;
    case Value::Kind::List:
    case Value::Kind::Tuple:
      for (const auto& item : v.items()) collect_refs(item, out);
      break;
    case Value::Kind::Dict:
      for (const auto& item : v.as_dict().values) collect_refs(item, out);
      break;
    default: break;
  }
}

}  // namespace

const char* kind_name(NodeKind k) {
  switch (k) {
    case NodeKind::Op: return "op";
    case NodeKind::Entry: return "entry";
    case NodeKind::Save: return "save";
    case NodeKind::Swap: return "swap";
    case NodeKind::Stop: return "stop";
    case NodeKind::Variable: return "variable";
    case NodeKind::Condition: return "condition";
    case NodeKind::Iterator: return "iterator";
    case NodeKind::Trace: return "trace";
    case NodeKind::Apply: return "apply";
    case NodeKind::ApplyModule: return "module call";
    case NodeKind::Parameter: return "parameter";
    case NodeKind::Grad: return "grad";
  }
  return "?";
}

std::shared_ptr<Graph> Graph::create() { return std::shared_ptr<Graph>(new Graph()); }

Graph* Graph::current() { return tl_current; }

Graph* Graph::set_current(Graph* g) {
  Graph* previous = tl_current;
  tl_current = g;
  return previous;
}

int32_t Graph::add_node(NodeKind kind, std::vector<Value> args, Dict kwargs, std::source_location loc) {
  const auto index = static_cast<int32_t>(nodes_.size());
  Node& n = nodes_.emplace_back();
  n.kind = kind;
  n.args = std::move(args);
  n.kwargs = std::move(kwargs);
  n.loc = loc;
  n.parent = current_context();
  link(index);
  return index;
}

void Graph::link(int32_t index) {
  Node& n = nodes_[static_cast<std::size_t>(index)];
  for (const auto& a : n.args) collect_refs(a, n.deps);
  for (const auto& a : n.kwargs.values) collect_refs(a, n.deps);
  std::sort(n.deps.begin(), n.deps.end());
  n.deps.erase(std::unique(n.deps.begin(), n.deps.end()), n.deps.end());
  for (int32_t d : n.deps) {
    if (d < 0 || d >= index)
      throw Error(
          "node " + std::to_string(index) + " refers to node " + std::to_string(d) + ", which does not precede it",
          format_location(n.loc), "a node may only use values recorded before it");
    Node& dep = nodes_[static_cast<std::size_t>(d)];
    dep.listeners.push_back(index);
    ++dep.remaining_listeners;
    if (n.kind == NodeKind::Save) dep.saved = true;
  }
}

int32_t Graph::add_op(const OpInfo& op, std::vector<Value> args, Dict kwargs, std::source_location loc) {
  int32_t i = add_node(NodeKind::Op, std::move(args), std::move(kwargs), loc);
  nodes_[static_cast<std::size_t>(i)].op = &op;
  return i;
}

int32_t Graph::add_op(std::string_view op_name, std::vector<Value> args, Dict kwargs, std::source_location loc) {
  return add_op(ops::require(op_name), std::move(args), std::move(kwargs), loc);
}

int32_t Graph::add_entry(std::string key, IterationSpec iteration, std::source_location loc) {
  int32_t i = add_node(NodeKind::Entry, {}, {}, loc);
  EntryInfo info;
  info.key = std::move(key);
  info.batch_group = batch_group_;
  for (auto it = open_.rbegin(); it != open_.rend(); ++it)
    if (node(*it).kind == NodeKind::Trace) {
      info.trace = *it;
      break;
    }
  info.iteration = std::move(iteration);
  nodes_[static_cast<std::size_t>(i)].extra = static_cast<int32_t>(entries_.size());
  entries_.push_back(std::move(info));
  return i;
}

int32_t Graph::add_save(int32_t target, std::source_location loc) {
  return add_node(NodeKind::Save, {Value::ref(target)}, {}, loc);
}

int32_t Graph::add_swap(int32_t entry, Value replacement, std::source_location loc) {
  if (entry < 0 || entry >= size() || (node(entry).kind != NodeKind::Entry && node(entry).kind != NodeKind::Grad))
    throw Error("swap target node " + std::to_string(entry) + " is not a module value or a gradient",
                format_location(loc), "only a module's .output / .input or a value's .grad can be replaced");
  return add_node(NodeKind::Swap, {Value::ref(entry), std::move(replacement)}, {}, loc);
}

int32_t Graph::add_stop(int32_t after, std::source_location loc) {
  std::vector<Value> args;
  if (after >= 0) args.push_back(Value::ref(after));
  return add_node(NodeKind::Stop, std::move(args), {}, loc);
}

int32_t Graph::add_apply(ApplyFn fn, std::vector<Value> args, Dict kwargs, std::string label,
                         std::source_location loc) {
  int32_t i = add_node(NodeKind::Apply, std::move(args), std::move(kwargs), loc);
  nodes_[static_cast<std::size_t>(i)].extra = static_cast<int32_t>(applies_.size());
  applies_.push_back(std::make_shared<const ApplyRecord>(ApplyRecord{std::move(fn), std::move(label)}));
  return i;
}

int32_t Graph::add_module_call(std::string path, std::vector<Value> args, Dict kwargs, std::source_location loc,
                               bool with_hooks) {
  args.insert(args.begin(), Value(std::move(path)));
  int32_t i = add_node(NodeKind::ApplyModule, std::move(args), std::move(kwargs), loc);
  nodes_[static_cast<std::size_t>(i)].with_hooks = with_hooks;
  return i;
}

void Graph::inline_trace(const Graph& source, int32_t trace) {
  const int32_t first = trace + 1;
  const int32_t end = source.context(trace).body_end;
  const int32_t base = size();
  const int32_t parent = current_context();
  int32_t enclosing_trace = -1;
  for (auto it = open_.rbegin(); it != open_.rend(); ++it)
    if (node(*it).kind == NodeKind::Trace) {
      enclosing_trace = *it;
      break;
    }
  auto renumber = [&](int32_t j) { return j - first + base; };
  auto remap = [&](const Value& v) {
    return map_refs(v, [&](int32_t r) {
      if (r < first || r >= end)
        throw Error("an edit uses " + source.label(r) + ", which is outside the edit", "at " + source.where(r),
                    "an edit may only use values it computes itself");
      return Value::ref(renumber(r));
    });
  };
  for (int32_t j = first; j < end; ++j) {
    const Node& from = source.node(j);
    Node n;
    n.kind = from.kind;
    n.op = from.op;
    n.with_hooks = from.with_hooks;
    n.loc = from.loc;
    n.parent = from.parent == trace ? parent : renumber(from.parent);
    for (const auto& a : from.args) n.args.push_back(remap(a));
    n.kwargs.keys = from.kwargs.keys;
    for (const auto& v : from.kwargs.values) n.kwargs.values.push_back(remap(v));
    switch (from.kind) {
      case NodeKind::Entry: {
        EntryInfo info;
        info.key = source.entry(j).key;
        info.iteration = source.entry(j).iteration;
        info.batch_group = batch_group_;
        info.trace = enclosing_trace;
        n.extra = static_cast<int32_t>(entries_.size());
        entries_.push_back(std::move(info));
        break;
      }
      case NodeKind::Condition:
      case NodeKind::Iterator: {
        ContextInfo info;
        info.body_end = renumber(source.context(j).body_end);
        info.else_branch = source.context(j).else_branch;
        info.has_condition = source.context(j).has_condition;
        n.extra = static_cast<int32_t>(contexts_.size());
        contexts_.push_back(std::move(info));
        break;
      }
      case NodeKind::Apply:
        n.extra = static_cast<int32_t>(applies_.size());
        applies_.push_back(source.applies_[static_cast<std::size_t>(from.extra)]);
        break;
      case NodeKind::Grad:
        n.extra = static_cast<int32_t>(grads_.size());
        grads_.emplace_back();
        break;
      default: break;
    }
    nodes_.push_back(std::move(n));
    link(size() - 1);
  }
}

int32_t Graph::add_parameter(std::string path, std::string name, std::source_location loc) {
  return add_node(NodeKind::Parameter, {Value(std::move(path)), Value(std::move(name))}, {}, loc);
}

int32_t Graph::add_grad(int32_t target, std::source_location loc) {
  int32_t i = add_node(NodeKind::Grad, {Value::ref(target)}, {}, loc);
  nodes_[static_cast<std::size_t>(i)].extra = static_cast<int32_t>(grads_.size());
  grads_.emplace_back();
  return i;
}

int32_t Graph::open_context(NodeKind kind, std::vector<Value> args, ContextInfo info, std::source_location loc) {
  // An else belongs to the condition closed last at this level; any other context ends that chain.
  last_closed_condition_ = -1;
  int32_t i = add_node(kind, std::move(args), {}, loc);
  nodes_[static_cast<std::size_t>(i)].extra = static_cast<int32_t>(contexts_.size());
  contexts_.push_back(std::move(info));
  open_.push_back(i);
  return i;
}

int32_t Graph::open_trace(std::vector<Value> inputs, std::source_location loc) {
  for (int32_t c : open_)
    if (node(c).kind == NodeKind::Trace)
      throw Error("a trace cannot be opened inside another trace", format_location(loc),
                  "close the outer trace first, or use a session to run several traces");
  return open_context(NodeKind::Trace, std::move(inputs), {}, loc);
}

int32_t Graph::open_condition(Value condition, std::source_location loc) {
  return open_context(NodeKind::Condition, {std::move(condition)}, {}, loc);
}

int32_t Graph::open_else(std::optional<Value> condition, std::source_location loc) {
  const int32_t previous = last_closed_condition_;
  if (previous < 0 || node(previous).parent != current_context())
    throw Error("an else branch must directly follow a condition", format_location(loc),
                "open the else scope right after the condition scope closes, at the same level");
  ContextInfo info;
  info.else_branch = true;
  info.has_condition = condition.has_value();
  std::vector<Value> args{Value::ref(previous)};
  if (condition) args.push_back(std::move(*condition));
  return open_context(NodeKind::Condition, std::move(args), std::move(info), loc);
}

int32_t Graph::open_iterator(Value collection, std::source_location loc) {
  int32_t i = open_context(NodeKind::Iterator, {std::move(collection)}, {}, loc);
  add_node(NodeKind::Variable, {}, {}, loc);
  return i;
}

void Graph::close(int32_t context_index) {
  if (open_.empty() || open_.back() != context_index)
    throw Error("contexts must be closed innermost first (closing node " + std::to_string(context_index) + ")");
  open_.pop_back();
  context(context_index).body_end = size();
  last_closed_condition_ = node(context_index).kind == NodeKind::Condition ? context_index : -1;
}

std::string Graph::label(int32_t i) const {
  const Node& n = node(i);
  std::string what;
  switch (n.kind) {
    case NodeKind::Op: what = std::string(n.op->name); break;
    case NodeKind::Entry: {
      const EntryInfo& e = entry(i);
      what = e.key + ", iteration " + e.iteration.repr();
      break;
    }
    case NodeKind::Apply: what = applies_[static_cast<std::size_t>(n.extra)]->label; break;
    case NodeKind::ApplyModule: what = "call " + n.args[0].as_string(); break;
    case NodeKind::Parameter: what = "parameter " + n.args[0].as_string() + "." + n.args[1].as_string(); break;
    case NodeKind::Condition:
      what = context(i).else_branch ? (context(i).has_condition ? "elif" : "else") : "if";
      break;
    default: what = kind_name(n.kind); break;
  }
  return "node " + std::to_string(i) + " (" + what + ")";
}

std::string Graph::where(int32_t i) const {
  const auto k = static_cast<std::size_t>(i);
  if (k < location_texts_.size() && !location_texts_[k].empty()) return location_texts_[k];
  return format_location(node(i).loc);
}

std::vector<int32_t> Graph::traces() const {
  std::vector<int32_t> out;
  for (int32_t i = 0; i < size(); ++i)
    if (node(i).kind == NodeKind::Trace && node(i).parent < 0) out.push_back(i);
  return out;
}

std::size_t Graph::live_values() const {
  std::size_t n = 0;
  for (const auto& node : nodes_) n += node.has_value ? 1 : 0;
  return n;
}

std::vector<int32_t> Graph::live_nodes() const {
  std::vector<int32_t> out;
  for (int32_t i = 0; i < size(); ++i)
    if (node(i).has_value) out.push_back(i);
  return out;
}

void Graph::set_value(int32_t i, Value v) {
  if (i < 0 || i >= size()) throw Error("node " + std::to_string(i) + " does not exist");
  Node& n = node(i);
  n.value = std::move(v);
  n.has_value = true;
  n.executed = true;
}

const Value& Graph::value(int32_t i) const {
  if (i < 0 || i >= size()) throw Error("node " + std::to_string(i) + " does not exist");
  const Node& n = node(i);
  if (n.has_value) return n.value;
  const std::string where_line = "at " + where(i);
  if (n.executed)
    throw Error(label(i) + (n.saved ? " was freed: the .save() on it did not run (branch not taken or stopped before)"
                                    : " was not saved: its value was freed after its last use"),
                where_line, "call .save() on it inside the trace to read it afterwards");
  if (n.skipped || n.executed)
    throw Error(label(i) +
                    " has no value: it did not run (its branch was not taken, the run stopped before it, "
                    "or its module was not called for that iteration)",
                where_line);
  throw Error(label(i) + " has no value yet: the graph has not run it", where_line,
              n.saved ? "read saved values after the trace has run" : "call .save() on it and read it after the run");
}

void Graph::reset() {
  for (auto& n : nodes_) {
    n.executed = n.skipped = n.taken = false;
    n.destroy();
    n.remaining_listeners = static_cast<int32_t>(n.listeners.size());
  }
  for (auto& e : entries_) {
    e.calls = 0;
    e.current_call = -1;
    e.defer = e.fired_once = false;
    e.swap.reset();
  }
  for (auto& c : contexts_) {
    c.trace.group_cursor.assign(c.trace.groups.size(), 0);
    c.trace.deferred.clear();
    c.trace.current_entry = -1;
  }
  remove_grad_hooks();
  for (auto& gi : grads_) {
    gi.registered = gi.fired = false;
    gi.swap.reset();
  }
}

void Graph::clean_all() {
  for (auto& n : nodes_) n.destroy();
  for (auto& e : entries_) e.swap.reset();
  for (auto& c : contexts_) c.trace.deferred.clear();
  for (auto& gi : grads_) gi.swap.reset();
  remove_grad_hooks();
}

void Graph::remove_grad_hooks() {
  // A hook left on a tensor the user keeps (a saved value) would call into
  // this graph after the trace, or after the graph is gone.
  for (auto& h : grad_hooks_) h.tensor.remove_hook(h.id);
  grad_hooks_.clear();
}

std::shared_ptr<Graph> Graph::copy() const {
  auto g = create();
  g->nodes_ = nodes_;
  for (auto& n : g->nodes_) {
    for (auto& a : n.args) a = a.deep_copy();
    for (auto& v : n.kwargs.values) v = v.deep_copy();
  }
  g->entries_ = entries_;
  g->contexts_ = contexts_;
  g->applies_ = applies_;  // callables are immutable: sharing them is a copy
  g->grads_ = std::vector<GradInfo>(grads_.size());
  g->open_ = open_;
  g->last_closed_condition_ = last_closed_condition_;
  g->batch_group_ = batch_group_;
  g->log_sink_ = log_sink_;
  g->module_caller_ = module_caller_;
  g->location_texts_ = location_texts_;
  g->reset();
  return g;
}

void Graph::run(TraceRunner& runner) {
  if (!open_.empty())
    throw Error(label(open_.back()) + " is still open", "at " + where(open_.back()),
                "close every scope before running the graph");
  reset();
  Executor ex(*this, &runner);
  try {
    try {
      ex.walk(0, size(), Executor::Mode::Sequential, -1, nullptr);
    } catch (const StopSignal&) {
      ex.skip_range(0, size(), -1, nullptr);  // a stop at session level ends the session
    }
    ex.sweep(0, size());
  } catch (...) {
    clean_all();
    throw;
  }
}

void Graph::run(const std::function<void(InterventionGraph&)>& runner) {
  struct FunctionRunner : TraceRunner {
    const std::function<void(InterventionGraph&)>& fn;
    explicit FunctionRunner(const std::function<void(InterventionGraph&)>& f) : fn(f) {}
    void run(InterventionGraph& trace) override { fn(trace); }
  } adapter(runner);
  run(adapter);
}

}  // namespace nnsight::graph
