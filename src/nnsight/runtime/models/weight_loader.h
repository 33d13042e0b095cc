#pragma once
/// @file
/// WeightLoader: the model builders' view of a WeightStore: takes tensors by
/// Hugging Face name with their expected shape and converts them to the
/// model's dtype (no copy when it already matches).

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <string>
#include <vector>

namespace nnsight {

class WeightStore;

/// Hands a WeightStore's tensors to the model builders, shape-checked and in the model's dtype.
class WeightLoader {
 public:
  /// Takes tensors out of `store` (which must outlive the loader), converting them to `dtype`.
  WeightLoader(WeightStore& store, at::ScalarType dtype) : store_(store), dtype_(dtype) {}

  /// The tensor `name` of shape `shape` in the model dtype; throws nnsight::Error
  /// naming the file and tensor when missing, mis-shaped or not floating point.
  at::Tensor take(const std::string& name, const std::vector<int64_t>& shape);
  /// Like take, for a weight used transposed (GPT-2's Conv1D [in, out]): when
  /// a dtype conversion has to copy anyway, the copy is laid out so that the
  /// transpose is contiguous (the fast row-major path of decode products).
  /// The returned tensor still has `shape`.
  at::Tensor take_for_transposed_use(const std::string& name, const std::vector<int64_t>& shape);
  /// Like take, but an undefined tensor when absent.
  at::Tensor take_optional(const std::string& name, const std::vector<int64_t>& shape);
  /// Removes `name` if present, whatever its shape (buffers HF saves but the
  /// model recomputes, e.g. GPT-2's attn.bias causal mask).
  void discard(const std::string& name);
  /// True if `name` is still in the store (not yet taken or discarded).
  bool contains(const std::string& name) const;

  /// Throws nnsight::Error listing the tensors nobody took.
  void check_all_used(const std::string& architecture) const;

 private:
  at::Tensor convert(const std::string& name, at::Tensor t) const;
  WeightStore& store_;
  at::ScalarType dtype_;
};

}  // namespace nnsight
