#include "nnsight/base/attention_kernel.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "nnsight/base/simd.h"
#include "nnsight/base/work_pool.h"

namespace nnsight {
namespace {

using c10::BFloat16;
using simd::load16;
using simd::to_float;

// Up to this many query rows the kernel beats ATen's batched matmuls (decode,
// short continuations); prefill goes to ATen's GEMMs.
constexpr int64_t kMaxQueryRows = 16;

struct Strides {
  int64_t b, h, s;  // batch, head, sequence; the last dimension is contiguous
};

// <a, b> over d values, fp32 accumulation.
template <class T>
NNSIGHT_AVX512 float dot(const float* a, const T* b, int64_t d) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), load16(b + i), acc);
  float sum = simd::reduce_add(acc);
  for (; i < d; ++i) sum += a[i] * to_float(b[i]);
  return sum;
}

// acc += w * row over d values.
template <class T>
NNSIGHT_AVX512 void axpy(float w, const T* row, float* acc, int64_t d) {
  const __m512 wv = _mm512_set1_ps(w);
  int64_t i = 0;
  for (; i + 16 <= d; i += 16)
    _mm512_storeu_ps(acc + i, _mm512_fmadd_ps(wv, load16(row + i), _mm512_loadu_ps(acc + i)));
  for (; i < d; ++i) acc[i] += w * to_float(row[i]);
}

struct Problem {
  int64_t b, t, h, h_kv, s, d;
  Strides q, k, v;  // q strides: b, t (as .s), h
  int64_t q_t;
  int64_t bias_b, bias_t, bias_s;  // bias strides (bias_b = 0 when broadcast)
  float scale;
};

// One (batch row, query head): every query row t against the S keys.
template <class T, class B>
NNSIGHT_AVX512 void attend(const Problem& p, const T* q, const T* k, const T* v, const B* bias, int64_t bi, int64_t hi,
                           T* out, float* scratch) {
  const int64_t g = hi / (p.h / p.h_kv);
  const T* kh = k + bi * p.k.b + g * p.k.h;
  const T* vh = v + bi * p.v.b + g * p.v.h;
  float* qf = scratch;           // [d]
  float* acc = scratch + p.d;    // [d]
  float* e = scratch + 2 * p.d;  // [s]
  for (int64_t ti = 0; ti < p.t; ++ti) {
    const T* qr = q + bi * p.q.b + ti * p.q_t + hi * p.q.h;
    for (int64_t i = 0; i < p.d; ++i) qf[i] = to_float(qr[i]);
    const B* br = bias != nullptr ? bias + bi * p.bias_b + ti * p.bias_t : nullptr;
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < p.s; ++j) {
      float score = dot(qf, kh + j * p.k.s, p.d) * p.scale;
      if (br != nullptr) score += to_float(br[j * p.bias_s]);
      e[j] = score;
      max = std::max(max, score);
    }
    float sum = 0;
    for (int64_t j = 0; j < p.s; ++j) sum += (e[j] = std::exp(e[j] - max));
    std::fill(acc, acc + p.d, 0.0f);
    for (int64_t j = 0; j < p.s; ++j) axpy(e[j], vh + j * p.v.s, acc, p.d);
    const float inv = 1.0f / sum;
    T* o = out + (bi * p.t + ti) * p.h * p.d + hi * p.d;
    for (int64_t i = 0; i < p.d; ++i) o[i] = T(acc[i] * inv);
  }
}

template <class T, class B>
void run(const Problem& p, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
         at::Tensor& out) {
  const T* qp = q.data_ptr<T>();
  const T* kp = k.data_ptr<T>();
  const T* vp = v.data_ptr<T>();
  const B* bp = bias.defined() ? bias.data_ptr<B>() : nullptr;
  T* op = out.data_ptr<T>();
  // Chunks of >= ~256K multiply-adds: a decode step over a short cache (12 heads x 64 positions x 64) is
  // ~100K and stays on the calling thread; long caches and batches are shared.
  const int64_t heads = p.b * p.h;
  const int64_t per_head = std::max<int64_t>(1, 2 * p.t * p.s * p.d);
  const int64_t heads_per_chunk = std::clamp<int64_t>((int64_t{1} << 18) / per_head, 1, heads);
  run_chunks((heads + heads_per_chunk - 1) / heads_per_chunk, [&](int64_t chunk, int) {
    std::vector<float> scratch(static_cast<std::size_t>(2 * p.d + p.s));
    for (int64_t i = chunk * heads_per_chunk; i < std::min(heads, (chunk + 1) * heads_per_chunk); ++i)
      attend<T, B>(p, qp, kp, vp, bp, i / p.h, i % p.h, op, scratch.data());
  });
}

}  // namespace

bool attention_kernel_supported(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias) {
  const auto dtype = q.scalar_type();
  if ((dtype != at::kFloat && dtype != at::kBFloat16) || !simd::cpu_has_avx512()) return false;
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || k.scalar_type() != dtype || v.scalar_type() != dtype)
    return false;
  if (!q.is_cpu() || !k.is_cpu() || !v.is_cpu() || q.requires_grad() || k.requires_grad() || v.requires_grad())
    return false;
  if (q.size(1) > kMaxQueryRows || q.stride(3) != 1 || k.stride(3) != 1 || v.stride(3) != 1) return false;
  const int64_t b = q.size(0), t = q.size(1), h = q.size(2), d = q.size(3), h_kv = k.size(1), s = k.size(2);
  if (k.size(0) != b || k.size(3) != d || v.sizes() != k.sizes() || h_kv == 0 || h % h_kv != 0 || s == 0) return false;
  if (bias.defined()) {
    if (bias.requires_grad() || !bias.is_cpu() || bias.dim() != 4) return false;
    if (bias.scalar_type() != at::kFloat && bias.scalar_type() != at::kBFloat16) return false;
    if ((bias.size(0) != b && bias.size(0) != 1) || bias.size(1) != 1 || bias.size(2) != t || bias.size(3) != s)
      return false;
  }
  return true;
}

at::Tensor attention_kernel(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                            double scale) {
  Problem p{};
  p.b = q.size(0);
  p.t = q.size(1);
  p.h = q.size(2);
  p.d = q.size(3);
  p.h_kv = k.size(1);
  p.s = k.size(2);
  p.q = {q.stride(0), q.stride(2), 0};
  p.q_t = q.stride(1);
  p.k = {k.stride(0), k.stride(1), k.stride(2)};
  p.v = {v.stride(0), v.stride(1), v.stride(2)};
  if (bias.defined()) {
    p.bias_b = bias.size(0) == 1 ? 0 : bias.stride(0);
    p.bias_t = bias.stride(2);
    p.bias_s = bias.stride(3);
  }
  p.scale = static_cast<float>(scale);
  at::Tensor out = at::empty({p.b, p.t, p.h * p.d}, q.options());
  const bool bias_bf16 = bias.defined() && bias.scalar_type() == at::kBFloat16;
  if (q.scalar_type() == at::kFloat) {
    bias_bf16 ? run<float, BFloat16>(p, q, k, v, bias, out) : run<float, float>(p, q, k, v, bias, out);
  } else {
    bias_bf16 ? run<BFloat16, BFloat16>(p, q, k, v, bias, out) : run<BFloat16, float>(p, q, k, v, bias, out);
  }
  return out;
}

}  // namespace nnsight
