#include "nnsight/runtime/models/weight_loader.h"

#include <ATen/ops/empty.h>

#include "nnsight/base/error.h"
#include "nnsight/runtime/loaders/weight_store.h"

namespace nnsight {

at::Tensor WeightLoader::convert(const std::string& name, at::Tensor t) const {
  if (!t.defined()) return t;
  if (!at::isFloatingType(t.scalar_type()))
    throw Error("tensor '" + name + "' has dtype " + c10::toString(t.scalar_type()) + ", expected floating point",
                "file " + store_.file_of(name) + ", tensor " + name,
                "quantized checkpoints must be dequantized by the loader");
  // Tensor::to returns the tensor itself when the dtype matches: mapped weights stay mapped.
  return t.to(dtype_);
}

at::Tensor WeightLoader::take(const std::string& name, const std::vector<int64_t>& shape) {
  return convert(name, store_.take(name, shape));
}

at::Tensor WeightLoader::take_for_transposed_use(const std::string& name, const std::vector<int64_t>& shape) {
  at::Tensor t = store_.take(name, shape);
  if (t.scalar_type() == dtype_ || t.dim() != 2) return convert(name, t);
  convert(name, t.narrow(0, 0, 0));  // the dtype check alone
  at::Tensor transposed = at::empty({t.size(1), t.size(0)}, t.options().dtype(dtype_));
  transposed.copy_(t.t());
  return transposed.t();
}

at::Tensor WeightLoader::take_optional(const std::string& name, const std::vector<int64_t>& shape) {
  return convert(name, store_.take_optional(name, shape));
}

void WeightLoader::discard(const std::string& name) {
  if (!store_.contains(name)) return;
  // take_optional removes the tensor before checking its shape; the shape is irrelevant here.
  try {
    store_.take_optional(name, {});
  } catch (const Error&) {
  }
}

bool WeightLoader::contains(const std::string& name) const { return store_.contains(name); }

void WeightLoader::check_all_used(const std::string& architecture) const {
  const auto left = store_.remaining();
  if (left.empty()) return;
  std::string names;
  for (std::size_t i = 0; i < left.size() && i < 12; ++i) names += (i ? ", " : "") + left[i];
  if (left.size() > 12) names += ", ... (" + std::to_string(left.size() - 12) + " more)";
  throw Error("the checkpoint holds " + std::to_string(left.size()) + " tensor(s) that a " + architecture +
                  " model with this config does not use: " + names,
              store_.describe_source(),
              "the config does not match the weights (layer count, biases, tied embeddings?) or the architecture is "
              "not supported");
}

}  // namespace nnsight
