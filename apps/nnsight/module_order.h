#pragma once
// The order in which a language model computes its module values, found by
// running it once on one token with a recording hook on every module. The
// trace command records interventions in this order, since the tracing API
// requires module values to be accessed in the order the model computes them.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nnsight/api/language_model.h"

namespace nnsight::cli {

/// Position of each module value key ("model.layers.0.input",
/// "model.layers.0.output", ...) in one forward pass, first call of each
/// module. Modules never called (containers such as ModuleLists) are absent.
/// `token` is the one input token of the pass.
std::map<std::string, int64_t> module_value_order(LanguageModel& model, int64_t token);

}  // namespace nnsight::cli
