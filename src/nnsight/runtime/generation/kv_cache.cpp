#include "nnsight/runtime/generation/kv_cache.h"

#include <ATen/ops/zeros.h>

#include <cstring>

#include "nnsight/base/error.h"
#include "nnsight/runtime/model_config.h"

namespace nnsight {

KVCache::KVCache(int64_t num_layers, int64_t batch, int64_t num_kv_heads, int64_t capacity, int64_t head_dim,
                 at::ScalarType dtype)
    : batch_(batch), capacity_(capacity) {
  if (num_layers <= 0 || batch <= 0 || num_kv_heads <= 0 || capacity <= 0 || head_dim <= 0)
    throw Error("a KV cache needs positive sizes (layers " + std::to_string(num_layers) + ", batch " +
                    std::to_string(batch) + ", kv heads " + std::to_string(num_kv_heads) + ", capacity " +
                    std::to_string(capacity) + ", head_dim " + std::to_string(head_dim) + ")",
                "KVCache");
  keys_.reserve(static_cast<std::size_t>(num_layers));
  values_.reserve(static_cast<std::size_t>(num_layers));
  // Zeros, not empty: a layer skipped by an intervention then reads zeros, never garbage/NaN.
  const auto options = at::TensorOptions().dtype(dtype);
  for (int64_t i = 0; i < num_layers; ++i) {
    keys_.push_back(at::zeros({batch, num_kv_heads, capacity, head_dim}, options));
    values_.push_back(at::zeros({batch, num_kv_heads, capacity, head_dim}, options));
  }
}

namespace {

// dst[b, h, pos + i, :] = src[b, h, i, :] row by row: a decode step's keys or
// values without ATen's copy_ machinery. Only for tensors autograd need not see.
bool write_rows(at::Tensor& dst, const at::Tensor& src, int64_t pos) {
  if (src.requires_grad() || dst.requires_grad() || src.scalar_type() != dst.scalar_type() || !src.is_cpu() ||
      !dst.is_cpu() || src.stride(3) != 1 || dst.stride(3) != 1)
    return false;
  const auto elem = static_cast<int64_t>(src.element_size());
  const auto row_bytes = static_cast<std::size_t>(src.size(3) * elem);
  const char* sp = static_cast<const char*>(src.data_ptr());
  char* dp = static_cast<char*>(dst.data_ptr());
  for (int64_t b = 0; b < src.size(0); ++b)
    for (int64_t h = 0; h < src.size(1); ++h)
      for (int64_t i = 0; i < src.size(2); ++i)
        std::memcpy(dp + (b * dst.stride(0) + h * dst.stride(1) + (pos + i) * dst.stride(2)) * elem,
                    sp + (b * src.stride(0) + h * src.stride(1) + i * src.stride(2)) * elem, row_bytes);
  return true;
}

int64_t kv_heads_of(const ModelConfig& c) { return c.num_kv_heads > 0 ? c.num_kv_heads : c.num_heads; }
int64_t head_dim_of(const ModelConfig& c) {
  return c.head_dim > 0 ? c.head_dim : (c.num_heads > 0 ? c.hidden_size / c.num_heads : 0);
}
}  // namespace

KVCache::KVCache(const ModelConfig& config, int64_t batch, int64_t capacity)
    : KVCache(config.num_layers, batch, kv_heads_of(config), capacity, head_dim_of(config), config.dtype) {}

void KVCache::check_layer(int64_t layer) const {
  if (layer < 0 || layer >= num_layers())
    throw Error(
        "layer " + std::to_string(layer) + " is outside the KV cache (" + std::to_string(num_layers()) + " layers)",
        "KVCache", "the cache was built for another model");
}

std::pair<at::Tensor, at::Tensor> KVCache::append(int64_t layer, const at::Tensor& k, const at::Tensor& v) {
  check_layer(layer);
  at::Tensor& kb = keys_[static_cast<std::size_t>(layer)];
  at::Tensor& vb = values_[static_cast<std::size_t>(layer)];
  if (k.dim() != 4 || k.size(0) != batch_ || k.size(1) != kb.size(1) || k.size(3) != kb.size(3) ||
      v.sizes() != k.sizes())
    throw Error("keys/values of layer " + std::to_string(layer) + " do not fit the KV cache (batch " +
                    std::to_string(batch_) + ", kv heads " + std::to_string(kb.size(1)) + ", head_dim " +
                    std::to_string(kb.size(3)) + ")",
                "KVCache", "use one cache per batch of prompts, built for this model");
  const int64_t t = k.size(2);
  if (length_ + t > capacity_)
    throw Error("the KV cache is full: " + std::to_string(length_) + " positions stored, " + std::to_string(t) +
                    " more requested, capacity " + std::to_string(capacity_),
                "KVCache", "generate fewer tokens or build the cache with a larger capacity");
  if (!write_rows(kb, k, length_) || !write_rows(vb, v, length_)) {
    kb.narrow(2, length_, t).copy_(k);
    vb.narrow(2, length_, t).copy_(v);
  }
  return {kb.narrow(2, 0, length_ + t), vb.narrow(2, 0, length_ + t)};
}

void KVCache::advance(int64_t t) {
  if (length_ + t > capacity_)
    throw Error("the KV cache cannot advance past its capacity " + std::to_string(capacity_), "KVCache");
  length_ += t;
}

void KVCache::truncate(int64_t length) {
  if (length < 0 || length > length_)
    throw Error("cannot truncate the KV cache to " + std::to_string(length) + " positions (it holds " +
                    std::to_string(length_) + ")",
                "KVCache");
  length_ = length;
}

at::Tensor KVCache::keys(int64_t layer) const {
  check_layer(layer);
  return keys_[static_cast<std::size_t>(layer)].narrow(2, 0, length_);
}

at::Tensor KVCache::values(int64_t layer) const {
  check_layer(layer);
  return values_[static_cast<std::size_t>(layer)].narrow(2, 0, length_);
}

}  // namespace nnsight
