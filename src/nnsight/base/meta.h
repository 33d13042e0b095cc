#pragma once
/// @file
/// Meta tensors: shapes, dtypes and strides without data. A scan (api layer)
/// runs the model and the intervention graph on them, so shape errors show up
/// before any real computation, at no cost in memory or time.

#include <ATen/core/Tensor.h>

#include <string>

#include "nnsight/base/value.h"

namespace nnsight {

/// A meta tensor with t's sizes, strides and dtype (t itself if it is meta or undefined).
at::Tensor to_meta(const at::Tensor& t);
/// v with every tensor inside it (lists, tuples, dicts too) made meta.
Value to_meta(const Value& v);

/// Whether a LibTorch error says an op has no meta kernel (no shape rule) in
/// this LibTorch version, as opposed to the op rejecting its arguments.
bool is_missing_meta_kernel(const std::string& message);

}  // namespace nnsight
