#pragma once
/// @file
/// What model.scan(...) leaves behind: every module call's shapes and dtypes,
/// computed without running the model (base/meta.h).
///
/// ```
///   Scanned s = model.scan("Once upon a time", [&] { h = model["model.layers.0"].output()[0].save(); });
///   s.output("model.layers.0.mlp").as_tensor().sizes();   // [1, 5, 64]
///   h.tensor().sizes();                                  // saved values are meta tensors
///   std::puts(s.table().c_str());                        // one line per module call
/// ```

#include <cstdint>
#include <string>
#include <vector>

#include "nnsight/runtime/call_recorder.h"

namespace nnsight {

/// The result of Model::scan: every module call of one forward pass on meta tensors.
struct Scanned {
  /// Every module call of the scanned forward pass, in the order calls started
  /// (a parent before its children): inputs as the caller passed them, the
  /// output as the rest of the model saw it (after interventions). Tensors are meta.
  std::vector<ModuleCall> calls;

  /// The output of `path`'s call number `call` (0 = first); throws Error naming
  /// the modules that were called when there is no such call.
  const Value& output(const std::string& path, int64_t call = 0) const;
  /// The ((args...), {kwargs}) of that call.
  const Value& inputs(const std::string& path, int64_t call = 0) const;
  /// One line per call: path (with "#k" for a later call), the output's shapes and dtype.
  std::string table() const;

 private:
  const ModuleCall& find(const std::string& path, int64_t call) const;
};

/// "[1, 5, 64] float" for a tensor, "([1, 5, 64] float, None)" for a tuple, ...
std::string describe_shapes(const Value& v);

}  // namespace nnsight
