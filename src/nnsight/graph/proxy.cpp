// Proxy: recording operations as graph nodes.

#include "nnsight/graph/proxy.h"

#include "nnsight/base/error.h"

namespace nnsight::graph {
namespace {

/// The graph a recording goes to: the one the proxies share, else the current one.
std::shared_ptr<Graph> target_graph(std::initializer_list<const Arg*> args, const std::source_location& loc) {
  std::shared_ptr<Graph> g;
  for (const Arg* a : args) {
    if (!a->graph) continue;
    if (g && g != a->graph)
      throw Error("an operation mixes values of two different graphs", format_location(loc),
                  "use a session to pass values from one trace to another");
    g = a->graph;
  }
  if (g) return g;
  if (Graph* current = Graph::current()) return current->shared_from_this();
  throw Error("no graph is recording here", format_location(loc), "record operations inside a trace or session scope");
}

std::shared_ptr<Graph> target_graph(const std::vector<Arg>& args, const std::source_location& loc) {
  std::shared_ptr<Graph> g;
  for (const Arg& a : args) {
    if (!a.graph) continue;
    if (g && g != a.graph)
      throw Error("an operation mixes values of two different graphs", format_location(loc),
                  "use a session to pass values from one trace to another");
    g = a.graph;
  }
  if (g) return g;
  if (Graph* current = Graph::current()) return current->shared_from_this();
  throw Error("no graph is recording here", format_location(loc), "record operations inside a trace or session scope");
}

Arg sequence_of(std::initializer_list<Arg> items, bool tuple) {
  std::vector<Value> values;
  values.reserve(items.size());
  std::shared_ptr<Graph> g;
  std::source_location loc = items.size() ? items.begin()->loc : std::source_location::current();
  for (const Arg& a : items) {
    values.push_back(a.value);
    if (a.graph) {
      if (g && g != a.graph) throw Error("a list mixes values of two different graphs", format_location(loc));
      g = a.graph;
    }
  }
  Arg out(tuple ? Value::tuple(std::move(values)) : Value::list(std::move(values)), loc);
  out.graph = g;
  return out;
}

Value index_key(std::initializer_list<Arg> key, std::shared_ptr<Graph>& g, const std::source_location& loc) {
  std::vector<Value> items;
  items.reserve(key.size());
  for (const Arg& a : key) {
    items.push_back(a.value);
    if (a.graph) {
      if (g && g != a.graph) throw Error("an index mixes values of two different graphs", format_location(loc));
      g = a.graph;
    }
  }
  return Value::tuple(std::move(items));
}

}  // namespace

Arg::Arg(const Proxy& p, std::source_location l) : loc(l) {
  if (!p.valid()) throw Error("an empty Proxy was used", format_location(l), "assign it inside the trace first");
  value = Value::ref(p.index());
  graph = p.graph_;
}

Arg list_of(std::initializer_list<Arg> items) { return sequence_of(items, false); }
Arg tuple_of(std::initializer_list<Arg> items) { return sequence_of(items, true); }

Graph& Proxy::graph() const {
  if (!graph_) throw Error("an empty Proxy was used", {}, "assign it inside the trace first");
  return *graph_;
}

const Value& Proxy::value() const { return graph().value(index_); }

const at::Tensor& Proxy::tensor() const {
  const Value& v = value();
  if (!v.is_tensor())
    throw Error(graph().label(index_) + " holds a " + Value::kind_name(v.kind()) + ", not a tensor",
                "at " + graph().where(index_), "use value() to read non-tensor values");
  return v.as_tensor();
}

Saved Proxy::save(Loc loc) const {
  graph().add_save(index_, loc);
  return Saved(graph_, index_);
}

void Proxy::stop(Loc loc) const { graph().add_stop(index_, loc); }

Proxy Proxy::call(std::string_view op, std::vector<Arg> args, Dict kwargs, Loc loc) const {
  std::vector<Value> values;
  values.reserve(args.size() + 1);
  values.push_back(Value::ref(index_));
  for (auto& a : args) {
    if (a.graph && a.graph != graph_)
      throw Error("an operation mixes values of two different graphs", format_location(loc),
                  "use a session to pass values from one trace to another");
    values.push_back(std::move(a.value));
  }
  return Proxy(graph_, graph().add_op(op, std::move(values), std::move(kwargs), loc));
}

Proxy Proxy::operator[](Arg key) const { return call("getitem", {std::move(key)}, {}, key.loc); }

Proxy Proxy::operator[](std::initializer_list<Arg> key) const {
  return index(key, key.size() ? key.begin()->loc : std::source_location::current());
}

Proxy Proxy::index(std::initializer_list<Arg> key, Loc loc) const {
  std::shared_ptr<Graph> g = graph_;
  Value k = index_key(key, g, loc);
  if (g != graph_) throw Error("an index uses a value of another graph", format_location(loc));
  return Proxy(graph_, graph().add_op("getitem", {Value::ref(index_), std::move(k)}, {}, loc));
}

void Proxy::set(Arg key, Arg value, Loc loc) const { call("setitem", {std::move(key), std::move(value)}, {}, loc); }

void Proxy::set(std::initializer_list<Arg> key, Arg value, Loc loc) const {
  std::shared_ptr<Graph> g = graph_;
  Value k = index_key(key, g, loc);
  if (g != graph_ || (value.graph && value.graph != graph_))
    throw Error("an assignment mixes values of two different graphs", format_location(loc));
  graph().add_op("setitem", {Value::ref(index_), std::move(k), std::move(value.value)}, {}, loc);
}

Proxy Proxy::index_put_(std::initializer_list<Arg> key, Arg value, Loc loc) const {
  set(key, std::move(value), loc);
  return *this;
}

Proxy& Proxy::operator+=(Arg other) { return *this = call("iadd", {other}, {}, other.loc); }
Proxy& Proxy::operator-=(Arg other) { return *this = call("isub", {other}, {}, other.loc); }
Proxy& Proxy::operator*=(Arg other) { return *this = call("imul", {other}, {}, other.loc); }
Proxy& Proxy::operator/=(Arg other) { return *this = call("itruediv", {other}, {}, other.loc); }

Proxy Proxy::clone(Loc loc) const { return call("clone", {}, {}, loc); }
Proxy Proxy::detach(Loc loc) const { return call("detach", {}, {}, loc); }
Proxy Proxy::contiguous(Loc loc) const { return call("contiguous", {}, {}, loc); }
Proxy Proxy::sum(Loc loc) const { return call("sum", {}, {}, loc); }
Proxy Proxy::sum(Arg dim, bool keepdim, Loc loc) const { return call("sum", {std::move(dim), keepdim}, {}, loc); }
Proxy Proxy::mean(Loc loc) const { return call("mean", {}, {}, loc); }
Proxy Proxy::mean(Arg dim, bool keepdim, Loc loc) const { return call("mean", {std::move(dim), keepdim}, {}, loc); }
Proxy Proxy::norm(double p, Loc loc) const { return call("norm", {p}, {}, loc); }
Proxy Proxy::norm(double p, Arg dim, bool keepdim, Loc loc) const {
  return call("norm", {p, std::move(dim), keepdim}, {}, loc);
}
Proxy Proxy::argmax(Loc loc) const { return call("argmax", {}, {}, loc); }
Proxy Proxy::argmax(int64_t dim, bool keepdim, Loc loc) const { return call("argmax", {dim, keepdim}, {}, loc); }
Proxy Proxy::max(Loc loc) const { return call("max", {}, {}, loc); }
Proxy Proxy::max(int64_t dim, bool keepdim, Loc loc) const { return call("max", {dim, keepdim}, {}, loc); }
Proxy Proxy::min(Loc loc) const { return call("min", {}, {}, loc); }
Proxy Proxy::min(int64_t dim, bool keepdim, Loc loc) const { return call("min", {dim, keepdim}, {}, loc); }
Proxy Proxy::softmax(int64_t dim, Loc loc) const { return call("softmax", {dim}, {}, loc); }
Proxy Proxy::log_softmax(int64_t dim, Loc loc) const { return call("log_softmax", {dim}, {}, loc); }
Proxy Proxy::matmul(Arg other, Loc loc) const { return call("matmul", {std::move(other)}, {}, loc); }
Proxy Proxy::zeros_like(Loc loc) const { return call("zeros_like", {}, {}, loc); }
Proxy Proxy::ones_like(Loc loc) const { return call("ones_like", {}, {}, loc); }

namespace {
Value int_list(const std::vector<int64_t>& v) {
  std::vector<Value> out(v.begin(), v.end());
  return Value::list(std::move(out));
}
}  // namespace

Proxy Proxy::view(std::vector<int64_t> shape, Loc loc) const { return call("view", {int_list(shape)}, {}, loc); }
Proxy Proxy::reshape(std::vector<int64_t> shape, Loc loc) const { return call("reshape", {int_list(shape)}, {}, loc); }
Proxy Proxy::transpose(int64_t dim0, int64_t dim1, Loc loc) const { return call("transpose", {dim0, dim1}, {}, loc); }
Proxy Proxy::permute(std::vector<int64_t> dims, Loc loc) const { return call("permute", {int_list(dims)}, {}, loc); }
Proxy Proxy::unsqueeze(int64_t dim, Loc loc) const { return call("unsqueeze", {dim}, {}, loc); }
Proxy Proxy::squeeze(Loc loc) const { return call("squeeze", {}, {}, loc); }
Proxy Proxy::squeeze(int64_t dim, Loc loc) const { return call("squeeze", {dim}, {}, loc); }
Proxy Proxy::flatten(int64_t start_dim, int64_t end_dim, Loc loc) const {
  return call("flatten", {start_dim, end_dim}, {}, loc);
}
Proxy Proxy::narrow(int64_t dim, int64_t start, int64_t length, Loc loc) const {
  return call("narrow", {dim, start, length}, {}, loc);
}
Proxy Proxy::index_select(int64_t dim, Arg index, Loc loc) const {
  return call("index_select", {dim, std::move(index)}, {}, loc);
}
Proxy Proxy::abs(Loc loc) const { return call("abs", {}, {}, loc); }
Proxy Proxy::exp(Loc loc) const { return call("exp", {}, {}, loc); }
Proxy Proxy::log(Loc loc) const { return call("log", {}, {}, loc); }
Proxy Proxy::to(std::string dtype, Loc loc) const { return call("to", {std::move(dtype)}, {}, loc); }
Proxy Proxy::float_(Loc loc) const { return call("float", {}, {}, loc); }
Proxy Proxy::size(Loc loc) const { return call("size", {}, {}, loc); }
Proxy Proxy::size(int64_t dim, Loc loc) const { return call("size", {dim}, {}, loc); }
Proxy Proxy::shape(Loc loc) const { return call("shape", {}, {}, loc); }
Proxy Proxy::topk(int64_t k, int64_t dim, bool largest, bool sorted, Loc loc) const {
  return call("topk", {k, dim, largest, sorted}, {}, loc);
}
Proxy Proxy::where(Arg condition, Arg other, Loc loc) const {
  return graph::where(std::move(condition), Arg(*this, loc), std::move(other), loc);
}
Proxy Proxy::item(Loc loc) const { return call("item", {}, {}, loc); }
Proxy Proxy::tolist(Loc loc) const { return call("tolist", {}, {}, loc); }
Proxy Proxy::requires_grad_(bool requires_grad, Loc loc) const {
  return call("requires_grad_", {requires_grad}, {}, loc);
}
Proxy Proxy::retain_grad(Loc loc) const {
  call("retain_grad", {}, {}, loc);
  return *this;
}
Proxy Proxy::grad(Loc loc) const { return Proxy(graph_, graph().add_grad(index_, loc)); }

void Proxy::set_grad(Arg gradient, Loc loc) const {
  if (gradient.graph && gradient.graph != graph_)
    throw Error("a gradient swap mixes values of two different graphs", format_location(loc));
  graph().add_swap(graph().add_grad(index_, loc), std::move(gradient.value), loc);
}

void Proxy::backward(std::optional<bool> retain_graph, Loc loc) const {
  Dict kwargs;
  if (retain_graph) kwargs.set("retain_graph", Value(*retain_graph));
  call("backward", {}, std::move(kwargs), loc);
}

void Proxy::backward_with(Arg gradient, std::optional<bool> retain_graph, Loc loc) const {
  Dict kwargs;
  if (retain_graph) kwargs.set("retain_graph", Value(*retain_graph));
  call("backward", {std::move(gradient)}, std::move(kwargs), loc);
}

Proxy Proxy::add_(Arg other, Loc loc) const { return call("add_", {std::move(other)}, {}, loc); }
Proxy Proxy::sub_(Arg other, Loc loc) const { return call("sub_", {std::move(other)}, {}, loc); }
Proxy Proxy::mul_(Arg other, Loc loc) const { return call("mul_", {std::move(other)}, {}, loc); }
Proxy Proxy::div_(Arg other, Loc loc) const { return call("div_", {std::move(other)}, {}, loc); }
Proxy Proxy::zero_(Loc loc) const { return call("zero_", {}, {}, loc); }
Proxy Proxy::fill_(Arg value, Loc loc) const { return call("fill_", {std::move(value)}, {}, loc); }
void Proxy::append(Arg item, Loc loc) const { call("append", {std::move(item)}, {}, loc); }
Proxy Proxy::len(Loc loc) const { return call("len", {}, {}, loc); }

Proxy record(std::string_view name, std::vector<Arg> args, Dict kwargs, std::source_location loc) {
  auto g = target_graph(args, loc);
  std::vector<Value> values;
  values.reserve(args.size());
  for (auto& a : args) values.push_back(std::move(a.value));
  return Proxy(g, g->add_op(name, std::move(values), std::move(kwargs), loc));
}

Proxy binary_op(std::string_view name, Arg a, Arg b, std::source_location loc) {
  auto g = target_graph({&a, &b}, loc);
  return Proxy(g, g->add_op(name, {std::move(a.value), std::move(b.value)}, {}, loc));
}

Proxy unary_op(std::string_view name, const Proxy& a, std::source_location loc) { return a.call(name, {}, {}, loc); }

Proxy floordiv(Arg a, Arg b, std::source_location loc) {
  return binary_op("floordiv", std::move(a), std::move(b), loc);
}
Proxy pow(Arg a, Arg b, std::source_location loc) { return binary_op("pow", std::move(a), std::move(b), loc); }
Proxy matmul(Arg a, Arg b, std::source_location loc) { return binary_op("matmul", std::move(a), std::move(b), loc); }

Proxy where(Arg condition, Arg x, Arg y, std::source_location loc) {
  return record("where", {std::move(condition), std::move(x), std::move(y)}, {}, loc);
}

Proxy entry(std::string key, IterationSpec iteration, std::source_location loc) {
  auto g = target_graph(std::vector<Arg>{}, loc);
  return Proxy(g, g->add_entry(std::move(key), std::move(iteration), loc));
}

Proxy apply(ApplyFn fn, std::vector<Arg> args, std::string label, std::source_location loc) {
  auto g = target_graph(args, loc);
  std::vector<Value> values;
  for (auto& a : args) values.push_back(std::move(a.value));
  return Proxy(g, g->add_apply(std::move(fn), std::move(values), {}, std::move(label), loc));
}

void stop(std::source_location loc) {
  auto g = target_graph(std::vector<Arg>{}, loc);
  g->add_stop(-1, loc);
}

void log(std::initializer_list<Arg> items, std::source_location loc) {
  record("print", std::vector<Arg>(items), {}, loc);
}

Proxy list(std::source_location loc) { return record("list", {}, {}, loc); }
Proxy dict(std::source_location loc) { return record("dict", {}, {}, loc); }

Proxy cat(std::initializer_list<Arg> tensors, int64_t dim, std::source_location loc) {
  return record("cat", {list_of(tensors), dim}, {}, loc);
}

Proxy stack(std::initializer_list<Arg> tensors, int64_t dim, std::source_location loc) {
  return record("stack", {list_of(tensors), dim}, {}, loc);
}

void swap(const Proxy& entry, Arg replacement, std::source_location loc) {
  if (replacement.graph && replacement.graph != entry.graph_ptr())
    throw Error("a swap mixes values of two different graphs", format_location(loc));
  entry.graph().add_swap(entry.index(), std::move(replacement.value), loc);
}

}  // namespace nnsight::graph
