// Gradient hooks of Grad nodes: install, deliver the gradient to the graph,
// hand back the (possibly replaced) gradient.

#include "nnsight/graph/gradients.h"

#include "nnsight/base/error.h"
#include "nnsight/graph/executor.h"

namespace nnsight::graph {
namespace {

/// The tensor a `.grad = v` swap set, checked against the gradient it replaces.
at::Tensor replacement_gradient(const Graph& g, int32_t i, const Value& swap, const at::Tensor& expected) {
  if (!swap.is_tensor() || !swap.as_tensor().defined())
    throw Error("the gradient set for " + g.label(i) + " is a " + Value::kind_name(swap.kind()) + ", not a tensor",
                "at " + g.where(i), "assign a tensor of the gradient's shape to .grad");
  const at::Tensor& rep = swap.as_tensor();
  if (rep.sizes() != expected.sizes())
    throw Error("the gradient set for " + g.label(i) + " has shape " + format_shape(rep.sizes()) + ", expected " +
                    format_shape(expected.sizes()),
                "at " + g.where(i), "a replacement gradient must have the shape of the value it belongs to");
  return rep.to(expected.options());
}

at::Tensor on_gradient(Graph& g, int32_t i, uint32_t generation, int64_t start, int64_t length,
                       const at::Tensor& grad) {
  GradInfo& info = g.grad(i);
  if (!info.registered || info.fired || info.generation != generation || !grad.defined()) return {};
  // Each .grad belongs to the first backward pass recorded after it.
  const int32_t pass = g.running_backward();
  if (pass >= 0 && pass < i) return {};
  // Our own copy: the user may edit the gradient in place, and the edit must
  // reach the rest of the backward pass (it is what the hook returns).
  at::Tensor full = grad.clone();
  at::Tensor mine = length >= 0 ? full.narrow(0, start, length) : full;
  Executor(g).gradient_arrived(i, Value(mine));
  std::optional<Value> swap = std::move(info.swap);
  info.swap.reset();
  if (!swap) return full;
  at::Tensor rep = replacement_gradient(g, i, *swap, mine);
  if (length < 0) return rep;
  mine.copy_(rep);
  return full;
}

}  // namespace

void install_grad_hook(Graph& g, int32_t i) {
  const Node& n = g.node(i);
  const auto target = static_cast<int32_t>(n.args[0].as_ref());
  const Value& v = g.node(target).value;
  if (!v.is_tensor() || !v.as_tensor().defined())
    throw Error(".grad of " + g.label(target) + ", which is a " + Value::kind_name(v.kind()) + ", not a tensor", {},
                "take .grad of a tensor, e.g. of output[0] when a module returns a tuple");
  const at::Tensor& t = v.as_tensor();
  if (!t.requires_grad())
    throw Error(".grad of " + g.label(target) + ", which does not require gradients", {},
                "gradients exist for values computed from a module's input or output in a trace (not during "
                "generate(), which runs without autograd); call .requires_grad_() on a value you create yourself");
  ModuleCaller* caller = g.module_caller();
  GradTarget where = caller != nullptr ? caller->grad_target(t) : GradTarget{t};
  GradInfo& info = g.grad(i);
  const uint32_t generation = ++info.generation;
  Graph* graph = &g;
  const int64_t start = where.start;
  const int64_t length = where.length;
  const unsigned id = where.tensor.register_hook([graph, i, generation, start, length](const at::Tensor& grad) {
    return on_gradient(*graph, i, generation, start, length, grad);
  });
  g.add_grad_hook(where.tensor, id);
  info.registered = true;
}

}  // namespace nnsight::graph
