// The demo trace (examples/demo_trace.cpp) prints what stories260K computes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "support/test_support.h"

namespace nnsight {
namespace {

TEST(DemoTrace, PrintsLogitLensAblationAndPatching) {
  REQUIRE_MODEL("stories260K-hf");
  const std::string cmd = std::string(NNSIGHT_DEMO_TRACE_PATH) + " '" + test::models_dir() + "' 2>&1";
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe)) out += buf.data();
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
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
