// run_chunks: every chunk runs exactly once, from any number of callers, and
// nested or concurrent calls fall back to the calling thread.
#include "nnsight/base/work_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "nnsight/base/backend.h"

namespace nnsight {
namespace {

TEST(WorkPool, EveryChunkRunsOnceWithAValidWorkerId) {
  init_backend();
  for (int64_t chunks : {0, 1, 2, 7, 1000}) {
    for (int rep = 0; rep < 50; ++rep) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(chunks));
      std::atomic<int> bad_worker{0};
      run_chunks(chunks, [&](int64_t c, int worker) {
        hits[static_cast<std::size_t>(c)].fetch_add(1);
        if (worker < 0 || worker >= pool_workers()) bad_worker.fetch_add(1);
      });
      for (int64_t c = 0; c < chunks; ++c) ASSERT_EQ(hits[static_cast<std::size_t>(c)].load(), 1) << c;
      EXPECT_EQ(bad_worker.load(), 0);
    }
  }
}

TEST(WorkPool, NestedAndConcurrentCallsComplete) {
  init_backend();
  std::atomic<int64_t> total{0};
  auto job = [&] {
    for (int rep = 0; rep < 200; ++rep)
      run_chunks(4, [&](int64_t, int) { run_chunks(3, [&](int64_t, int) { total.fetch_add(1); }); });
  };
  std::thread other(job);
  job();
  other.join();
  EXPECT_EQ(total.load(), 2 * 200 * 4 * 3);
}

}  // namespace
}  // namespace nnsight
