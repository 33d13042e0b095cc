#include "nnsight/runtime/models/embedding.h"

#include <ATen/ops/embedding.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/max.h>
#include <ATen/ops/min.h>

#include <vector>

#include "nnsight/runtime/models/module_support.h"

namespace nnsight {

Embedding::Embedding(at::Tensor weight) : Module("Embedding") { add_parameter("weight", std::move(weight)); }

Value Embedding::forward(Inputs& inputs, ForwardContext&) {
  const at::Tensor& ids = single_tensor_input(*this, inputs);
  const at::Tensor& weight = parameters()[0].second;
  if (at::isFloatingType(ids.scalar_type()) || ids.scalar_type() == at::kBool)
    throw Error("module '" + path() + "' (Embedding) needs integer ids, got " + c10::toString(ids.scalar_type()),
                "module '" + path() + "'", "pass token ids as an int64 tensor");
  // LibTorch 1.13 has no meta kernel for embedding (index_select): a scan gets the shape from here.
  if (weight.is_meta() || ids.is_meta()) {
    std::vector<int64_t> shape(ids.sizes().begin(), ids.sizes().end());
    shape.push_back(weight.size(-1));
    return Value(at::empty(shape, weight.options().device(at::kMeta)));
  }
  try {
    return Value(at::embedding(weight, ids));
  } catch (const c10::Error& e) {
    // The common cause is an id outside the table: say which.
    if (ids.numel() > 0) {
      const int64_t lo = ids.min().item<int64_t>();
      const int64_t hi = ids.max().item<int64_t>();
      if (lo < 0 || hi >= weight.size(0))
        throw Error("index " + std::to_string(lo < 0 ? lo : hi) + " is out of range for '" + path() + "' with " +
                        std::to_string(weight.size(0)) + " rows",
                    "module '" + path() + "'",
                    "token ids must lie in [0, " + std::to_string(weight.size(0)) +
                        ") (for positions: the sequence is longer than the model's maximum)");
    }
    throw_module_error(*this, e);
  }
}

}  // namespace nnsight
