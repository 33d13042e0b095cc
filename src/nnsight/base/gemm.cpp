#include "nnsight/base/gemm.h"

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <c10/util/SmallVector.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "nnsight/base/simd.h"

namespace nnsight {
namespace {

constexpr int kRows = 8;  // register tile: 8 rows x 32 columns = 16 accumulators
constexpr int kCols = 32;
constexpr int64_t kDepth = 256;  // k per pass: a 256 x 32 weight block (32 KB) stays in L1 across the row tiles

// Columns [n0, n0 + width) of B [K, N] (element (k, n) at b[k * sk + n * sn])
// packed as dst[k * 32 + j], zero-padded to 32 columns.
void pack_panel(const float* b, int64_t sk, int64_t sn, int64_t k_size, int64_t n0, int64_t width, float* dst) {
  if (width < kCols) std::memset(dst, 0, sizeof(float) * static_cast<std::size_t>(k_size * kCols));
  if (sn == 1) {
    for (int64_t k = 0; k < k_size; ++k)
      for (int64_t j = 0; j < width; ++j) dst[k * kCols + j] = b[k * sk + n0 + j];
  } else {
    // W [N, K] row-major: k outer so the 32 weight rows' current cache lines
    // stay in L1 across 16 consecutive k, and the panel is written in order.
    const float* rows = b + n0 * sn;
    for (int64_t k = 0; k < k_size; ++k)
      for (int64_t j = 0; j < width; ++j) dst[k * kCols + j] = rows[j * sn + k * sk];
  }
}

// C[rows, width] = A[rows, K] * panel (+ bias), rows <= 8, width <= 32.
// C[rows, width] (+)= A[rows, K] * panel: `panel` row k is at panel + k * ldb
// (32 contiguous columns). The first pass (accumulate = false) starts from
// the bias (or 0), later passes from C.
template <int R>
NNSIGHT_AVX512 void tile(const float* a, int64_t lda, const float* panel, int64_t ldb, int64_t k_size,
                         const float* bias, bool accumulate, float* c, int64_t ldc, int64_t width) {
  const __mmask16 m0 = width >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << width) - 1);
  const __mmask16 m1 = width >= 32 ? __mmask16(0xFFFF) : width > 16 ? __mmask16((1u << (width - 16)) - 1) : 0;
  __m512 acc[R][2];
  if (accumulate) {
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      acc[i][0] = _mm512_maskz_loadu_ps(m0, c + i * ldc);
      acc[i][1] = _mm512_maskz_loadu_ps(m1, c + i * ldc + 16);
    }
  } else {
    const __m512 bias0 = bias != nullptr ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    const __m512 bias1 = bias != nullptr ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      acc[i][0] = bias0;
      acc[i][1] = bias1;
    }
  }
  for (int64_t k = 0; k < k_size; ++k) {
    const __m512 b0 = _mm512_loadu_ps(panel + k * ldb);
    const __m512 b1 = _mm512_loadu_ps(panel + k * ldb + 16);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m512 av = _mm512_set1_ps(a[i * lda + k]);
      acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    _mm512_mask_storeu_ps(c + i * ldc, m0, acc[i][0]);
    _mm512_mask_storeu_ps(c + i * ldc + 16, m1, acc[i][1]);
  }
}

using TileFn = void (*)(const float*, int64_t, const float*, int64_t, int64_t, const float*, bool, float*, int64_t,
                        int64_t);
constexpr TileFn kTiles[kRows + 1] = {nullptr,  &tile<1>, &tile<2>, &tile<3>, &tile<4>,
                                      &tile<5>, &tile<6>, &tile<7>, &tile<8>};

bool core_is_generic(const std::string& core) {
  for (const char* fast : {"haswell", "skylake", "cooperlake", "sapphirerapids", "zen", "excavator"}) {
    std::string lower = core;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (lower.find(fast) != std::string::npos) return false;
  }
  return true;
}

}  // namespace

bool blas_is_slow() {
  static const bool slow = [] {
    using CoreName = char* (*)();
    if (auto fn = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename")); fn != nullptr)
      return core_is_generic(fn());
    return dlsym(RTLD_DEFAULT, "MKL_Get_Version") == nullptr;  // not OpenBLAS: fast only if MKL
  }();
  return slow;
}

bool gemm_preferred(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return x.scalar_type() == at::kFloat && weight.scalar_type() == at::kFloat && weight.dim() == 2 && x.dim() >= 2 &&
         x.numel() > x.size(-1) && x.is_cpu() && weight.is_cpu() && !x.requires_grad() && !weight.requires_grad() &&
         (!bias.defined() || (bias.scalar_type() == at::kFloat && bias.dim() == 1 && !bias.requires_grad())) &&
         simd::cpu_has_avx512() && blas_is_slow();
}

at::Tensor gemm(const at::Tensor& x_in, const at::Tensor& matrix_in, bool transposed, const at::Tensor& bias_in) {
  const at::Tensor x = x_in.is_contiguous() ? x_in : x_in.contiguous();
  const int64_t k_size = x.size(-1);
  const int64_t m_size = k_size == 0 ? 0 : x.numel() / k_size;
  // B [K, N] = W^T: (k, n) at b[k * sk + n * sn].
  at::Tensor matrix = matrix_in;
  if (matrix.stride(0) != 1 && matrix.stride(1) != 1) matrix = matrix.contiguous();
  const int64_t n_size = matrix.size(transposed ? 1 : 0);
  const int64_t sk = transposed ? matrix.stride(0) : matrix.stride(1);
  const int64_t sn = transposed ? matrix.stride(1) : matrix.stride(0);
  const at::Tensor bias = bias_in.defined() && !bias_in.is_contiguous() ? bias_in.contiguous() : bias_in;
  c10::SmallVector<int64_t, 4> sizes(x.sizes().begin(), x.sizes().end());
  sizes.back() = n_size;
  at::Tensor y = at::empty(sizes, x.options());
  const float* a = x.data_ptr<float>();
  const float* b = matrix.data_ptr<float>();
  const float* bp = bias.defined() ? bias.data_ptr<float>() : nullptr;
  float* c = y.data_ptr<float>();
  const int64_t panels = (n_size + kCols - 1) / kCols;
  // A panel task is rows x 32 x K multiply-adds: >= 2 per thread only above ~1M of them. Prefill runs on
  // ATen's OpenMP threads, like the ops around it (two pools would compete for the cores).
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(1, m_size * kCols * k_size));
  at::parallel_for(0, panels, grain, [&](int64_t p0, int64_t p1) {
    std::vector<float> packed;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * kCols, width = std::min<int64_t>(kCols, n_size - n0);
      // Full panels of a [K, N] row-major B (Conv1D) are read in place; others are packed.
      const float* panel = b + n0;
      int64_t ldb = sk;
      if (sn != 1 || width < kCols) {
        packed.resize(static_cast<std::size_t>(k_size * kCols));
        pack_panel(b, sk, sn, k_size, n0, width, packed.data());
        panel = packed.data();
        ldb = kCols;
      }
      for (int64_t k0 = 0; k0 < k_size; k0 += kDepth) {
        const int64_t depth = std::min<int64_t>(kDepth, k_size - k0);
        for (int64_t m0 = 0; m0 < m_size; m0 += kRows) {
          const int64_t rows = std::min<int64_t>(kRows, m_size - m0);
          kTiles[rows](a + m0 * k_size + k0, k_size, panel + k0 * ldb, ldb, depth, bp ? bp + n0 : nullptr, k0 > 0,
                       c + m0 * n_size + n0, n_size, width);
        }
      }
    }
  });
  return y;
}

}  // namespace nnsight
