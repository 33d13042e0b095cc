#pragma once
/// @file
/// MetaParameters: for one scope, every parameter of a module tree is a meta
/// tensor of the same shape and dtype, so running the tree computes shapes
/// only (see base/meta.h). The real tensors come back when the scope ends,
/// also when it ends by an exception: a failed scan leaves the model as it was.
/// to_meta(Inputs&) makes a call's arguments meta to match.
///
/// The tree must not be run by another thread meanwhile (as for any trace).

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "nnsight/runtime/module.h"

namespace nnsight {

/// Makes every tensor of a call's args and kwargs a meta tensor, in place: in
/// a shape-only run, real tensors (inputs, constants, values of earlier runs)
/// mixed with meta parameters would fail on the device check.
void to_meta(Inputs& inputs);

/// The scope object: parameters are meta tensors from construction to destruction.
class MetaParameters {
 public:
  /// Swaps every parameter of the tree under `root` for a meta tensor of the same shape and dtype.
  explicit MetaParameters(Module& root);
  /// Puts the real tensors back.
  ~MetaParameters();
  MetaParameters(const MetaParameters&) = delete;
  MetaParameters& operator=(const MetaParameters&) = delete;

 private:
  void restore() noexcept;

  struct Swapped {
    Module* module;
    std::string name;
    at::Tensor real;
  };
  std::vector<Swapped> swapped_;
};

}  // namespace nnsight
