// One recorded forward pass: every module's input and output events in order.

#include "module_order.h"

#include "nnsight/runtime/generation/generate.h"

namespace nnsight::cli {
namespace {

class OrderHook : public CallHook {
 public:
  explicit OrderHook(std::map<std::string, int64_t>& order) : order_(order) {}
  Value intercept(Module& module, Inputs& inputs, ForwardContext& ctx) override {
    note(module.path(), "input");
    Value out = module.call_forward(inputs, ctx);
    note(module.path(), "output");
    return out;
  }

 private:
  void note(const std::string& path, const char* point) {
    order_.emplace(path.empty() ? std::string(point) : path + "." + point, static_cast<int64_t>(order_.size()));
  }
  std::map<std::string, int64_t>& order_;
};

}  // namespace

std::map<std::string, int64_t> module_value_order(LanguageModel& model, int64_t token) {
  std::map<std::string, int64_t> order;
  OrderHook hook(order);
  std::vector<Module*> modules = model.module().modules();
  for (Module* m : modules)
    if (m->hook() != nullptr) return order;  // something else observes the model: leave it alone
  struct Restore {
    std::vector<Module*>& modules;
    ~Restore() {
      for (Module* m : modules) m->set_hook(nullptr);
    }
  } restore{modules};
  for (Module* m : modules) m->set_hook(&hook);
  GenerateOptions options;
  options.max_new_tokens = 1;
  nnsight::generate(model.causal_lm(), {{token}}, options);
  return order;
}

}  // namespace nnsight::cli
