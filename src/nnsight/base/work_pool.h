#pragma once
/// @file
/// Chunked parallel loops for the decode kernels, without a join barrier.
///
/// A decode step runs ~50 matrix products of a few hundred microseconds each.
/// With OpenMP (at::parallel_for) every product ends in a barrier that waits
/// for every thread's fixed share, so a thread the OS has preempted (other
/// processes, a noisy VM) stalls the whole product for a scheduler time slice.
/// Here the caller and the helper threads claim small chunks from a shared
/// counter; the caller returns as soon as every chunk is done, doing them all
/// itself if the helpers do not show up.

#include <cstdint>
#include <type_traits>

namespace nnsight {

/// fn(ctx, chunk, worker) for one chunk; worker is 0 for the calling thread
/// and 1..workers()-1 for the helpers (e.g. to pick a per-worker buffer).
using ChunkFn = void (*)(void* ctx, int64_t chunk, int worker);

/// Number of workers (calling thread included) run_chunks() may use: the
/// intra-op thread count when the pool started (at::get_num_threads()).
int pool_workers();

/// Runs fn(ctx, c, worker) for every c in [0, chunks), in parallel when
/// chunks > 1 and the pool is free; inline on the calling thread when called
/// from inside another parallel loop or while another thread uses the pool.
/// Returns after every chunk has run.
void run_chunks(int64_t chunks, ChunkFn fn, void* ctx);

/// run_chunks() for a callable: fn(chunk, worker).
template <class Fn>
void run_chunks(int64_t chunks, Fn&& fn) {
  using F = std::remove_reference_t<Fn>;
  run_chunks(
      chunks, [](void* ctx, int64_t chunk, int worker) { (*static_cast<F*>(ctx))(chunk, worker); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

}  // namespace nnsight
