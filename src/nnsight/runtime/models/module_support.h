#pragma once
/// @file
/// Small helpers shared by the model modules: reading a call's tensor inputs,
/// reading hidden states out of (possibly intervened) module outputs, and
/// turning LibTorch errors into nnsight::Error that names the module.

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <string>

#include "nnsight/base/error.h"
#include "nnsight/runtime/module.h"

namespace nnsight {

/// The tensor argument of a single-tensor module call (a Linear, a norm, an
/// activation); throws nnsight::Error naming the module when it is not one.
const at::Tensor& single_tensor_input(const Module& module, const Inputs& inputs);

/// The hidden states inside a module output: the tensor itself, or element 0
/// of a tuple/list (decoder layers and attention modules return tuples).
/// Throws nnsight::Error naming `module` otherwise (e.g. an intervention
/// replaced the output with something else).
const at::Tensor& hidden_states_of(const Value& output, const Module& module);

/// Calls `module` on one tensor through its dispatch point and returns the
/// hidden states of its output (see hidden_states_of).
at::Tensor call_hidden(Module& module, const at::Tensor& x, ForwardContext& ctx);

/// Rethrows a LibTorch error raised while running `module` as nnsight::Error.
[[noreturn]] void throw_module_error(const Module& module, const c10::Error& error);

/// Runs fn(); a c10::Error escaping it becomes an nnsight::Error naming the
/// module (shape mismatches after an intervention, bad dtypes, ...).
template <class Fn>
auto guarded(const Module& module, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    throw_module_error(module, e);
  }
}

/// The pre-norm transformer block shared by GPT-2 and Llama:
///   h = x + attn(norm1(x));  out = h + mlp(norm2(h))
/// returned as a 1-tuple (hidden,) like Hugging Face's decoder layers. Every
/// submodule call goes through its dispatch point.
Value pre_norm_block(const Module& block, const Inputs& inputs, Module& norm1, Module& attn, Module& norm2, Module& mlp,
                     ForwardContext& ctx);

}  // namespace nnsight
