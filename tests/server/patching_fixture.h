#pragma once
// Activation patching on stories260K (the example of docs/graph-format.md) as
// a graph JSON and as the same trace through the C++ API, shared by the
// server tests and the `nnsight run` tests.

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <memory>
#include <string>

#include "nnsight/api/nnsight.h"
#include "support/stories.h"
#include "support/test_support.h"

namespace nnsight::test {

inline constexpr const char* kCleanPrompt = "Lily went to the park";
inline constexpr const char* kCorruptPrompt = "Once upon a time";

/// The graph: invoke 0 saves layer 2's last-position hidden state (save node
/// 5); invoke 1 patches it in, saves the logits (node 11) and a logit lens of
/// the patched hidden state (node 15). Node 2 carries a client location.
inline std::string patching_graph() {
  return std::string(R"({"format": "nnsight-graph", "version": 1, "nodes": [
  {"id": 0, "kind": "trace", "inputs": [], "invokes": [")") +
         kCleanPrompt + R"(", ")" + kCorruptPrompt + R"("], "strict_order": true, "end": 16},
  {"id": 1, "kind": "entry", "key": "model.layers.2.output", "iteration": 0, "batch_group": 0},
  {"id": 2, "kind": "op", "op": "getitem", "args": [{"ref": 1}, 0], "loc": {"file": "patch.py", "line": 7}},
  {"id": 3, "kind": "op", "op": "getitem", "args": [{"ref": 2}, {"tuple": [{"slice": [null, null, null]}, -1]}]},
  {"id": 4, "kind": "op", "op": "clone", "args": [{"ref": 3}]},
  {"id": 5, "kind": "save", "target": 4},
  {"id": 6, "kind": "entry", "key": "model.layers.2.output", "iteration": 0, "batch_group": 1},
  {"id": 7, "kind": "op", "op": "getitem", "args": [{"ref": 6}, 0]},
  {"id": 8, "kind": "op", "op": "getitem", "args": [{"ref": 2}, {"tuple": [{"slice": [null, null, null]}, -1]}]},
  {"id": 9, "kind": "op", "op": "setitem", "args": [{"ref": 7}, {"tuple": [{"slice": [null, null, null]}, -1]}, {"ref": 8}]},
  {"id": 10, "kind": "entry", "key": "lm_head.output", "iteration": 0, "batch_group": 1},
  {"id": 11, "kind": "save", "target": 10},
  {"id": 12, "kind": "module_call", "module": "model.norm", "args": [{"ref": 7}]},
  {"id": 13, "kind": "module_call", "module": "lm_head", "args": [{"ref": 12}]},
  {"id": 14, "kind": "op", "op": "softmax", "args": [{"ref": 13}, -1]},
  {"id": 15, "kind": "save", "target": 14}
]})";
}

/// What the C++ API gives for the same trace.
struct PatchingReference {
  at::Tensor clean;   ///< save node 5
  at::Tensor logits;  ///< save node 11
  at::Tensor lens;    ///< save node 15
};

inline PatchingReference patching_reference(LanguageModel& model) {
  Saved clean_saved, logits, lens;
  model.trace([&](Tracer& tracer) {
    Proxy clean;
    tracer.invoke(kCleanPrompt, [&] {
      clean = model["model.layers.2"].output()[0];
      clean_saved = clean[{Slice(), -1}].clone().save();
    });
    tracer.invoke(kCorruptPrompt, [&] {
      Proxy h = model["model.layers.2"].output()[0];
      h.set({Slice(), -1}, clean[{Slice(), -1}]);
      logits = model["lm_head"].output().save();
      lens = model["lm_head"](model["model.norm"](h)).softmax(-1).save();
    });
  });
  return {clean_saved.tensor(), logits.tensor(), lens.tensor()};
}

}  // namespace nnsight::test
