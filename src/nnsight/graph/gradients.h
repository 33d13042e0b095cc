#pragma once
// Gradients inside a trace (internal to the graph layer).
//
// A Grad node, once its argument exists, installs a LibTorch tensor hook on
// the tensor the gradient really flows through (ModuleCaller::grad_target:
// for an invoke's rows, the whole batch tensor). When a backward pass run by
// a node recorded after the Grad node reaches that tensor, the hook hands the
// gradient (the invoke's rows of it) to the graph, which runs the Grad node's
// downstream nodes (the grad-only nodes) right there, inside backward, and
// returns the gradient a `.grad = v` swap set, or the gradient after any
// in-place edits. The hook then ignores later passes; every hook is removed
// when the trace ends.

#include <cstdint>

#include "nnsight/graph/graph.h"

namespace nnsight::graph {

/// Installs the hook of Grad node `i` (its argument has executed). Throws
/// Error when the argument is not a tensor that requires gradients.
void install_grad_hook(Graph& g, int32_t i);

}  // namespace nnsight::graph
