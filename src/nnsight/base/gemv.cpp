#include "nnsight/base/gemv.h"

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <c10/util/BFloat16.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

// GCC 12 reports its own _mm512_undefined_* placeholders (inlined from
// _mm512_reduce_add_ps) as maybe-uninitialized; the values are never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace nnsight {
namespace {

using c10::BFloat16;

#define NNSIGHT_AVX512 __attribute__((target("avx512f,avx512bw")))
#define NNSIGHT_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

// 16 values widened to fp32 (bf16 is the high half of an fp32).
NNSIGHT_AVX512 inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
NNSIGHT_AVX512 inline __m512 load16(const BFloat16* p) {
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

inline float to_float(float v) { return v; }
inline float to_float(BFloat16 v) { return static_cast<float>(v); }

// y[o] = <W[o, :], x> for rows [o0, o1) of a row-major fp32 W.
NNSIGHT_AVX512 void dot_rows(const float* w, const float* x, int64_t in, int64_t o0, int64_t o1, float* y) {
  const int64_t main = in - in % 16;
  for (int64_t o = o0; o < o1; ++o) {
    const float* row = w + o * in;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 64 <= main; i += 64)
      for (int k = 0; k < 4; ++k)
        acc[k] = _mm512_fmadd_ps(_mm512_loadu_ps(row + i + 16 * k), _mm512_loadu_ps(x + i + 16 * k), acc[k]);
    for (; i < main; i += 16) acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(row + i), _mm512_loadu_ps(x + i), acc[0]);
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
    for (; i < in; ++i) sum += row[i] * x[i];
    y[o] = sum;
  }
}

// The same for bf16, 32 products per instruction.
NNSIGHT_AVX512_BF16 void dot_rows(const BFloat16* w, const BFloat16* x, int64_t in, int64_t o0, int64_t o1, float* y) {
  const int64_t main = in - in % 32;
  for (int64_t o = o0; o < o1; ++o) {
    const BFloat16* row = w + o * in;
    __m512 acc0 = _mm512_setzero_ps();
    __m512 acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= main; i += 64) {
      acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)_mm512_loadu_si512(row + i), (__m512bh)_mm512_loadu_si512(x + i));
      acc1 =
          _mm512_dpbf16_ps(acc1, (__m512bh)_mm512_loadu_si512(row + i + 32), (__m512bh)_mm512_loadu_si512(x + i + 32));
    }
    for (; i < main; i += 32)
      acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)_mm512_loadu_si512(row + i), (__m512bh)_mm512_loadu_si512(x + i));
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    for (; i < in; ++i) sum += to_float(row[i]) * to_float(x[i]);
    y[o] = sum;
  }
}

// Columns [o0, o1) of y = x^T B for row-major B [in, out] (W = B^T).
template <class T>
NNSIGHT_AVX512 void axpy_rows(const T* b, const T* x, int64_t in, int64_t out, int64_t o0, int64_t o1, float* y) {
  const int64_t width = o1 - o0;
  const int64_t main = width - width % 16;
  std::memset(y + o0, 0, sizeof(float) * static_cast<std::size_t>(width));
  for (int64_t i = 0; i < in; ++i) {
    const T* row = b + i * out + o0;
    const float xi = to_float(x[i]);
    const __m512 xv = _mm512_set1_ps(xi);
    int64_t o = 0;
    for (; o < main; o += 16) {
      float* dst = y + o0 + o;
      _mm512_storeu_ps(dst, _mm512_fmadd_ps(load16(row + o), xv, _mm512_loadu_ps(dst)));
    }
    for (; o < width; ++o) y[o0 + o] += to_float(row[o]) * xi;
  }
}

template <class T>
at::Tensor gemv_typed(const at::Tensor& weight, const at::Tensor& x_in, const at::Tensor& bias) {
  const int64_t out = weight.size(0);
  const int64_t in = weight.size(1);
  const at::Tensor x = x_in.contiguous();
  const bool row_major = weight.stride(1) == 1 && weight.stride(0) == in;
  // Otherwise W is used as the transpose of a contiguous [in, out] matrix.
  const at::Tensor w = row_major ? weight : weight.t().contiguous();
  const at::Tensor b = bias.defined() ? bias.contiguous() : at::Tensor();
  const T* wp = w.data_ptr<T>();
  const T* xp = x.data_ptr<T>();
  const T* bp = b.defined() ? b.data_ptr<T>() : nullptr;
  at::Tensor result = at::empty({out}, x.options());
  T* rp = result.data_ptr<T>();
  std::vector<float> acc(static_cast<std::size_t>(out));
  float* y = acc.data();
  // Each task streams at least ~64K weights: below that, waking a second
  // OpenMP thread costs more than it saves (small models stay single-threaded).
  const int64_t grain = std::max<int64_t>(row_major ? 64 : 256, (int64_t{1} << 16) / std::max<int64_t>(in, 1));
  at::parallel_for(0, out, grain, [&](int64_t o0, int64_t o1) {
    if (row_major)
      dot_rows(wp, xp, in, o0, o1, y);
    else
      axpy_rows(wp, xp, in, out, o0, o1, y);
    for (int64_t o = o0; o < o1; ++o) rp[o] = T(bp ? y[o] + to_float(bp[o]) : y[o]);
  });
  return result;
}

}  // namespace

bool gemv_supported(at::ScalarType dtype) {
  static const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  static const bool bf16 = avx512 && __builtin_cpu_supports("avx512bf16");
  return dtype == at::kFloat ? avx512 : dtype == at::kBFloat16 ? bf16 : false;
}

at::Tensor gemv(const at::Tensor& weight, const at::Tensor& x, const at::Tensor& bias) {
  return weight.scalar_type() == at::kFloat ? gemv_typed<float>(weight, x, bias)
                                            : gemv_typed<BFloat16>(weight, x, bias);
}

}  // namespace nnsight
