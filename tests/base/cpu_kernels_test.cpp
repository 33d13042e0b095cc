// The hand-written CPU kernels (attention over a KV cache, norms, activations)
// against the ATen formulations they replace, in fp32 and bf16.
#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/linspace.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/mean.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/rsqrt.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>

#include "nnsight/base/activation_kernels.h"
#include "nnsight/base/attention_kernel.h"
#include "nnsight/base/gemm.h"
#include "nnsight/base/norm_kernels.h"

namespace nnsight {
namespace {

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item<double>();
}

// softmax(q k^T * scale + bias) v in fp32 with K/V heads repeated for the query groups.
at::Tensor reference_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                               double scale) {
  const int64_t b = q.size(0), t = q.size(1), h = q.size(2), d = q.size(3), groups = h / k.size(1);
  at::Tensor kf = k.to(at::kFloat).repeat_interleave(groups, 1);
  at::Tensor vf = v.to(at::kFloat).repeat_interleave(groups, 1);
  at::Tensor scores = at::matmul(q.to(at::kFloat).transpose(1, 2), kf.transpose(-1, -2)) * scale;
  if (bias.defined()) scores = scores + bias.to(at::kFloat);
  return at::matmul(at::softmax(scores, -1), vf).transpose(1, 2).reshape({b, t, h * d});
}

TEST(CpuKernels, AttentionMatchesReferenceOnCacheViewsWithGroupsAndMask) {
  at::Tensor probe = at::zeros({1, 1, 1, 16});
  if (!attention_kernel_supported(probe, probe, probe, {})) GTEST_SKIP() << "CPU without AVX-512";
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    // B = 2, T = 3 new queries, H = 6 query heads over H_kv = 2, D = 40 (not a multiple of 16), S = 9 of a
    // 16-position cache buffer.
    at::Tensor q = at::randn({2, 3, 6, 40}).to(dtype);
    at::Tensor k_buf = at::randn({2, 2, 16, 40}).to(dtype), v_buf = at::randn({2, 2, 16, 40}).to(dtype);
    at::Tensor k = k_buf.narrow(2, 0, 9), v = v_buf.narrow(2, 0, 9);
    at::Tensor bias = at::zeros({2, 1, 3, 9}).to(dtype);
    bias.narrow(3, 0, 2).select(0, 1).fill_(-1e30);   // row 1: two left-padding keys masked
    bias.select(2, 0).narrow(-1, 7, 2).fill_(-1e30);  // query 0 does not see the last two keys
    ASSERT_TRUE(attention_kernel_supported(q, k, v, bias));
    const at::Tensor want = reference_attention(q, k, v, bias, 0.125);
    const at::Tensor got = attention_kernel(q, k, v, bias, 0.125);
    ASSERT_EQ(got.sizes(), want.sizes());
    ASSERT_EQ(got.scalar_type(), dtype);
    EXPECT_LE(max_abs_diff(got, want), dtype == at::kFloat ? 1e-5 : 2e-2) << dtype;
    EXPECT_LE(max_abs_diff(attention_kernel(q, k, v, {}, 0.3), reference_attention(q, k, v, {}, 0.3)),
              dtype == at::kFloat ? 1e-5 : 2e-2)
        << dtype;
  }
}

TEST(CpuKernels, AttentionLeavesGradAndPrefillToAten) {
  at::Tensor q = at::randn({1, 1, 2, 16}), k = at::randn({1, 2, 4, 16});
  EXPECT_FALSE(attention_kernel_supported(q.clone().set_requires_grad(true), k, k, {}));
  EXPECT_FALSE(attention_kernel_supported(at::randn({1, 64, 2, 16}), k, k, {}));  // prefill: ATen GEMMs
  EXPECT_FALSE(attention_kernel_supported(q.to(at::kDouble), k.to(at::kDouble), k.to(at::kDouble), {}));
}

TEST(CpuKernels, LayerNormAndRmsNormMatchAten) {
  at::Tensor probe = at::zeros({4});
  if (!norm_kernel_supported(probe, probe, {})) GTEST_SKIP() << "CPU without AVX-512";
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    for (int64_t d : {7, 64, 768}) {
      at::Tensor x = (at::randn({3, 5, d}) * 3 + 1).to(dtype);
      at::Tensor w = at::randn({d}).to(dtype), b = at::randn({d}).to(dtype);
      const at::Tensor want = at::layer_norm(x, {d}, w, b, 1e-5);
      // fp32: rounding noise; bf16: two rounding steps (2^-8 relative each) of the largest output.
      const double tol = dtype == at::kFloat ? 1e-5 : 1.6e-2 * want.to(at::kFloat).abs().max().item<double>();
      EXPECT_LE(max_abs_diff(layer_norm_kernel(x, w, b, 1e-5), want), tol) << d;
      EXPECT_LE(max_abs_diff(layer_norm_kernel(x, w, {}, 1e-5), at::layer_norm(x, {d}, w, {}, 1e-5)), tol) << d;
      at::Tensor xf = x.to(at::kFloat);
      at::Tensor rms = w * (xf * at::rsqrt(at::mean(xf * xf, {-1}, true) + 1e-6)).to(dtype);
      EXPECT_LE(max_abs_diff(rms_norm_kernel(x, w, 1e-6), rms), tol) << d;
    }
  }
}

TEST(CpuKernels, GeluTanhAndSiluMatchAtenOverAWideRange) {
  if (!activation_kernel_supported(at::zeros({1}))) GTEST_SKIP() << "CPU without AVX-512";
  at::Tensor x = at::linspace(-30, 30, 20001).view({1, 20001});  // odd length: the scalar tail runs too
  EXPECT_LE(max_abs_diff(gelu_tanh_kernel(x), at::gelu(x, "tanh")), 2e-6);
  EXPECT_LE(max_abs_diff(silu_kernel(x), at::silu(x)), 2e-6);
  at::Tensor xb = x.to(at::kBFloat16);
  EXPECT_LE(max_abs_diff(gelu_tanh_kernel(xb), at::gelu(xb.to(at::kFloat), "tanh").to(at::kBFloat16)), 0.125);
  EXPECT_EQ(gelu_tanh_kernel(xb).scalar_type(), at::kBFloat16);
  EXPECT_FALSE(activation_kernel_supported(x.clone().set_requires_grad(true)));
}

TEST(CpuKernels, GemmMatchesAtenLinearOnBothLayoutsAndRaggedTiles) {
  if (!activation_kernel_supported(at::zeros({1, 1}))) GTEST_SKIP() << "CPU without AVX-512";
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{2, 1, 1}, {9, 33, 31}, {17, 64, 65}, {64, 768, 96}}) {
    at::Tensor x = at::randn({1, m, k}), w = at::randn({n, k}), b = at::randn({n});
    const double tol = 1e-5 * static_cast<double>(k);
    EXPECT_LE(max_abs_diff(gemm(x, w, false, b), at::linear(x, w, b)), tol) << m << " " << k << " " << n;
    at::Tensor wt = at::randn({k, n});  // Conv1D layout [in, out]
    EXPECT_LE(max_abs_diff(gemm(x, wt, true, {}), at::linear(x, wt.t())), tol) << m << " " << k << " " << n;
    EXPECT_EQ(gemm(x, wt, true, b).sizes(), (std::vector<int64_t>{1, m, n}));
  }
  // Rows needing grad never take it.
  EXPECT_FALSE(gemm_preferred(at::randn({4, 8}).set_requires_grad(true), at::randn({3, 8}), {}));
}

}  // namespace
}  // namespace nnsight
