#pragma once
/// @file
/// Proxy: a handle {graph, node index} standing for a value that will exist
/// when the graph runs. Operators and methods on proxies record nodes (they
/// compute nothing); save() keeps a value for reading after the run.
///
/// ```
///   Proxy h = entry("layer1.output");       // usually made by the tracing API
///   h.set({Slice(), 0}, 1.0);                // h[:, 0] = 1
///   Saved s = (h * 2).softmax(-1).save();
///   Proxy last = h[{Slice(), -1}];           // h[:, -1]
///   Proxy grown = h[{Ellipsis{}, NewAxis}];  // h[..., None]
///   ... run ...
///   at::Tensor t = s.tensor();
/// ```
///
/// Every recording call captures the caller's std::source_location (through
/// default arguments, or through the Arg conversion for operators), so errors
/// at run time cite the user's line. Nodes go to the innermost open context
/// (recording.h) of the proxy's graph.

#include <concepts>
#include <initializer_list>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "nnsight/graph/graph.h"

namespace nnsight::graph {

class Proxy;
class Saved;

/// Python's None in an index: a new axis (`x[:, None]`).
struct NewAxisT {};
inline constexpr NewAxisT NewAxis{};  ///< the index item `None`: `x[{Slice(), NewAxis}]`

/// A Proxy or Saved (or a reference to one).
template <class T>
concept ProxyLike = std::derived_from<std::remove_cvref_t<T>, Proxy>;
/// A constant an Arg can hold: anything a Value is constructible from, except proxies.
template <class T>
concept ValueLike = !ProxyLike<T> && std::constructible_from<Value, T>;

/// An argument of a recorded operation: a proxy (recorded as a reference to
/// its node) or a constant Value. Captures the location of the expression
/// that converts into it, which operators use as the node's source line.
class Arg {
 public:
  /// A reference to the proxy's node, a None (NewAxis), or a constant: implicit
  /// conversions, so proxies and constants mix freely in calls.
  ///@{
  Arg(const Proxy& p, std::source_location loc = std::source_location::current());
  Arg(NewAxisT, std::source_location loc = std::source_location::current()) : loc(loc) {}
  template <ValueLike T>
  Arg(T&& v, std::source_location loc = std::source_location::current()) : value(std::forward<T>(v)), loc(loc) {}
  ///@}

  Value value;                   ///< a Ref to the proxy's node, or the constant
  std::shared_ptr<Graph> graph;  ///< the proxy's graph, if a proxy
  std::source_location loc;      ///< where the conversion happened (the user's expression)
};

/// A list Value built from Args (proxies allowed), e.g. for cat/stack.
Arg list_of(std::initializer_list<Arg> items);
/// A tuple Value built from Args.
Arg tuple_of(std::initializer_list<Arg> items);

/// A handle on the value of one graph node; its operators and methods record new nodes (see the file comment).
class Proxy {
 public:
  using Loc = std::source_location;  ///< the caller's source line, captured by default arguments

  Proxy() = default;  ///< an empty handle (valid() is false) to assign later
  /// The value of node `index` of `graph`.
  Proxy(std::shared_ptr<Graph> graph, int32_t index) : graph_(std::move(graph)), index_(index) {}

  bool valid() const { return graph_ != nullptr; }  ///< false for an empty handle
  int32_t index() const { return index_; }          ///< the node's index in its graph
  /// The node's graph; throws Error for an empty handle.
  Graph& graph() const;
  /// The node's graph, shared (null for an empty handle).
  const std::shared_ptr<Graph>& graph_ptr() const { return graph_; }

  /// The value after the run. Throws an Error naming the node (and telling
  /// the user to call .save()) when it was not saved and has been freed.
  const Value& value() const;
  /// value() as a tensor.
  const at::Tensor& tensor() const;

  /// Keeps this value after the run.
  Saved save(Loc loc = Loc::current()) const;
  /// Ends the forward pass (innermost trace or loop) as soon as this value exists.
  void stop(Loc loc = Loc::current()) const;

  // ---- Indexing -------------------------------------------------------------
  /// x[i] (one index) and x[{i, j, ...}] (several: a tuple key). Index items:
  /// ints, Slice, Ellipsis{}, NewAxis, bools, tensors, lists, proxies.
  /// index({...}) is x[{...}] as a named call.
  ///@{
  Proxy operator[](Arg key) const;
  Proxy operator[](std::initializer_list<Arg> key) const;
  Proxy index(std::initializer_list<Arg> key, Loc loc = Loc::current()) const;
  ///@}
  /// x[key] = value (in place), with one index or a tuple key.
  ///@{
  void set(Arg key, Arg value, Loc loc = Loc::current()) const;
  void set(std::initializer_list<Arg> key, Arg value, Loc loc = Loc::current()) const;
  ///@}
  /// Like at::Tensor::index_put_: x[key] = value, returning x.
  Proxy index_put_(std::initializer_list<Arg> key, Arg value, Loc loc = Loc::current()) const;

  // ---- Compound assignment (in place on tensors, like Python) ----------------
  /// x += y, x -= y, x *= y, x /= y: records iadd / isub / imul / itruediv (in
  /// place on tensors, like Python) and makes this proxy the result.
  ///@{
  Proxy& operator+=(Arg other);
  Proxy& operator-=(Arg other);
  Proxy& operator*=(Arg other);
  Proxy& operator/=(Arg other);
  ///@}

  // ---- Tensor methods (the op set of ops.h) ----------------------------------
  /// torch.Tensor's method of the same name (ops.h has the op set), recorded
  /// as a node: the result is a proxy of the node.
  ///@{
  Proxy clone(Loc loc = Loc::current()) const;
  Proxy detach(Loc loc = Loc::current()) const;
  Proxy contiguous(Loc loc = Loc::current()) const;
  Proxy sum(Loc loc = Loc::current()) const;
  Proxy sum(Arg dim, bool keepdim = false, Loc loc = Loc::current()) const;
  Proxy mean(Loc loc = Loc::current()) const;
  Proxy mean(Arg dim, bool keepdim = false, Loc loc = Loc::current()) const;
  Proxy norm(double p = 2.0, Loc loc = Loc::current()) const;
  Proxy norm(double p, Arg dim, bool keepdim = false, Loc loc = Loc::current()) const;
  Proxy argmax(Loc loc = Loc::current()) const;
  Proxy argmax(int64_t dim, bool keepdim = false, Loc loc = Loc::current()) const;
  Proxy max(Loc loc = Loc::current()) const;
  Proxy max(int64_t dim, bool keepdim = false, Loc loc = Loc::current()) const;
  Proxy min(Loc loc = Loc::current()) const;
  Proxy min(int64_t dim, bool keepdim = false, Loc loc = Loc::current()) const;
  Proxy softmax(int64_t dim, Loc loc = Loc::current()) const;
  Proxy log_softmax(int64_t dim, Loc loc = Loc::current()) const;
  Proxy matmul(Arg other, Loc loc = Loc::current()) const;
  Proxy zeros_like(Loc loc = Loc::current()) const;
  Proxy ones_like(Loc loc = Loc::current()) const;
  Proxy view(std::vector<int64_t> shape, Loc loc = Loc::current()) const;
  Proxy reshape(std::vector<int64_t> shape, Loc loc = Loc::current()) const;
  Proxy transpose(int64_t dim0, int64_t dim1, Loc loc = Loc::current()) const;
  Proxy permute(std::vector<int64_t> dims, Loc loc = Loc::current()) const;
  Proxy unsqueeze(int64_t dim, Loc loc = Loc::current()) const;
  Proxy squeeze(Loc loc = Loc::current()) const;
  Proxy squeeze(int64_t dim, Loc loc = Loc::current()) const;
  Proxy flatten(int64_t start_dim = 0, int64_t end_dim = -1, Loc loc = Loc::current()) const;
  Proxy narrow(int64_t dim, int64_t start, int64_t length, Loc loc = Loc::current()) const;
  Proxy index_select(int64_t dim, Arg index, Loc loc = Loc::current()) const;
  Proxy abs(Loc loc = Loc::current()) const;
  Proxy exp(Loc loc = Loc::current()) const;
  Proxy log(Loc loc = Loc::current()) const;
  /// Tensor.to(dtype) by name: "float32", "bfloat16", "int64", ...
  Proxy to(std::string dtype, Loc loc = Loc::current()) const;
  /// Tensor.float().
  Proxy float_(Loc loc = Loc::current()) const;
  /// Tensor.size() as a tuple of ints, or one dimension's size.
  Proxy size(Loc loc = Loc::current()) const;
  Proxy size(int64_t dim, Loc loc = Loc::current()) const;
  Proxy shape(Loc loc = Loc::current()) const;
  /// (values, indices) as a tuple.
  Proxy topk(int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true, Loc loc = Loc::current()) const;
  /// Tensor.where(condition, other): this where condition, else other.
  Proxy where(Arg condition, Arg other, Loc loc = Loc::current()) const;
  Proxy item(Loc loc = Loc::current()) const;
  Proxy tolist(Loc loc = Loc::current()) const;
  Proxy requires_grad_(bool requires_grad = true, Loc loc = Loc::current()) const;
  Proxy retain_grad(Loc loc = Loc::current()) const;
  ///@}

  // ---- Gradients -------------------------------------------------------------
  /// The gradient of this value in the first backward pass recorded after
  /// this call (NNsight's `x.grad`). Nodes computed from it run during that
  /// backward pass; in-place edits of it change the gradient that flows on.
  Proxy grad(Loc loc = Loc::current()) const;
  /// Replaces this value's gradient in the next backward pass (`x.grad = g`).
  void set_grad(Arg gradient, Loc loc = Loc::current()) const;
  /// A backward pass from this value (one number). Unless `retain_graph` says otherwise, every backward of a trace
  /// but the last keeps the autograd graph for the next one.
  void backward(std::optional<bool> retain_graph = std::nullopt, Loc loc = Loc::current()) const;
  /// backward() of a tensor of any shape, seeded with `gradient` (torch's `t.backward(gradient)`).
  void backward_with(Arg gradient, std::optional<bool> retain_graph = std::nullopt, Loc loc = Loc::current()) const;
  /// torch.Tensor's in-place methods (e.g. to edit a gradient): they modify
  /// this value and return a proxy of it.
  ///@{
  Proxy add_(Arg other, Loc loc = Loc::current()) const;
  Proxy sub_(Arg other, Loc loc = Loc::current()) const;
  Proxy mul_(Arg other, Loc loc = Loc::current()) const;
  Proxy div_(Arg other, Loc loc = Loc::current()) const;
  Proxy zero_(Loc loc = Loc::current()) const;
  Proxy fill_(Arg value, Loc loc = Loc::current()) const;
  ///@}

  // ---- Python builtins on proxies --------------------------------------------
  /// list.append(item), in place.
  void append(Arg item, Loc loc = Loc::current()) const;
  /// Python's len(x).
  Proxy len(Loc loc = Loc::current()) const;

  /// Any op of the set with this proxy as argument 1: p.call("mul", {2}).
  Proxy call(std::string_view op, std::vector<Arg> args = {}, Dict kwargs = {}, Loc loc = Loc::current()) const;

 private:
  friend class Arg;
  std::shared_ptr<Graph> graph_;
  int32_t index_ = -1;
};

/// The handle save() returns: a Proxy whose value() is readable after the run.
class Saved : public Proxy {
 public:
  using Proxy::Proxy;
  Saved() = default;  ///< an empty handle, assigned from save() inside the trace
};

// ---- Free functions -----------------------------------------------------------

/// Records op `name` on `args` into the graph of the first proxy argument (or
/// the current graph). The generic way to reach every op of the set.
Proxy record(std::string_view name, std::vector<Arg> args, Dict kwargs = {},
             std::source_location loc = std::source_location::current());
/// A module value entry point in the current graph ("layer1.output").
Proxy entry(std::string key, IterationSpec iteration = {}, std::source_location loc = std::source_location::current());
/// Calls `fn` on the resolved arguments at run time (local only).
Proxy apply(ApplyFn fn, std::vector<Arg> args = {}, std::string label = "apply",
            std::source_location loc = std::source_location::current());
/// Stops the innermost trace / loop / session when reached.
void stop(std::source_location loc = std::source_location::current());
/// Writes its arguments, space separated, to the graph's log sink when reached.
void log(std::initializer_list<Arg> items, std::source_location loc = std::source_location::current());
/// A new empty list / dict node (Python's `list()` / `dict()` on the graph).
///@{
Proxy list(std::source_location loc = std::source_location::current());
Proxy dict(std::source_location loc = std::source_location::current());
///@}
/// torch.cat / torch.stack of proxies and tensors.
///@{
Proxy cat(std::initializer_list<Arg> tensors, int64_t dim = 0,
          std::source_location loc = std::source_location::current());
Proxy stack(std::initializer_list<Arg> tensors, int64_t dim = 0,
            std::source_location loc = std::source_location::current());
///@}
/// Replaces the value the module hands back for `entry` (NNsight's `.output = v`).
void swap(const Proxy& entry, Arg replacement, std::source_location loc = std::source_location::current());

// ---- Operators ---------------------------------------------------------------
// Non-member so that numbers work on either side; ProxyAt carries the
// expression's source location into the recorded node.

/// An operator's proxy operand with the location of the expression (an implicit conversion).
struct ProxyAt {
  const Proxy& proxy;        ///< the operand
  std::source_location loc;  ///< where the operator was used
  /// Captures `p` and the caller's location.
  ProxyAt(const Proxy& p, std::source_location l = std::source_location::current()) : proxy(p), loc(l) {}
};

/// Records binary op `name` (ops.h) on `a` and `b`, or unary op `name` on `a`, at `loc`.
///@{
Proxy binary_op(std::string_view name, Arg a, Arg b, std::source_location loc);
Proxy unary_op(std::string_view name, const Proxy& a, std::source_location loc);
///@}

/// Python's arithmetic, comparison and bitwise operators on proxies: `+ - * / %`
/// (add sub mul truediv mod), `== != < <= > >=` (eq ne lt le gt ge) and `& | ^`
/// (and_ or_ xor_), with a proxy on either side and a number or tensor on the
/// other; each records the op named in parentheses.
#define NNSIGHT_PROXY_BINARY(symbol, name)                                       \
  inline Proxy operator symbol(ProxyAt a, ProxyAt b) {                           \
    return binary_op(name, Arg(a.proxy, a.loc), Arg(b.proxy), a.loc);            \
  }                                                                              \
  template <ValueLike T>                                                         \
  Proxy operator symbol(ProxyAt a, T&& b) {                                      \
    return binary_op(name, Arg(a.proxy, a.loc), Arg(std::forward<T>(b)), a.loc); \
  }                                                                              \
  template <ValueLike T>                                                         \
  Proxy operator symbol(T&& a, ProxyAt b) {                                      \
    return binary_op(name, Arg(std::forward<T>(a)), Arg(b.proxy, b.loc), b.loc); \
  }

NNSIGHT_PROXY_BINARY(+, "add")
NNSIGHT_PROXY_BINARY(-, "sub")
NNSIGHT_PROXY_BINARY(*, "mul")
NNSIGHT_PROXY_BINARY(/, "truediv")
NNSIGHT_PROXY_BINARY(%, "mod")
NNSIGHT_PROXY_BINARY(==, "eq")
NNSIGHT_PROXY_BINARY(!=, "ne")
NNSIGHT_PROXY_BINARY(<, "lt")
NNSIGHT_PROXY_BINARY(<=, "le")
NNSIGHT_PROXY_BINARY(>, "gt")
NNSIGHT_PROXY_BINARY(>=, "ge")
NNSIGHT_PROXY_BINARY(&, "and_")
NNSIGHT_PROXY_BINARY(|, "or_")
NNSIGHT_PROXY_BINARY(^, "xor_")
#undef NNSIGHT_PROXY_BINARY

/// Unary `-x`, `+x`, `!x`, `~x`: records neg, pos, not_ (logical not), invert (bitwise not).
///@{
inline Proxy operator-(ProxyAt a) { return unary_op("neg", a.proxy, a.loc); }
inline Proxy operator+(ProxyAt a) { return unary_op("pos", a.proxy, a.loc); }
inline Proxy operator!(ProxyAt a) { return unary_op("not_", a.proxy, a.loc); }
inline Proxy operator~(ProxyAt a) { return unary_op("invert", a.proxy, a.loc); }
///@}

/// Python's `//` and `**` and `@`, which C++ lacks as operators.
///@{
Proxy floordiv(Arg a, Arg b, std::source_location loc = std::source_location::current());
Proxy pow(Arg a, Arg b, std::source_location loc = std::source_location::current());
Proxy matmul(Arg a, Arg b, std::source_location loc = std::source_location::current());
///@}
/// torch.where(condition, x, y).
Proxy where(Arg condition, Arg x, Arg y, std::source_location loc = std::source_location::current());

}  // namespace nnsight::graph
