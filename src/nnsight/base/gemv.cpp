#include "nnsight/base/gemv.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "nnsight/base/simd.h"
#include "nnsight/base/work_pool.h"

namespace nnsight {
namespace {

using c10::BFloat16;
using simd::load16;
using simd::to_float;

// One step of a row's dot product with x: a cache line of weights (16 fp32
// FMAs, or 32 bf16 products with AVX512-BF16).
NNSIGHT_AVX512 inline __m512 dot_step(__m512 acc, const float* row, const float* x) {
  return _mm512_fmadd_ps(_mm512_loadu_ps(row), _mm512_loadu_ps(x), acc);
}
NNSIGHT_AVX512_BF16 inline __m512 dot_step(__m512 acc, const BFloat16* row, const BFloat16* x) {
  return _mm512_dpbf16_ps(acc, (__m512bh)_mm512_loadu_si512(row), (__m512bh)_mm512_loadu_si512(x));
}

template <class T>
float dot_tail(const T* row, const T* x, int64_t from, int64_t in) {
  float sum = 0;
  for (int64_t i = from; i < in; ++i) sum += to_float(row[i]) * to_float(x[i]);
  return sum;
}

// How far ahead of each weight stream the kernels ask for cache lines. The
// hardware prefetcher stops at every 4 KB page; without software prefetches a
// cold product streamed ~20 % below copy bandwidth (docs/benchmarks.md).
constexpr int64_t kPrefetchBytes = 2048;

NNSIGHT_AVX512 inline void prefetch_ahead(const void* p) {
  _mm_prefetch(static_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
}

// y[o] = <W[o, :], x> for rows [o0, o1) of a row-major W. Four rows from four
// quarters of the range at a time: four independent sequential streams keep
// more cache-line fetches in flight than one. (A macro: the fp32 and bf16
// versions need different target attributes for dot_step to inline.)
#define NNSIGHT_DOT_ROWS(T, TARGET)                                                                                    \
  TARGET void dot_rows(const T* w, const T* x, int64_t in, int64_t o0, int64_t o1, float* y) {                         \
    constexpr int64_t step = 64 / sizeof(T);                                                                           \
    const int64_t main = in - in % step;                                                                               \
    const int64_t quarter = (o1 - o0) / 4;                                                                             \
    for (int64_t j = 0; j < quarter; ++j) {                                                                            \
      const T* rows[4];                                                                                                \
      __m512 acc[4];                                                                                                   \
      for (int k = 0; k < 4; ++k) {                                                                                    \
        rows[k] = w + (o0 + k * quarter + j) * in;                                                                     \
        acc[k] = _mm512_setzero_ps();                                                                                  \
      }                                                                                                                \
      for (int64_t i = 0; i < main; i += step)                                                                         \
        for (int k = 0; k < 4; ++k) {                                                                                  \
          prefetch_ahead(rows[k] + i);                                                                                 \
          acc[k] = dot_step(acc[k], rows[k] + i, x + i);                                                               \
        }                                                                                                              \
      for (int k = 0; k < 4; ++k) y[o0 + k * quarter + j] = simd::reduce_add(acc[k]) + dot_tail(rows[k], x, main, in); \
    }                                                                                                                  \
    for (int64_t o = o0 + 4 * quarter; o < o1; ++o) {                                                                  \
      const T* row = w + o * in;                                                                                       \
      __m512 acc = _mm512_setzero_ps();                                                                                \
      for (int64_t i = 0; i < main; i += step) acc = dot_step(acc, row + i, x + i);                                    \
      y[o] = simd::reduce_add(acc) + dot_tail(row, x, main, in);                                                       \
    }                                                                                                                  \
  }
NNSIGHT_DOT_ROWS(float, NNSIGHT_AVX512)
NNSIGHT_DOT_ROWS(BFloat16, NNSIGHT_AVX512_BF16)
#undef NNSIGHT_DOT_ROWS

// y += x[i0:i1]^T B[i0:i1, :] for row-major B [in, out] (W = B^T): rows of
// B stream in memory order. Four rows per pass over y: a quarter of the
// accumulator loads and stores.
template <class T>
NNSIGHT_AVX512 void axpy_rows(const T* b, const T* x, int64_t i0, int64_t i1, int64_t out, float* y) {
  const int64_t main = out - out % 16;
  int64_t i = i0;
  for (; i + 4 <= i1; i += 4) {
    const T* r0 = b + i * out;
    const T* r1 = r0 + out;
    const T* r2 = r1 + out;
    const T* r3 = r2 + out;
    const float x0 = to_float(x[i]), x1 = to_float(x[i + 1]), x2 = to_float(x[i + 2]), x3 = to_float(x[i + 3]);
    const __m512 v0 = _mm512_set1_ps(x0), v1 = _mm512_set1_ps(x1), v2 = _mm512_set1_ps(x2), v3 = _mm512_set1_ps(x3);
    int64_t o = 0;
    for (; o < main; o += 16) {
      __m512 acc = _mm512_fmadd_ps(load16(r0 + o), v0, _mm512_loadu_ps(y + o));
      acc = _mm512_fmadd_ps(load16(r1 + o), v1, acc);
      acc = _mm512_fmadd_ps(load16(r2 + o), v2, acc);
      _mm512_storeu_ps(y + o, _mm512_fmadd_ps(load16(r3 + o), v3, acc));
    }
    for (; o < out; ++o)
      y[o] += to_float(r0[o]) * x0 + to_float(r1[o]) * x1 + to_float(r2[o]) * x2 + to_float(r3[o]) * x3;
  }
  for (; i < i1; ++i) {
    const T* row = b + i * out;
    const float xi = to_float(x[i]);
    const __m512 xv = _mm512_set1_ps(xi);
    int64_t o = 0;
    for (; o < main; o += 16) _mm512_storeu_ps(y + o, _mm512_fmadd_ps(load16(row + o), xv, _mm512_loadu_ps(y + o)));
    for (; o < out; ++o) y[o] += to_float(row[o]) * xi;
  }
}

// fp32 accumulators, reused across calls (a decode step makes ~50 products).
float* scratch(int64_t n) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
  return buffer.data();
}

// W [out, in] as a tensor holding W or W^T; `transposed` = the tensor is W^T [in, out].
template <class T>
void gemv_typed(const at::Tensor& matrix, bool transposed, const at::Tensor& x_in, const at::Tensor& bias, T* rp) {
  const int64_t out = matrix.size(transposed ? 1 : 0);
  const int64_t in = matrix.size(transposed ? 0 : 1);
  const int64_t s_out = matrix.stride(transposed ? 1 : 0), s_in = matrix.stride(transposed ? 0 : 1);
  const bool row_major = s_in == 1 && s_out == in;
  // Otherwise W is the transpose of a contiguous [in, out] matrix B, or made one.
  at::Tensor b_matrix;
  if (!row_major && !(s_out == 1 && s_in == out)) b_matrix = transposed ? matrix.contiguous() : matrix.t().contiguous();
  const T* wp = b_matrix.defined() ? b_matrix.data_ptr<T>() : matrix.data_ptr<T>();
  const at::Tensor x = x_in.is_contiguous() ? x_in : x_in.contiguous();
  const at::Tensor b = !bias.defined() || bias.is_contiguous() ? bias : bias.contiguous();
  const T* xp = x.data_ptr<T>();
  const T* bp = b.defined() ? b.data_ptr<T>() : nullptr;
  // Chunks of ~64K weights: enough of them for the workers to share the load
  // evenly; a matrix below that (a small model) runs on the calling thread.
  constexpr int64_t kChunkWeights = int64_t{1} << 16;
  if (row_major) {
    float* y = scratch(out);
    const int64_t rows = std::max<int64_t>(16, kChunkWeights / std::max<int64_t>(in, 1));
    run_chunks((out + rows - 1) / rows, [&](int64_t chunk, int) {
      const int64_t o0 = chunk * rows, o1 = std::min(out, o0 + rows);
      dot_rows(wp, xp, in, o0, o1, y);
      for (int64_t o = o0; o < o1; ++o) rp[o] = T(bp ? y[o] + to_float(bp[o]) : y[o]);
    });
    return;
  }
  // B [in, out]: each chunk is a block of B's rows (one sequential stream of
  // memory) summed into its own partial vector; the partials are added in a
  // fixed order, so the result does not depend on which thread ran what.
  constexpr int64_t kMaxChunks = 8;
  const int64_t chunks = std::clamp<int64_t>(in * out / kChunkWeights, 1, kMaxChunks);
  const int64_t rows = (in + chunks - 1) / chunks;
  float* partial = scratch(out * chunks);
  run_chunks(chunks, [&](int64_t chunk, int) {
    float* y = partial + chunk * out;
    std::memset(y, 0, sizeof(float) * static_cast<std::size_t>(out));
    axpy_rows(wp, xp, std::min(in, chunk * rows), std::min(in, (chunk + 1) * rows), out, y);
  });
  for (int64_t o = 0; o < out; ++o) {
    float sum = 0;
    for (int64_t c = 0; c < chunks; ++c) sum += partial[c * out + o];
    rp[o] = T(bp ? sum + to_float(bp[o]) : sum);
  }
}

void dispatch(const at::Tensor& matrix, bool transposed, const at::Tensor& x, const at::Tensor& bias,
              at::Tensor& result) {
  if (matrix.scalar_type() == at::kFloat)
    gemv_typed<float>(matrix, transposed, x, bias, result.data_ptr<float>());
  else
    gemv_typed<BFloat16>(matrix, transposed, x, bias, result.data_ptr<BFloat16>());
}

}  // namespace

bool gemv_supported(at::ScalarType dtype) {
  return dtype == at::kFloat ? simd::cpu_has_avx512() : dtype == at::kBFloat16 ? simd::cpu_has_avx512_bf16() : false;
}

void gemv_into(const at::Tensor& weight, const at::Tensor& x, const at::Tensor& bias, at::Tensor& result) {
  dispatch(weight, false, x, bias, result);
}

void gemv_transposed_into(const at::Tensor& weight_t, const at::Tensor& x, const at::Tensor& bias, at::Tensor& result) {
  dispatch(weight_t, true, x, bias, result);
}

at::Tensor gemv(const at::Tensor& weight, const at::Tensor& x, const at::Tensor& bias) {
  at::Tensor result = at::empty({weight.size(0)}, x.options());
  gemv_into(weight, x, bias, result);
  return result;
}

}  // namespace nnsight
