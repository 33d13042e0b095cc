#pragma once
/// @file
/// KVCache: preallocated per-layer key/value buffers for incremental decoding.
///
/// Each layer owns K and V buffers of shape [batch, kv_heads, capacity,
/// head_dim]. A forward pass of T new tokens writes them at [length, length+T)
/// with narrow+copy (no concatenation, so decoding n tokens costs O(n) copies,
/// not O(n^2)) and attention reads views of [0, length+T). The length moves
/// forward once per model call (advance), after every layer has appended, so
/// all layers of one call see the same past.

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace nnsight {

struct ModelConfig;

/// Per-layer key/value buffers of one batch being decoded (see the file comment).
class KVCache {
 public:
  /// Zero-filled buffers for `num_layers` layers.
  KVCache(int64_t num_layers, int64_t batch, int64_t num_kv_heads, int64_t capacity, int64_t head_dim,
          at::ScalarType dtype);
  /// Buffers sized from a model config (kv heads, head_dim, layers, dtype).
  KVCache(const ModelConfig& config, int64_t batch, int64_t capacity);

  int64_t length() const { return length_; }                                 ///< positions filled
  int64_t capacity() const { return capacity_; }                             ///< positions the buffers hold
  int64_t batch() const { return batch_; }                                   ///< rows
  int64_t num_layers() const { return static_cast<int64_t>(keys_.size()); }  ///< layers with buffers

  /// Writes k, v ([batch, kv_heads, T, head_dim], any strides) at positions
  /// [length, length+T) of `layer` and returns views of that layer's keys and
  /// values over [0, length+T). Throws nnsight::Error when the capacity, the
  /// batch size or the head layout does not fit.
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k, const at::Tensor& v);

  /// Marks T more positions as filled (called once per model call).
  void advance(int64_t t);

  /// Forgets every position (buffers are kept).
  void reset() { length_ = 0; }

  /// Forgets the positions from `length` on (e.g. to re-run a step); throws
  /// nnsight::Error when `length` is negative or beyond the current length.
  void truncate(int64_t length);

  /// Views of the filled part of a layer's buffers: [batch, kv_heads, length, head_dim].
  ///@{
  at::Tensor keys(int64_t layer) const;
  at::Tensor values(int64_t layer) const;
  ///@}

 private:
  void check_layer(int64_t layer) const;

  int64_t batch_;
  int64_t capacity_;
  int64_t length_ = 0;
  std::vector<at::Tensor> keys_;
  std::vector<at::Tensor> values_;
};

}  // namespace nnsight
