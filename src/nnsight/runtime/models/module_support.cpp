#include "nnsight/runtime/models/module_support.h"

#include <ATen/TensorOperators.h>

namespace nnsight {

const at::Tensor& single_tensor_input(const Module& module, const Inputs& inputs) {
  if (inputs.args.empty() || !inputs.args.front().is_tensor() || !inputs.args.front().as_tensor().defined())
    throw Error(
        "module '" + module.path() + "' (" + module.type_name() + ") expects one tensor argument",
        "module '" + module.path() + "'",
        inputs.args.empty() ? "it was called without arguments" : "it was called with " + inputs.args.front().repr());
  return inputs.args.front().as_tensor();
}

const at::Tensor& hidden_states_of(const Value& output, const Module& module) {
  if (output.is_tensor() && output.as_tensor().defined()) return output.as_tensor();
  if (output.is_sequence() && !output.items().empty() && output.items().front().is_tensor() &&
      output.items().front().as_tensor().defined())
    return output.items().front().as_tensor();
  throw Error("the output of module '" + module.path() + "' (" + module.type_name() +
                  ") holds no hidden-states tensor: " + output.repr(),
              "module '" + module.path() + "'",
              "an intervention that replaces this output must keep a tensor (or a tuple whose element 0 is one)");
}

at::Tensor call_hidden(Module& module, const at::Tensor& x, ForwardContext& ctx) {
  Value out = module(x, ctx);
  return hidden_states_of(out, module);
}

void throw_module_error(const Module& module, const c10::Error& error) {
  throw Error("tensor operation failed in module '" + module.path() + "' (" + module.type_name() +
                  "): " + error.what_without_backtrace(),
              "module '" + module.path() + "'",
              "check the shapes/dtypes of the inputs given to this module (or of values an intervention set)");
}

Value pre_norm_block(const Module& block, const Inputs& inputs, Module& norm1, Module& attn, Module& norm2, Module& mlp,
                     ForwardContext& ctx) {
  const at::Tensor& x = single_tensor_input(block, inputs);
  at::Tensor attn_out = call_hidden(attn, call_hidden(norm1, x, ctx), ctx);
  at::Tensor h = guarded(block, [&] { return x + attn_out; });
  at::Tensor mlp_out = call_hidden(mlp, call_hidden(norm2, h, ctx), ctx);
  return Value::tuple({Value(guarded(block, [&] { return h + mlp_out; }))});
}

}  // namespace nnsight
