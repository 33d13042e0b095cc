#include "nnsight/base/norm_kernels.h"

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <cmath>

#include "nnsight/base/simd.h"

namespace nnsight {
namespace {

using c10::BFloat16;
using simd::load16;
using simd::store16;
using simd::to_float;

template <class T>
NNSIGHT_AVX512 float row_sum(const T* x, int64_t d) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) acc = _mm512_add_ps(acc, load16(x + i));
  float s = simd::reduce_add(acc);
  for (; i < d; ++i) s += to_float(x[i]);
  return s;
}

// sum((x - c)^2)
template <class T>
NNSIGHT_AVX512 float row_sum_sq(const T* x, float c, int64_t d) {
  const __m512 cv = _mm512_set1_ps(c);
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m512 v = _mm512_sub_ps(load16(x + i), cv);
    acc = _mm512_fmadd_ps(v, v, acc);
  }
  float s = simd::reduce_add(acc);
  for (; i < d; ++i) s += (to_float(x[i]) - c) * (to_float(x[i]) - c);
  return s;
}

// y = (x * scale + shift) * w + b, ATen's LayerNorm formulation.
template <class T>
NNSIGHT_AVX512 void layer_norm_row(const T* x, const T* w, const T* b, float mean, float rstd, int64_t d, T* y) {
  const float shift = -rstd * mean;
  const __m512 sv = _mm512_set1_ps(rstd), hv = _mm512_set1_ps(shift);
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m512 v = _mm512_mul_ps(_mm512_fmadd_ps(load16(x + i), sv, hv), load16(w + i));
    if (b != nullptr) v = _mm512_add_ps(v, load16(b + i));
    store16(y + i, v);
  }
  for (; i < d; ++i) y[i] = T((to_float(x[i]) * rstd + shift) * to_float(w[i]) + (b ? to_float(b[i]) : 0.0f));
}

// y = w * round(x * r) (round = to T; a no-op for fp32).
template <class T>
NNSIGHT_AVX512 void rms_norm_row(const T* x, const T* w, float r, int64_t d, T* y) {
  const __m512 rv = _mm512_set1_ps(r);
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    store16(y + i, _mm512_mul_ps(load16(x + i), rv));
    store16(y + i, _mm512_mul_ps(load16(w + i), load16(y + i)));
  }
  for (; i < d; ++i) y[i] = T(to_float(w[i]) * to_float(T(to_float(x[i]) * r)));
}

template <class T, class RowFn>
at::Tensor for_each_row(const at::Tensor& x_in, RowFn&& fn) {
  const at::Tensor x = x_in.is_contiguous() ? x_in : x_in.contiguous();
  at::Tensor y = at::empty(x.sizes(), x.options());
  const int64_t d = x.size(-1);
  const int64_t rows = d == 0 ? 0 : x.numel() / d;
  const T* xp = x.data_ptr<T>();
  T* yp = y.data_ptr<T>();
  // A second thread only for blocks of >= 32K values (prefill, on ATen's OpenMP
  // threads like the ops around it), not for decode rows.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(d, 1));
  at::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) fn(xp + r * d, d, yp + r * d);
  });
  return y;
}

template <class T>
at::Tensor layer_norm_typed(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, float eps) {
  const at::Tensor w = weight.contiguous();
  const at::Tensor b = bias.defined() ? bias.contiguous() : bias;
  const T* wp = w.data_ptr<T>();
  const T* bp = b.defined() ? b.data_ptr<T>() : nullptr;
  return for_each_row<T>(x, [&](const T* row, int64_t d, T* out) {
    const float mean = row_sum(row, d) / static_cast<float>(d);
    const float var = row_sum_sq(row, mean, d) / static_cast<float>(d);
    layer_norm_row(row, wp, bp, mean, 1.0f / std::sqrt(var + eps), d, out);
  });
}

template <class T>
at::Tensor rms_norm_typed(const at::Tensor& x, const at::Tensor& weight, float eps) {
  const at::Tensor w = weight.contiguous();
  const T* wp = w.data_ptr<T>();
  return for_each_row<T>(x, [&](const T* row, int64_t d, T* out) {
    const float mean_sq = row_sum_sq(row, 0.0f, d) / static_cast<float>(d);
    rms_norm_row(row, wp, 1.0f / std::sqrt(mean_sq + eps), d, out);
  });
}

}  // namespace

bool norm_kernel_supported(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const auto dtype = x.scalar_type();
  if ((dtype != at::kFloat && dtype != at::kBFloat16) || !simd::cpu_has_avx512() || !x.is_cpu()) return false;
  if (x.dim() == 0 || weight.dim() != 1 || x.size(-1) != weight.size(0) || weight.scalar_type() != dtype) return false;
  if (x.requires_grad() || weight.requires_grad()) return false;
  if (bias.defined() &&
      (bias.dim() != 1 || bias.size(0) != weight.size(0) || bias.scalar_type() != dtype || bias.requires_grad()))
    return false;
  return true;
}

at::Tensor layer_norm_kernel(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  const auto e = static_cast<float>(eps);
  return x.scalar_type() == at::kFloat ? layer_norm_typed<float>(x, weight, bias, e)
                                       : layer_norm_typed<BFloat16>(x, weight, bias, e);
}

at::Tensor rms_norm_kernel(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const auto e = static_cast<float>(eps);
  return x.scalar_type() == at::kFloat ? rms_norm_typed<float>(x, weight, e) : rms_norm_typed<BFloat16>(x, weight, e);
}

}  // namespace nnsight
