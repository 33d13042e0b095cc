#pragma once
/// @file
/// Batch groups: how the values of one batched forward pass are split among
/// invokes, and how an invoke's replacement is put back.
///
/// Several invokes run as one batch; invoke i owns rows [start, start + size)
/// of every batch-major tensor (dim 0 == the total batch size). Narrowing makes
/// views of those rows (so in-place edits write through into the batch);
/// splicing copies an invoke's replacement into its rows, or rebuilds the
/// tensor by concatenation when a copy is impossible.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nnsight/base/value.h"

namespace nnsight::interleave {

/// Rows [start, start + size) of the batch belong to one invoke.
struct BatchGroup {
  int64_t start = 0;  ///< first row
  int64_t size = 0;   ///< number of rows
};

/// `v` with every tensor whose dim 0 equals `total` replaced by a narrow view
/// on the group's rows; other values (and non-batch tensors) are passed whole.
/// `on_view(batch, view)`, when given, sees every view made.
Value narrow_batch(const Value& v, int64_t total, const BatchGroup& group,
                   const std::function<void(const at::Tensor&, const at::Tensor&)>& on_view = {});

/// `full` with the group's rows replaced by `replacement`, which has the
/// structure narrow_batch(full) had (tuples/lists/dicts walked in parallel).
/// Batch tensors are copied into their slice in place when the shapes match
/// (nothing is done when the replacement is that very slice), otherwise the
/// tensor is rebuilt as cat(before, replacement, after). Non-batch items keep
/// the full value. Throws Error (naming `where`) when the structures differ
/// or rows cannot be spliced.
Value splice_batch(const Value& full, int64_t total, const BatchGroup& group, const Value& replacement,
                   const std::string& where);

/// One value from per-group parts of the same structure, in group order:
/// tensors are concatenated on dim 0, other items are taken from the first part.
Value concat_batch(const std::vector<Value>& parts, const std::string& where);

}  // namespace nnsight::interleave
