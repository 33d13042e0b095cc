// The progress line: drawn in place while counting, erased at the end, a
// summary only when not live, nothing at all without a terminal.
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "progress.h"

namespace nnsight::cli {
namespace {

using std::chrono::milliseconds;

TEST(Progress, LiveLineCountsTokensAndIsErasedBeforeTheSummary) {
  std::ostringstream out;
  Progress::Options live;
  live.interval = milliseconds(0);
  {
    Progress p(&out, "generating", 4, live);
    p.advance();
    EXPECT_EQ(p.status().rfind("generating: 1/4 tokens, ", 0), 0u) << p.status();
    p.advance();
    p.without_status([&] { out << "[text]"; });
    p.finish();
    p.finish();  // idempotent
  }
  const std::string s = out.str();
  EXPECT_EQ(s.rfind("\r\033[Kgenerating: 1/4 tokens, ", 0), 0u) << s;
  EXPECT_NE(s.find("\r\033[Kgenerating: 2/4 tokens, "), std::string::npos) << s;
  EXPECT_NE(s.find("tokens/s\r\033[K[text]"), std::string::npos) << s;  // erased before the caller writes
  EXPECT_NE(s.find("generating: 2 tokens in "), std::string::npos) << s;
  EXPECT_EQ(s.back(), '\n');
}

TEST(Progress, NotLiveWritesOnlyTheSummary) {
  std::ostringstream out;
  Progress p(&out, "generating", 3, /*live=*/false);
  p.advance(3);
  EXPECT_TRUE(out.str().empty());
  p.finish();
  EXPECT_EQ(out.str().rfind("generating: 3 tokens in ", 0), 0u) << out.str();
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
}

TEST(Progress, TickerShowsElapsedTimeAfterItsDelay) {
  std::ostringstream out;
  Progress::Options live;
  live.interval = milliseconds(5);
  Progress p(&out, "running graph", 0, live);
  p.start_ticker(milliseconds(0));
  std::this_thread::sleep_for(milliseconds(50));
  p.finish();
  const std::string s = out.str();
  EXPECT_EQ(s.rfind("\r\033[Krunning graph: ", 0), 0u) << s;
  EXPECT_NE(s.find(" s"), std::string::npos);
  EXPECT_EQ(s.substr(s.size() - 4), "\r\033[K") << "erased at the end, no summary without tokens";

  std::ostringstream quiet;
  Progress q(&quiet, "running graph", 0, live);
  q.start_ticker(milliseconds(10000));  // a short run: finished before the first draw
  q.finish();
  EXPECT_TRUE(quiet.str().empty());
}

TEST(Progress, WithoutATerminalNothingIsWritten) {
  Progress p(nullptr, "generating", 2);
  p.advance();
  p.start_ticker(milliseconds(0));
  bool wrote = false;
  p.without_status([&] { wrote = true; });
  p.finish();
  EXPECT_TRUE(wrote);
}

}  // namespace
}  // namespace nnsight::cli
