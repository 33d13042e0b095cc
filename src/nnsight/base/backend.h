#pragma once
/// @file
/// Process-wide LibTorch set-up: thread count, BLAS sanity, warning routing.
///
/// Debian's LibTorch 1.13 defaults to hardware_concurrency()/2 intra-op threads
/// (1 on a 2-core machine) and, without libopenblas0-openmp, resolves BLAS to
/// the reference netlib build, ~50x slower. init_backend() fixes the first and
/// detects the second.

#include <string>

namespace nnsight {

/// What init_backend() set up and found.
struct BackendInfo {
  int threads = 0;                ///< intra-op threads now in use
  std::string blas_library;       ///< path of the mapped libblas.so.3 target, or "" if unknown
  bool blas_is_openblas = false;  ///< the BLAS is OpenBLAS (not the ~50x slower reference build)
};

/// Idempotent. Sets the intra-op thread count to `threads` (0 = every core
/// available to this process), routes TORCH_WARN to stderr once per message.
BackendInfo init_backend(int threads = 0);

/// Which BLAS library this process has mapped (reads /proc/self/maps).
std::string mapped_blas_library();

/// Cores this process may run on (sched_getaffinity), at least 1.
int available_cores();

}  // namespace nnsight
