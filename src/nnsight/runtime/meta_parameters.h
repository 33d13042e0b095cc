#pragma once
// MetaParameters: for one scope, every parameter of a module tree is a meta
// tensor of the same shape and dtype, so running the tree computes shapes
// only (see base/meta.h). The real tensors come back when the scope ends,
// also when it ends by an exception: a failed scan leaves the model as it was.
//
// The tree must not be run by another thread meanwhile (as for any trace).

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "nnsight/runtime/module.h"

namespace nnsight {

class MetaParameters {
 public:
  explicit MetaParameters(Module& root);
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
