#include "nnsight/base/backend.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <sched.h>

#include <fstream>
#include <iostream>
#include <mutex>
#include <set>

namespace nnsight {
namespace {

// LibTorch's default handler goes through glog and prints a "Logging before
// InitGoogleLogging" banner; print each distinct warning once instead.
class OnceWarningHandler : public c10::WarningHandler {
 public:
  void process(const c10::SourceLocation&, const std::string& msg, const bool) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (seen_.insert(msg).second) std::cerr << "nnsight: warning (libtorch): " << msg << "\n";
  }

 private:
  std::mutex mutex_;
  std::set<std::string> seen_;
};

}  // namespace

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return 1;
}

std::string mapped_blas_library() {
  // libtorch_cpu links libblas.so.3; the alternatives symlink decides which
  // implementation is actually mapped, so the maps file is the ground truth.
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::string found;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    if (path.find("libblas") != std::string::npos || path.find("libopenblas") != std::string::npos) {
      if (path.find("openblas") != std::string::npos) return path;
      found = path;
    }
  }
  return found;
}

BackendInfo init_backend(int threads) {
  static OnceWarningHandler handler;
  static std::once_flag once;
  std::call_once(once, [] { c10::Warning::set_warning_handler(&handler); });
  const int wanted = threads > 0 ? threads : available_cores();
  if (at::get_num_threads() != wanted) at::set_num_threads(wanted);
  BackendInfo info;
  info.threads = at::get_num_threads();
  info.blas_library = mapped_blas_library();
  info.blas_is_openblas = info.blas_library.find("openblas") != std::string::npos;
  return info;
}

}  // namespace nnsight
