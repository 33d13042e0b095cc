#pragma once
/// @file
/// The closed set of operations an intervention graph node may perform.
///
/// A graph stores an op as data: its name plus its arguments (Values whose Refs
/// point at earlier nodes), so a graph can be written to and read from JSON by
/// name. The set is closed and documented here; `apply` (arbitrary C++
/// callables) is a separate node kind and is local only.
///
/// Ops (Python/torch semantics unless noted; "t" = tensor, "n" = number):
/// ```
///   arithmetic   add sub mul truediv floordiv mod pow neg pos abs matmul
///                iadd isub imul itruediv   (in place on tensors, like `x += y`)
///   comparison   eq ne lt le gt ge         (t -> bool tensor, n/str/None -> bool)
///   logical      and_ or_ xor_ not_ invert (bool/int bitwise; tensors elementwise;
///                                           not_ on a tensor is logical_not)
///   indexing     getitem(x, key)           (key: int, slice, ..., None = new axis,
///                                           tensor, list, or a tuple of those)
///                setitem(x, key, v)        (in place; returns None)
///   tensor       clone detach sum mean norm argmax softmax log_softmax cat stack
///                zeros_like ones_like view reshape transpose permute exp log to
///                float size shape topk where unsqueeze squeeze flatten max min
///                item tolist requires_grad_ retain_grad contiguous narrow
///                index_select add_ sub_ mul_ div_ zero_ fill_
///   gradients    backward(t, gradient=None, retain_graph=False)
///                (a backward pass; every backward of a trace but the last
///                keeps the autograd graph unless retain_graph is given)
///   builtins     list dict tuple int float str bool len append (list, in place)
///                ("float" of a tensor is Tensor.float(); of a number, Python float())
///   output       print                     (writes its arguments, space separated,
///                                           to the graph's log sink; "log" is
///                                           torch.log, the natural logarithm)
/// ```
/// Argument conventions: positional arguments first; optional parameters may
/// also be given as kwargs by their torch name (dim, keepdim, p, k, largest, ...).

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nnsight/base/value.h"

namespace nnsight::graph {

struct OpInfo;

/// Where an op's side output goes (the `print` op).
using LogSink = std::function<void(const std::string&)>;

/// One invocation of an op: resolved arguments (no Refs left) and kwargs.
struct OpCall {
  const OpInfo& op;              ///< the op being run
  std::span<Value> args;         ///< positional arguments, resolved
  const Dict& kwargs;            ///< keyword arguments, resolved
  const LogSink* log = nullptr;  ///< where `print` writes; null = standard output

  std::size_t size() const { return args.size(); }  ///< number of positional arguments
  /// Positional argument `pos`, else kwarg `name`, else nullptr.
  const Value* find(std::size_t pos, const char* name) const;
  /// Like find() but throws a type error naming the op when absent.
  const Value& need(std::size_t pos, const char* name) const;

  /// Typed accessors of positional argument `pos`, else kwarg `name`: a tensor,
  /// an int, an int or `fallback` when absent, a bool or `fallback` when absent.
  /// Each throws an Error naming the op, argument and kinds.
  ///@{
  const at::Tensor& tensor(std::size_t pos, const char* name = nullptr) const;
  int64_t integer(std::size_t pos, const char* name = nullptr) const;
  int64_t integer_or(std::size_t pos, const char* name, int64_t fallback) const;
  bool flag_or(std::size_t pos, const char* name, bool fallback) const;
  ///@}
  /// An int list given as a list/tuple Value, or as the remaining positional ints.
  std::vector<int64_t> int_list(std::size_t pos, const char* name) const;

  /// Throws "add: argument 2 is a str, expected a tensor or number" (for
  /// argument `pos`, or for value `v` described as `what`).
  ///@{
  [[noreturn]] void type_error(std::size_t pos, const char* expected) const;
  [[noreturn]] void type_error(const Value& v, const std::string& what, const char* expected) const;
  ///@}
};

/// The implementation of an op.
using OpFn = Value (*)(OpCall&);

/// An op's part in autograd. Fixed at registration, so compiling and running
/// a node reads a field instead of looking the op up by name.
enum class GradUse : uint8_t {
  None,      ///< no part
  Marks,     ///< retain_grad, requires_grad_: the trace needs differentiable module values
  Backward,  ///< runs a backward pass: Grad nodes recorded before it bind to it
};

/// One op of the set: its name, implementation, arity and autograd part.
struct OpInfo {
  std::string_view name;         ///< as in graphs and JSON ("add", "getitem", ...)
  OpFn fn;                       ///< computes the result
  int min_args;                  ///< positional arguments required
  int max_args;                  ///< -1 = variadic
  bool in_place;                 ///< mutates its first argument (documentation; Python `x[...] = v`, `x += y`)
  GradUse grad = GradUse::None;  ///< its part in autograd
};

namespace ops {

/// The op named `name`, or nullptr.
const OpInfo* find(std::string_view name);
/// The op named `name`; throws Error listing close names when unknown.
const OpInfo& require(std::string_view name);
/// Every op name, sorted.
std::vector<std::string_view> names();
/// Runs `op` on already resolved arguments (checks the argument count).
Value call(const OpInfo& op, std::span<Value> args, const Dict& kwargs, const LogSink* log = nullptr);

/// Registration: each ops_*.cpp file appends its ops to `table` (called once by the registry).
///@{
void register_arith(std::vector<OpInfo>& table);
void register_index(std::vector<OpInfo>& table);
void register_tensor(std::vector<OpInfo>& table);
void register_builtin(std::vector<OpInfo>& table);
///@}

// Value helpers shared by the op files.
/// Python truthiness (single-element tensors by value; others raise).
bool truthy(const Value& v);
/// Structural equality for non-tensor Values (tensors: same object).
bool values_equal(const Value& a, const Value& b);
/// Python str(): strings unquoted, everything else as Value::repr().
std::string to_str(const Value& v);

}  // namespace ops
}  // namespace nnsight::graph
