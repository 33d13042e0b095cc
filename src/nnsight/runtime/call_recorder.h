#pragma once
/// @file
/// CallRecorder: a log of every module call in a tree (path, call number,
/// inputs, output), e.g. the shapes a scan reports. While it exists it is the
/// hook of every module; hooks that were installed before (the interleaver's)
/// still run, inside it, so the log shows what the rest of the model saw:
/// inputs as passed by the caller, outputs after any intervention swapped them.
/// Construct it after those hooks and destroy it before them.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "nnsight/base/value.h"
#include "nnsight/runtime/module.h"

namespace nnsight {

/// One call of one module.
struct ModuleCall {
  std::string path;  ///< "" for the root
  int64_t call = 0;  ///< 0 for the module's first call in the run, 1 for its second, ...
  Value inputs;      ///< ((args...), {kwargs})
  Value output;      ///< the output after any intervention
};

/// Records every module call of a tree while it exists (see the file comment).
class CallRecorder : public CallHook {
 public:
  /// Becomes the hook of every module under `root`; the destructor restores the previous hooks.
  explicit CallRecorder(Module& root);
  ~CallRecorder() override;
  CallRecorder(const CallRecorder&) = delete;
  CallRecorder& operator=(const CallRecorder&) = delete;

  /// Logs the call, running the module through the hook it replaced (if any).
  Value intercept(Module& module, Inputs& inputs, ForwardContext& ctx) override;

  /// The calls in the order they started (a parent before its children).
  const std::vector<ModuleCall>& calls() const { return calls_; }
  /// The calls, moved out (the recorder's log is left empty).
  std::vector<ModuleCall> take_calls() { return std::move(calls_); }

 private:
  struct Installed {
    CallHook* previous = nullptr;
    int64_t calls = 0;
  };
  std::unordered_map<Module*, Installed> installed_;
  std::vector<ModuleCall> calls_;
};

}  // namespace nnsight
