#include "nnsight/runtime/call_recorder.h"

namespace nnsight {
namespace {

Value inputs_pair(const Inputs& inputs) { return Value::tuple({Value::tuple(inputs.args), Value(inputs.kwargs)}); }

}  // namespace

CallRecorder::CallRecorder(Module& root) {
  for (Module* m : root.modules()) {
    installed_[m].previous = m->hook();
    m->set_hook(this);
  }
}

CallRecorder::~CallRecorder() {
  for (auto& [module, installed] : installed_)
    if (module->hook() == this) module->set_hook(installed.previous);
}

Value CallRecorder::intercept(Module& module, Inputs& inputs, ForwardContext& ctx) {
  auto it = installed_.find(&module);
  // A module attached after the recorder was installed cannot carry its hook; be safe anyway.
  if (it == installed_.end()) return module.call_forward(inputs, ctx);
  const std::size_t slot = calls_.size();
  calls_.push_back(ModuleCall{module.path(), it->second.calls++, inputs_pair(inputs), Value()});
  Value out = it->second.previous != nullptr ? it->second.previous->intercept(module, inputs, ctx)
                                             : module.call_forward(inputs, ctx);
  calls_[slot].output = out;
  return out;
}

}  // namespace nnsight
