#include "nnsight/base/meta.h"

#include <ATen/ops/empty_strided.h>

namespace nnsight {

at::Tensor to_meta(const at::Tensor& t) {
  if (!t.defined() || t.is_meta()) return t;
  return at::empty_strided(t.sizes(), t.strides(), t.options().device(at::kMeta));
}

Value to_meta(const Value& v) {
  return map_tensors(v, [](const at::Tensor& t) { return to_meta(t); });
}

bool is_missing_meta_kernel(const std::string& message) {
  // LibTorch's dispatcher: "Could not run 'aten::index_select' with arguments from the 'Meta' backend."
  return message.find("from the 'Meta' backend") != std::string::npos;
}

}  // namespace nnsight
