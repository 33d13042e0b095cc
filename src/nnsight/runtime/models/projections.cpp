#include "nnsight/runtime/models/projections.h"

#include "nnsight/base/linear.h"
#include "nnsight/runtime/models/module_support.h"

namespace nnsight {

Linear::Linear(at::Tensor weight, at::Tensor bias) : Module("Linear") {
  add_parameter("weight", std::move(weight));
  if (bias.defined()) add_parameter("bias", std::move(bias));
}

Value Linear::forward(Inputs& inputs, ForwardContext&) {
  const at::Tensor& x = single_tensor_input(*this, inputs);
  // Parameters are read at call time so that set_parameter (weight edits) takes effect.
  const auto& params = parameters();
  return guarded(*this, [&] {
    return Value(nnsight::linear(x, params[0].second, params.size() > 1 ? params[1].second : at::Tensor()));
  });
}

Conv1D::Conv1D(at::Tensor weight, at::Tensor bias) : Module("Conv1D") {
  add_parameter("weight", std::move(weight));
  add_parameter("bias", std::move(bias));
}

Value Conv1D::forward(Inputs& inputs, ForwardContext&) {
  const at::Tensor& x = single_tensor_input(*this, inputs);
  const auto& params = parameters();
  return guarded(*this, [&] { return Value(nnsight::linear_transposed(x, params[0].second, params[1].second)); });
}

}  // namespace nnsight
