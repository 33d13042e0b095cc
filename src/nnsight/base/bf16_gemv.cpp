#include "nnsight/base/bf16_gemv.h"

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <c10/util/BFloat16.h>
#include <immintrin.h>

#include <cstring>
#include <vector>

// GCC 12 reports its own _mm512_undefined_* placeholders (inlined from
// _mm512_reduce_add_ps) as maybe-uninitialized; the values are never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace nnsight {
namespace {

using c10::BFloat16;

inline float to_float(BFloat16 v) { return static_cast<float>(v); }

// Rows [o0, o1) of W (row-major [out, in]) dotted with x.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void dot_rows(const BFloat16* w, const BFloat16* x,
                                                                     int64_t in, int64_t o0, int64_t o1, float* y) {
  const int64_t main = in - in % 32;
  for (int64_t o = o0; o < o1; ++o) {
    const BFloat16* row = w + o * in;
    __m512 acc0 = _mm512_setzero_ps();
    __m512 acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= main; i += 64) {
      acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)_mm512_loadu_si512(row + i), (__m512bh)_mm512_loadu_si512(x + i));
      acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)_mm512_loadu_si512(row + i + 32),
                              (__m512bh)_mm512_loadu_si512(x + i + 32));
    }
    for (; i < main; i += 32)
      acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)_mm512_loadu_si512(row + i), (__m512bh)_mm512_loadu_si512(x + i));
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    for (; i < in; ++i) sum += to_float(row[i]) * to_float(x[i]);
    y[o] = sum;
  }
}

// 16 bf16 values widened to fp32 (bf16 is the high half of an fp32).
__attribute__((target("avx512f,avx512bw"))) inline __m512 load16(const BFloat16* p) {
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

// Columns [o0, o1) of y = x^T B for B row-major [in, out] (W = B^T).
__attribute__((target("avx512f,avx512bw"))) void axpy_rows(const BFloat16* b, const BFloat16* x, int64_t in,
                                                            int64_t out, int64_t o0, int64_t o1, float* y) {
  const int64_t width = o1 - o0;
  const int64_t main = width - width % 16;
  std::memset(y + o0, 0, sizeof(float) * static_cast<std::size_t>(width));
  for (int64_t i = 0; i < in; ++i) {
    const BFloat16* row = b + i * out + o0;
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

}  // namespace

bool bf16_gemv_supported() {
  static const bool supported = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
  return supported;
}

at::Tensor bf16_gemv(const at::Tensor& weight, const at::Tensor& x_in, const at::Tensor& bias) {
  const int64_t out = weight.size(0);
  const int64_t in = weight.size(1);
  const at::Tensor x = x_in.contiguous();
  const bool row_major = weight.stride(1) == 1 && weight.stride(0) == in;
  // Otherwise W is the transpose of a contiguous [in, out] matrix (GPT-2 Conv1D).
  const at::Tensor w = row_major ? weight : weight.t().contiguous();
  std::vector<float> y(static_cast<std::size_t>(out));
  const auto* wp = w.data_ptr<BFloat16>();
  const auto* xp = x.data_ptr<BFloat16>();
  // Grain: enough rows per task that each thread streams a large contiguous block.
  if (row_major) {
    at::parallel_for(0, out, 64, [&](int64_t o0, int64_t o1) { dot_rows(wp, xp, in, o0, o1, y.data()); });
  } else {
    at::parallel_for(0, out, 256, [&](int64_t o0, int64_t o1) { axpy_rows(wp, xp, in, out, o0, o1, y.data()); });
  }
  at::Tensor result = at::empty({out}, x.options());
  auto* rp = result.data_ptr<BFloat16>();
  const at::Tensor b = bias.defined() ? bias.contiguous() : at::Tensor();
  const BFloat16* bp = b.defined() ? b.data_ptr<BFloat16>() : nullptr;
  for (int64_t o = 0; o < out; ++o) rp[o] = BFloat16(bp ? y[o] + to_float(bp[o]) : y[o]);
  return result;
}

}  // namespace nnsight
