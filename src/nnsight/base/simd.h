#pragma once
// AVX-512 helpers shared by the hand-written CPU kernels (gemv, attention,
// row-wise norms). Functions using them carry NNSIGHT_AVX512 (or
// NNSIGHT_AVX512_BF16) so the library builds for baseline x86-64 and picks the
// kernels at run time (cpu_has_avx512*()).
//
// Internal to the kernels' .cpp files: includes <immintrin.h>.

#include <c10/util/BFloat16.h>
#include <immintrin.h>

#include <cstdint>

// GCC 12 reports its own _mm*_undefined_* placeholders (inlined from the
// conversion and reduction intrinsics) as uninitialized; they are never read.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define NNSIGHT_AVX512 __attribute__((target("avx512f,avx512bw")))
#define NNSIGHT_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

namespace nnsight::simd {

/// AVX-512F + BW (fp32 kernels, bf16 by widening).
inline bool cpu_has_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return ok;
}

/// AVX512-BF16 dot products as well.
inline bool cpu_has_avx512_bf16() {
  static const bool ok = cpu_has_avx512() && __builtin_cpu_supports("avx512bf16");
  return ok;
}

/// 16 values widened to fp32 (bf16 is the high half of an fp32).
NNSIGHT_AVX512 inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
NNSIGHT_AVX512 inline __m512 load16(const c10::BFloat16* p) {
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

/// Stores 16 fp32 values; for bf16 rounded to nearest even like c10::BFloat16
/// (NaN stays NaN).
NNSIGHT_AVX512 inline void store16(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
NNSIGHT_AVX512 inline void store16(c10::BFloat16* p, __m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  rounded = _mm512_mask_mov_epi32(rounded, nan, _mm512_set1_epi32(0x7FC0));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(rounded));
}

inline float to_float(float v) { return v; }
inline float to_float(c10::BFloat16 v) { return static_cast<float>(v); }

/// Horizontal sum (GCC's _mm512_reduce_add_ps trips -Wmaybe-uninitialized).
NNSIGHT_AVX512 inline float reduce_add(__m512 v) {
  __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}

}  // namespace nnsight::simd
