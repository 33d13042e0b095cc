#include "nnsight/base/backend.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace nnsight {
namespace {

TEST(Backend, UsesOpenBlasNotReferenceBlas) {
  // Reference BLAS makes fp32 matmul ~50x slower; the set-up script must
  // install libopenblas0-openmp so the libblas.so.3 alternative resolves to it.
  BackendInfo info = init_backend();
  EXPECT_TRUE(info.blas_is_openblas) << "libblas.so.3 resolves to '" << info.blas_library
                                     << "'; run scripts/setup.sh (installs libopenblas0-openmp)";
}

TEST(Backend, ThreadCountMatchesAvailableCores) {
  init_backend();
  EXPECT_EQ(at::get_num_threads(), available_cores());
  init_backend(1);
  EXPECT_EQ(at::get_num_threads(), 1);
  init_backend();
}

}  // namespace
}  // namespace nnsight
