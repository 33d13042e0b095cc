#include "nnsight/base/work_pool.h"

#include <ATen/Parallel.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace nnsight {
namespace {

// How long an idle helper polls for the next job before it sleeps: longer than
// the gap between two products of a decode step, short enough not to burn a
// core when the model is idle.
constexpr auto kSpin = std::chrono::microseconds(300);

thread_local bool t_in_pool_work = false;

class Pool {
 public:
  explicit Pool(int helpers) {
    for (int i = 0; i < helpers; ++i) threads_.emplace_back([this, i] { helper_loop(i + 1); });
  }
  // The pool lives until the process exits (helpers sleep on the condition variable).
  int workers() const { return static_cast<int>(threads_.size()) + 1; }

  void run(int64_t chunks, ChunkFn fn, void* ctx) {
    std::unique_lock<std::mutex> owner(run_mutex_, std::try_to_lock);
    if (!owner.owns_lock()) return inline_run(chunks, fn, ctx);
    uint64_t gen;
    bool wake;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      gen = ++gen_;
      job_ = {fn, ctx, chunks};
      done_.store(0, std::memory_order_relaxed);
      next_.store(gen << 32, std::memory_order_relaxed);
      published_.store(gen, std::memory_order_release);
      wake = sleepers_ > 0;
    }
    if (wake) wake_.notify_all();
    t_in_pool_work = true;
    work(gen, job_, 0);
    t_in_pool_work = false;
    // Only chunks a helper has claimed and not finished are waited for.
    while (done_.load(std::memory_order_acquire) < chunks) _mm_pause();
  }

 private:
  struct Job {
    ChunkFn fn = nullptr;
    void* ctx = nullptr;
    int64_t chunks = 0;
  };

  static void inline_run(int64_t chunks, ChunkFn fn, void* ctx) {
    for (int64_t c = 0; c < chunks; ++c) fn(ctx, c, 0);
  }

  // Claims chunks of generation `gen` (the counter carries the generation in
  // its high half, so a late helper can never claim chunks of a newer job).
  void work(uint64_t gen, const Job& job, int worker) {
    for (;;) {
      uint64_t v = next_.load(std::memory_order_relaxed);
      int64_t chunk;
      do {
        chunk = static_cast<int64_t>(v & 0xFFFFFFFFu);
        if ((v >> 32) != gen || chunk >= job.chunks) return;
      } while (!next_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel));
      job.fn(job.ctx, chunk, worker);
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  void helper_loop(int worker) {
    t_in_pool_work = true;  // nested loops inside a chunk run inline
    uint64_t seen = 0;
    for (;;) {
      const auto spin_start = std::chrono::steady_clock::now();
      for (int i = 0; published_.load(std::memory_order_acquire) == seen; ++i) {
        _mm_pause();
        if ((i & 255) != 255) continue;
        // Let a runnable thread of this core (e.g. an OpenMP worker of the op in between) go first.
        std::this_thread::yield();
        if (std::chrono::steady_clock::now() - spin_start > kSpin) {
          std::unique_lock<std::mutex> lock(mutex_);
          ++sleepers_;
          wake_.wait(lock, [&] { return gen_ != seen; });
          --sleepers_;
          break;
        }
      }
      Job job;
      uint64_t gen;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        gen = gen_;
        job = job_;
      }
      seen = gen;
      work(gen, job, worker);
    }
  }

  std::vector<std::thread> threads_;
  std::mutex run_mutex_;  // one caller at a time
  std::mutex mutex_;      // guards gen_, job_, sleepers_
  std::condition_variable wake_;
  uint64_t gen_ = 0;
  Job job_;
  int sleepers_ = 0;
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> next_{0};
  std::atomic<int64_t> done_{0};
};

Pool& pool() {
  // Never destroyed: helpers may still be asleep in it at exit.
  static Pool* p = new Pool(std::max(0, at::get_num_threads() - 1));
  return *p;
}

}  // namespace

int pool_workers() { return pool().workers(); }

void run_chunks(int64_t chunks, ChunkFn fn, void* ctx) {
  if (chunks <= 0) return;
  if (chunks == 1 || t_in_pool_work || at::in_parallel_region() || at::get_num_threads() == 1 ||
      pool().workers() == 1) {
    for (int64_t c = 0; c < chunks; ++c) fn(ctx, c, 0);
    return;
  }
  pool().run(chunks, fn, ctx);
}

}  // namespace nnsight
