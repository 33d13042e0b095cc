// The demo trace (examples/demo_trace.cpp) prints what stories260K computes.
#include <gtest/gtest.h>

#include <string>

#include "cli/run_program.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

TEST(DemoTrace, PrintsLogitLensAblationAndPatching) {
  REQUIRE_MODEL("stories260K-hf");
  const test::ProgramResult r =
      test::run_program(std::string(NNSIGHT_DEMO_TRACE_PATH) + " " + test::quoted(test::models_dir()));
  const std::string& out = r.out;
  ASSERT_EQ(r.status, 0) << out << r.err;
  // llama2.c's run.c gives "," 96.88% after "Once upon a time"; the last
  // layer's lens is the model's own output.
  EXPECT_NE(out.find("layer 4: ','        p=0.969"), std::string::npos) << out;
  EXPECT_NE(out.find("output : ','        p=0.969"), std::string::npos) << out;
  EXPECT_NE(out.find("layer 0: 'time'"), std::string::npos) << out;
  EXPECT_NE(out.find("p(',') goes from 0.969 to 0.925"), std::string::npos) << out;
  EXPECT_NE(out.find("\"The dog\" -> 'was'"), std::string::npos) << out;
}

}  // namespace
}  // namespace nnsight
