#pragma once
/// @file
/// nnsight-cpp's tracing API in one include: Model / LanguageModel, Envoy
/// (module handles), Tracer and Session, proxies and saved values.
///
/// ```
///   auto model = nnsight::LanguageModel::load("models/stories260K-hf", {.tokenizer_path = "tok512.bin"});
///   nnsight::Saved hidden, logits;
///   model.trace("Once upon a time", [&] {
///     hidden = model["model.layers"][2].output()[0].save();       // element 0 of the layer's tuple
///     model["model.layers.3.mlp"].output().set({nnsight::Slice()}, 0.0);  // output[:] = 0
///     logits = model["lm_head"].output().save();
///   });
///   at::Tensor h = hidden.tensor();                                // after the run
/// ```
///
/// ```
///   model.trace([&](nnsight::Tracer& tracer) {                     // invokes: one batched forward
///     nnsight::Proxy clean;
///     tracer.invoke("Once upon a time", [&] { clean = model["model.layers"][2].output()[0]; });
///     tracer.invoke("Lily went to the park", [&] {
///       model["model.layers"][2].output()[0].index_put_({nnsight::Slice(), -1}, clean[{nnsight::Slice(), -1}]);
///     });
///   });
/// ```
///
/// Module values must be read in the order the model computes them within an
/// invoke (tracer.strict_order(false) restores NNsight 0.4's silent behaviour).

#include "nnsight/api/envoy.h"
#include "nnsight/api/language_model.h"
#include "nnsight/api/model.h"
#include "nnsight/api/tracer.h"
#include "nnsight/graph/proxy.h"

namespace nnsight {
using graph::Arg;
using graph::IterationSpec;
using graph::list_of;
using graph::NewAxis;
using graph::Proxy;
using graph::Saved;
using graph::tuple_of;
}  // namespace nnsight
