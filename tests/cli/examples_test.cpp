// The example programs under examples/ run on stories260K and print what
// they claim.
#include <gtest/gtest.h>

#include <string>

#include "cli/run_program.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

std::string run_example(const std::string& name) {
  const test::ProgramResult r =
      test::run_program(std::string(NNSIGHT_EXAMPLES_DIR) + "/" + name + " " + test::quoted(test::models_dir()));
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  return r.out;
}

TEST(Examples, AttributionPatchingEstimatesMatchTheDerivative) {
  REQUIRE_MODEL("stories260K-hf");
  const std::string out = run_example("attribution_patching");
  EXPECT_NE(out.find("metric = logit('S') - logit('T') at the last position: clean 1.523, corrupt 1.567"),
            std::string::npos)
      << out;
  // Gradient x activation difference is the derivative of patching along the difference: 1% of the
  // patch moves the metric by 1% of the estimate (to the printed precision of the example).
  EXPECT_NE(out.find("strongest cell: layer 3, position 14: estimated change 0.426"), std::string::npos) << out;
  EXPECT_NE(out.find("1% of the difference: 0.42"), std::string::npos) << out;
  // The last layer's output only matters at the last position (position 22).
  EXPECT_NE(out.find("4          0.000   0.000"), std::string::npos) << out;
}

}  // namespace
}  // namespace nnsight
