// Interleaver: module hooks that deliver values to an InterventionGraph.

#include "nnsight/interleave/interleaver.h"

#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include "nnsight/base/error.h"
#include "nnsight/runtime/forward_context.h"

namespace nnsight::interleave {
namespace {

enum class Point { Input, Skip, Output };

struct ParsedKey {
  std::string path;
  Point point;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::optional<ParsedKey> parse_key(const std::string& key) {
  static const std::pair<const char*, Point> points[] = {
      {"input", Point::Input}, {"skip", Point::Skip}, {"output", Point::Output}};
  for (const auto& [name, point] : points) {
    const std::string n = name;
    if (key == n) return ParsedKey{"", point};
    if (ends_with(key, "." + n)) return ParsedKey{key.substr(0, key.size() - n.size() - 1), point};
  }
  return std::nullopt;
}

/// Makes the floating-point tensors of `v` that do not require gradients do
/// so; true if any changed. Each becomes a copy of a fresh leaf: in-place
/// edits of a leaf's views are not allowed, of a copy's they are.
bool make_differentiable(Value& v) {
  if (!at::GradMode::is_enabled() || c10::InferenceMode::is_enabled()) return false;
  bool changed = false;
  v = map_tensors(v, [&](const at::Tensor& t) {
    if (!t.defined() || !at::isFloatingType(t.scalar_type()) || t.requires_grad() || t.is_inference()) return t;
    changed = true;
    return t.detach().requires_grad_(true).clone();
  });
  return changed;
}

}  // namespace

// ---- ModuleTreeCaller ----------------------------------------------------------

Value ModuleTreeCaller::call(const std::string& path, Inputs& inputs, bool with_hooks) {
  Module& m = root_.at(path);
  ForwardContext ctx;
  try {
    return with_hooks ? m(std::move(inputs), ctx) : m.call_forward(inputs, ctx);
  } catch (const c10::Error& e) {
    throw Error(std::string("calling module '") + path + "' failed: " + e.what_without_backtrace(),
                "module '" + path + "' (" + m.type_name() + ")");
  }
}

at::Tensor ModuleTreeCaller::parameter(const std::string& path, const std::string& name) {
  return root_.at(path).parameter(name);
}

// ---- Inputs as values ------------------------------------------------------------

Value inputs_to_value(const Inputs& inputs) { return Value::tuple({Value::tuple(inputs.args), Value(inputs.kwargs)}); }

Inputs value_to_inputs(const Value& v, const std::string& where) {
  if (!v.is_sequence() || v.items().size() != 2 || !v.items()[0].is_sequence() ||
      v.items()[1].kind() != Value::Kind::Dict)
    throw Error("an input replacement must be the pair ((args...), {kwargs}), got " + v.repr(), where,
                "use set_input(v) to replace the first argument, or keep the structure of inputs()");
  Inputs out(v.items()[0].items());
  out.kwargs = v.items()[1].as_dict();
  return out;
}

// ---- Interleaver -------------------------------------------------------------------

Interleaver::Interleaver(Module& root, graph::InterventionGraph& trace, std::vector<BatchGroup> groups)
    : root_(root), ig_(trace), groups_(std::move(groups)), caller_(root) {
  for (const BatchGroup& g : groups_) total_ = std::max(total_, g.start + g.size);
  narrowing_ = groups_.size() > 1;
  previous_caller_ = ig_.graph().module_caller();
  ig_.graph().set_module_caller(this);
  try {
    const auto& keys = ig_.keys();
    for (std::size_t k = 0; k < keys.size(); ++k) {
      const int32_t first = ig_.entries(static_cast<int32_t>(k)).front();
      // Built only on failure: this runs for every trace.
      auto where = [&] { return "used by " + ig_.graph().label(first) + " at " + ig_.graph().where(first); };
      auto parsed = parse_key(keys[k]);
      if (!parsed)
        throw Error("'" + keys[k] + "' is not a module value", where(),
                    "entry keys are '<module path>.input', '<module path>.output' or '<module path>.skip'");
      Module* m = nullptr;
      try {
        m = &root_.at(parsed->path);
      } catch (const Error& e) {
        throw Error(e.message(), e.where() + "\n" + where(), e.hint());
      }
      if (m->hook() != nullptr && m->hook() != this)
        throw Error("module '" + parsed->path + "' is already being intervened on by another trace", where(),
                    "run traces of one model one after another, not nested");
      Hooked& h = hooked(*m);
      const auto id = static_cast<int32_t>(k);
      (parsed->point == Point::Input ? h.input : parsed->point == Point::Skip ? h.skip : h.output) = id;
      m->set_hook(this);
    }
  } catch (...) {
    for (Hooked& h : hooked_)
      if (h.module->hook() == this) h.module->set_hook(nullptr);
    ig_.graph().set_module_caller(previous_caller_);
    throw;
  }
}

Interleaver::~Interleaver() {
  for (Hooked& h : hooked_)
    if (h.module->hook() == this) h.module->set_hook(nullptr);
  ig_.graph().set_module_caller(previous_caller_);
}

Interleaver::Hooked& Interleaver::hooked(Module& m) {
  for (Hooked& h : hooked_)
    if (h.module == &m) return h;
  hooked_.push_back(Hooked{&m});
  return hooked_.back();
}

void Interleaver::run(const std::function<void()>& forward) {
  stopped_ = false;
  struct ForgetViews {
    std::vector<NarrowedView>& views;
    ~ForgetViews() { views.clear(); }
  } forget{narrowed_};
  try {
    forward();
  } catch (const graph::StopSignal&) {
    stopped_ = true;
  } catch (const c10::Error& e) {
    throw Error(std::string("the model's forward pass failed: ") + e.what_without_backtrace(),
                "model '" + root_.type_name() + "'");
  }
}

Value Interleaver::narrow(const Value& value, const BatchGroup& group) {
  if (!ig_.needs_grad()) return narrow_batch(value, total_, group);
  return narrow_batch(value, total_, group, [&](const at::Tensor& batch, const at::Tensor& view) {
    using Weak = c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>;
    narrowed_.push_back({Weak(view.getIntrusivePtr()), Weak(batch.getIntrusivePtr()), group.start, group.size});
  });
}

graph::GradTarget Interleaver::grad_target(const at::Tensor& t) {
  for (const NarrowedView& n : narrowed_) {
    auto view = n.view.lock();
    if (view.get() != t.unsafeGetTensorImpl()) continue;
    auto base = n.base.lock();
    if (base) return graph::GradTarget{at::Tensor(std::move(base)), n.start, n.length};
  }
  return graph::GradTarget{t};
}

std::optional<BatchGroup> Interleaver::group_of(int32_t entry) const {
  if (!narrowing_) return std::nullopt;
  const int32_t g = ig_.batch_group(entry);
  if (g < 0 || static_cast<std::size_t>(g) >= groups_.size()) return std::nullopt;
  return groups_[static_cast<std::size_t>(g)];
}

bool Interleaver::deliver(int32_t key_id, Value& value) {
  bool changed = false;
  std::vector<int32_t> fired;
  auto apply_swap = [&](int32_t e, Value swap) {
    auto g = group_of(e);
    value = g ? splice_batch(value, total_, *g, swap, "swap of " + ig_.key(e) + " (" + ig_.graph().where(e) + ")")
              : std::move(swap);
    changed = true;
  };
  // Gradients flow only through values that require them: from the first hooked value on.
  if (ig_.needs_grad() && make_differentiable(value)) changed = true;
  for (int32_t e : ig_.entries(key_id)) {
    if (!ig_.count(e).ready) continue;
    auto g = group_of(e);
    fired.push_back(e);
    if (auto swap = ig_.fire(e, g ? narrow(value, *g) : value)) apply_swap(e, std::move(*swap));
  }
  // Swaps recorded for an entry by nodes that ran after its own fire (a later entry of this key).
  for (int32_t e : fired)
    if (auto swap = ig_.take_swap(e)) apply_swap(e, std::move(*swap));
  return changed;
}

std::optional<Value> Interleaver::deliver_skip(int32_t key_id, const Value& pair,
                                               std::vector<std::pair<BatchGroup, Value>>& partial) {
  std::optional<Value> whole;
  std::vector<std::optional<Value>> per_group(groups_.size());
  for (int32_t e : ig_.entries(key_id)) {
    if (!ig_.count(e).ready) continue;
    auto g = group_of(e);
    auto swap = ig_.fire(e, g ? narrow_batch(pair, total_, *g) : pair);
    if (!swap) swap = ig_.take_swap(e);
    if (!swap) continue;
    if (g) {
      per_group[static_cast<std::size_t>(ig_.batch_group(e))] = std::move(*swap);
    } else {
      whole = std::move(*swap);
    }
  }
  if (whole) return whole;
  bool all = narrowing_;
  bool any = false;
  for (const auto& v : per_group) {
    all = all && v.has_value();
    any = any || v.has_value();
  }
  if (!any) return std::nullopt;
  if (all) {
    std::vector<Value> parts;
    for (auto& v : per_group) parts.push_back(std::move(*v));
    return concat_batch(parts, "skip of " + ig_.keys()[static_cast<std::size_t>(key_id)]);
  }
  for (std::size_t i = 0; i < per_group.size(); ++i)
    if (per_group[i]) partial.emplace_back(groups_[i], std::move(*per_group[i]));
  return std::nullopt;
}

Value Interleaver::call_module(const std::string& path, Inputs& inputs) {
  struct Suspend {
    int& depth;
    explicit Suspend(int& d) : depth(d) { ++depth; }
    ~Suspend() { --depth; }
  } suspend(suspended_);
  return caller_.call_module(path, inputs);
}

Value Interleaver::call_module_with_hooks(const std::string& path, Inputs& inputs) {
  return caller_.call_module_with_hooks(path, inputs);
}

at::Tensor Interleaver::parameter(const std::string& path, const std::string& name) {
  return caller_.parameter(path, name);
}

Value Interleaver::intercept(Module& module, Inputs& inputs, ForwardContext& ctx) {
  if (suspended_ > 0) return module.call_forward(inputs, ctx);
  Hooked& h = hooked(module);
  auto where = [&] { return module.path().empty() ? std::string("the model root") : "module '" + module.path() + "'"; };
  Value pair;
  if (h.input >= 0 || h.skip >= 0) pair = inputs_to_value(inputs);
  if (h.input >= 0 && deliver(h.input, pair)) {
    inputs = value_to_inputs(pair, where());
    pair = inputs_to_value(inputs);
  }
  std::vector<std::pair<BatchGroup, Value>> partial;
  std::optional<Value> skipped;
  if (h.skip >= 0) skipped = deliver_skip(h.skip, pair, partial);
  Value out;
  if (skipped) {
    out = std::move(*skipped);
  } else {
    out = module.call_forward(inputs, ctx);
    for (auto& [group, v] : partial) out = splice_batch(out, total_, group, v, "skip of " + where());
  }
  if (h.output >= 0) deliver(h.output, out);
  return out;
}

}  // namespace nnsight::interleave
