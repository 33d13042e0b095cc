#include "nnsight/runtime/meta_parameters.h"

#include "nnsight/base/meta.h"

namespace nnsight {

void to_meta(Inputs& inputs) {
  for (Value& a : inputs.args) a = to_meta(a);
  for (Value& v : inputs.kwargs.values) v = to_meta(v);
}

MetaParameters::MetaParameters(Module& root) {
  try {
    for (Module* m : root.modules())
      for (const auto& [name, tensor] : m->parameters()) swapped_.push_back({m, name, tensor});
    for (Swapped& s : swapped_) s.module->set_parameter(s.name, to_meta(s.real));
  } catch (...) {
    restore();
    throw;
  }
}

MetaParameters::~MetaParameters() { restore(); }

void MetaParameters::restore() noexcept {
  // set_parameter only throws for unknown names, and these names were read from the modules.
  for (Swapped& s : swapped_) s.module->set_parameter(s.name, s.real);
  swapped_.clear();
}

}  // namespace nnsight
