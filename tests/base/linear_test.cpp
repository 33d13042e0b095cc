#include "nnsight/base/linear.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/randn.h>
#include <gtest/gtest.h>

#include "nnsight/base/backend.h"
#include "nnsight/base/gemv.h"

namespace nnsight {
namespace {

// Reference: the same bf16-rounded operands multiplied in fp32.
at::Tensor reference(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return at::linear(x.to(at::kFloat), w.to(at::kFloat), b.defined() ? b.to(at::kFloat) : at::Tensor());
}

void expect_close_bf16(const at::Tensor& got, const at::Tensor& want) {
  ASSERT_EQ(got.scalar_type(), at::kBFloat16);
  ASSERT_EQ(got.sizes(), want.sizes());
  // One bf16 rounding of the fp32-accumulated result: relative 2^-8.
  const double err = (got.to(at::kFloat) - want).abs().max().item<double>();
  const double scale = want.abs().max().item<double>();
  EXPECT_LE(err, scale * 8e-3) << "max abs error " << err << " at scale " << scale;
}

TEST(Linear, SingleRowFp32MatchesAtenLinear) {
  init_backend();
  for (int64_t out : {64, 3072}) {
    at::Tensor w = at::randn({out, 768});
    at::Tensor b = at::randn({out});
    at::Tensor x = at::randn({1, 1, 768});
    EXPECT_TRUE(at::allclose(nnsight::linear(x, w, b), at::linear(x, w, b), 1e-4, 1e-4)) << out;
    // A transposed view (GPT-2's Conv1D stores [in, out]).
    at::Tensor wt = at::randn({768, out});
    EXPECT_TRUE(at::allclose(nnsight::linear(x, wt.t(), at::Tensor()), at::linear(x, wt.t()), 1e-4, 1e-4)) << out;
  }
}

TEST(Linear, Fp32GemvMatchesAtenOnBothLayoutsAndOddSizes) {
  if (!gemv_supported(at::kFloat)) GTEST_SKIP() << "CPU without AVX-512: linear() uses at::linear instead";
  for (auto [out, in] : {std::pair<int64_t, int64_t>{1, 1}, {5, 31}, {17, 33}, {100, 65}, {2304, 768}, {513, 3072}}) {
    at::Tensor w = at::randn({out, in});
    at::Tensor x = at::randn({in});
    at::Tensor b = at::randn({out});
    EXPECT_TRUE(at::allclose(gemv(w, x, b), at::linear(x, w, b), 1e-4, 1e-4)) << out << "x" << in;
    at::Tensor wt = at::randn({in, out});
    EXPECT_TRUE(at::allclose(gemv(wt.t(), x, {}), at::linear(x, wt.t()), 1e-4, 1e-4)) << out << "x" << in;
  }
}

TEST(Linear, Bf16GemvMatchesFp32OnBothLayoutsAndOddSizes) {
  if (!gemv_supported(at::kBFloat16)) GTEST_SKIP() << "CPU without AVX512-BF16: linear() uses at::linear instead";
  for (auto [out, in] : {std::pair<int64_t, int64_t>{1, 1}, {5, 31}, {17, 33}, {100, 65}, {2304, 768}, {50257, 64}}) {
    at::Tensor w = at::randn({out, in}).to(at::kBFloat16);
    at::Tensor x = at::randn({in}).to(at::kBFloat16);
    at::Tensor b = at::randn({out}).to(at::kBFloat16);
    expect_close_bf16(gemv(w, x, b), reference(x, w, b));
    expect_close_bf16(gemv(w, x, {}), reference(x, w, {}));
    at::Tensor wt = at::randn({in, out}).to(at::kBFloat16);  // Conv1D layout, used as wt.t()
    expect_close_bf16(gemv(wt.t(), x, b), reference(x, wt.t(), b));
  }
}

TEST(Linear, Bf16SingleRowRoutesThroughKernelAndKeepsShape) {
  at::Tensor w = at::randn({300, 96}).to(at::kBFloat16);
  at::Tensor x = at::randn({1, 1, 96}).to(at::kBFloat16);
  at::Tensor y = nnsight::linear(x, w, at::Tensor());
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 300}));
  expect_close_bf16(y, reference(x, w, {}));
}

TEST(Linear, RowsNeedingGradStayDifferentiable) {
  at::Tensor w = at::randn({8, 4}).to(at::kBFloat16);
  at::Tensor x = at::randn({1, 4}).to(at::kBFloat16).set_requires_grad(true);
  at::Tensor y = nnsight::linear(x, w, at::Tensor());
  EXPECT_TRUE(y.requires_grad());
}

}  // namespace
}  // namespace nnsight
