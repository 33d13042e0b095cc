#include "nnsight/base/activation_kernels.h"

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>

#include <cmath>

#include "nnsight/base/simd.h"

namespace nnsight {
namespace {

using c10::BFloat16;
using simd::load16;
using simd::store16;
using simd::to_float;

// exp(x) for x in fp32: x = n ln2 + r with |r| <= ln2/2, exp(r) by its Taylor
// polynomial to degree 7 (relative error < 1e-8 before rounding), times 2^n.
NNSIGHT_AVX512 inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0f)), _mm512_set1_ps(-88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);  // ln2 split in two parts
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// x * sigmoid(z) = x / (1 + exp(-z)).
NNSIGHT_AVX512 inline __m512 times_sigmoid(__m512 x, __m512 z) {
  const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), z));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

constexpr float kGeluA = 1.5957691216057308f;  // 2 sqrt(2/pi)
constexpr float kGeluB = 0.044715f;

struct GeluTanh {
  NNSIGHT_AVX512 static __m512 apply(__m512 x) {
    const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
    const __m512 z = _mm512_mul_ps(_mm512_set1_ps(kGeluA), _mm512_fmadd_ps(_mm512_set1_ps(kGeluB), x3, x));
    return times_sigmoid(x, z);
  }
  static float apply(float x) { return x / (1.0f + std::exp(-kGeluA * (x + kGeluB * x * x * x))); }
};

struct Silu {
  NNSIGHT_AVX512 static __m512 apply(__m512 x) { return times_sigmoid(x, x); }
  static float apply(float x) { return x / (1.0f + std::exp(-x)); }
};

template <class Fn, class T>
NNSIGHT_AVX512 void apply_range(const T* x, T* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) store16(y + i, Fn::apply(load16(x + i)));
  for (; i < n; ++i) y[i] = T(Fn::apply(to_float(x[i])));
}

template <class Fn, class T>
at::Tensor apply_typed(const at::Tensor& x_in) {
  const at::Tensor x = x_in.is_contiguous() ? x_in : x_in.contiguous();
  at::Tensor y = at::empty(x.sizes(), x.options());
  const T* xp = x.data_ptr<T>();
  T* yp = y.data_ptr<T>();
  // Blocks of >= 32K values per thread (prefill, on ATen's OpenMP threads like
  // the ops around it): decode rows stay on one thread.
  at::parallel_for(0, x.numel(), int64_t{1} << 15,
                   [&](int64_t begin, int64_t end) { apply_range<Fn>(xp + begin, yp + begin, end - begin); });
  return y;
}

template <class Fn>
at::Tensor apply(const at::Tensor& x) {
  return x.scalar_type() == at::kFloat ? apply_typed<Fn, float>(x) : apply_typed<Fn, BFloat16>(x);
}

}  // namespace

bool activation_kernel_supported(const at::Tensor& x) {
  return (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) && x.is_cpu() && !x.requires_grad() &&
         simd::cpu_has_avx512();
}

at::Tensor gelu_tanh_kernel(const at::Tensor& x) { return apply<GeluTanh>(x); }

at::Tensor silu_kernel(const at::Tensor& x) { return apply<Silu>(x); }

}  // namespace nnsight
