#pragma once
/// @file
/// Module: a node of a model's module tree, and the single dispatch point that
/// every module call goes through.
///
/// Paths are exactly the Hugging Face names ("transformer.h.0.attn.c_attn",
/// "model.layers.0.self_attn.q_proj", "lm_head"); the root's path is "".
/// Module::operator() is the dispatch point: with no hook installed it calls
/// forward() directly (one pointer test); with a CallHook installed the hook
/// sees the call's inputs and output and may replace either or skip the call.
/// The interleaver (graph layer and above) installs hooks only on the modules
/// an intervention graph names.

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nnsight/base/value.h"

namespace nnsight {

struct ForwardContext;
class Module;

/// A module call's inputs, as in PyTorch: positional args and keyword args.
struct Inputs {
  std::vector<Value> args;  ///< positional arguments
  Dict kwargs;              ///< keyword arguments, in order

  Inputs() = default;                                            ///< no arguments
  explicit Inputs(std::vector<Value> a) : args(std::move(a)) {}  ///< positional arguments only
  /// The first positional argument (NNsight's `.input`).
  const Value& first() const;
};

/// Observes or rewrites calls of the modules it is installed on.
class CallHook {
 public:
  virtual ~CallHook() = default;
  /// Called in place of the module's forward. Implementations call
  /// module.call_forward(inputs, ctx) to run the module (or not, to skip it)
  /// and return the output the caller should see.
  virtual Value intercept(Module& module, Inputs& inputs, ForwardContext& ctx) = 0;
};

/// A node of a model's module tree with its parameters; calls go through operator() (see the file comment).
class Module {
 public:
  /// A module shown as `type_name` (see type_name()); its name and path are set when a parent adopts it.
  explicit Module(std::string type_name);
  virtual ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// The dispatch point: runs forward, or the installed hook.
  Value operator()(Inputs inputs, ForwardContext& ctx) {
    if (hook_ == nullptr) [[likely]]
      return forward(inputs, ctx);
    return hook_->intercept(*this, inputs, ctx);
  }
  /// Convenience for single-tensor calls (e.g. a Linear, a norm).
  Value operator()(const at::Tensor& x, ForwardContext& ctx) { return (*this)(Inputs({Value(x)}), ctx); }

  /// Runs this module's own computation, bypassing any hook.
  Value call_forward(Inputs& inputs, ForwardContext& ctx) { return forward(inputs, ctx); }

  const std::string& path() const { return path_; }  ///< full dotted path from the root ("" for the root)
  const std::string& name() const { return name_; }  ///< the last part of the path ("" for the root)
  /// The Hugging Face class name, e.g. "GPT2Block", "LlamaRMSNorm", "Linear".
  const std::string& type_name() const { return type_name_; }

  /// Direct children (name, module) in the order they were added.
  const std::vector<std::pair<std::string, Module*>>& children() const { return child_order_; }
  /// Direct child by name, or nullptr.
  Module* child(const std::string& name) const;
  /// Descendant by relative dotted path ("h.0.attn"); "" is this module.
  /// Throws nnsight::Error naming the longest valid prefix and the children there.
  Module& at(const std::string& relative_path);
  /// Every module in the subtree, this one first, depth first.
  std::vector<Module*> modules();

  /// Parameters registered directly on this module, in registration order.
  const std::vector<std::pair<std::string, at::Tensor>>& parameters() const { return params_; }
  /// The parameter `name` of this module; throws nnsight::Error if absent.
  const at::Tensor& parameter(const std::string& name) const;
  /// Replaces a parameter's tensor (same name must exist).
  void set_parameter(const std::string& name, at::Tensor value);
  /// All parameters of the subtree with full dotted names.
  std::vector<std::pair<std::string, at::Tensor>> named_parameters();

  /// Adds a child after construction (NNsight: assigning a module attribute),
  /// e.g. an attachment an edit calls; returns it. Throws Error if the name is taken.
  Module& attach(const std::string& name, std::unique_ptr<Module> module);

  /// The hook calls go through (nullptr: none); not owned.
  ///@{
  void set_hook(CallHook* hook) { hook_ = hook; }
  CallHook* hook() const { return hook_; }
  ///@}

 protected:
  /// The module's computation (PyTorch's forward); called through operator().
  virtual Value forward(Inputs& inputs, ForwardContext& ctx) = 0;

  /// Adds a child called `name` (for builders, at construction); returns it.
  template <class M>
  M& add_module(const std::string& name, std::unique_ptr<M> module) {
    M& ref = *module;
    adopt(name, std::move(module));
    return ref;
  }
  /// Registers a parameter of this module (for builders, at construction).
  void add_parameter(const std::string& name, at::Tensor value);

 private:
  void adopt(const std::string& name, std::unique_ptr<Module> module);
  void set_path(const std::string& parent_path);

  std::string type_name_;
  std::string name_;
  std::string path_;
  CallHook* hook_ = nullptr;
  std::vector<std::unique_ptr<Module>> owned_;
  std::vector<std::pair<std::string, Module*>> child_order_;
  std::vector<std::pair<std::string, at::Tensor>> params_;
};

/// A module that only groups children (Hugging Face ModuleList, and model
/// containers such as "transformer"); calling it is an error.
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}  ///< an empty list
  /// Adds `module` as the next child, named by its position ("0", "1", ...); returns it.
  template <class M>
  M& append(std::unique_ptr<M> module) {
    return add_module(std::to_string(children().size()), std::move(module));
  }
  /// Child number i (throws std::out_of_range past the end).
  Module& operator[](std::size_t i) const { return *children().at(i).second; }
  std::size_t size() const { return children().size(); }  ///< number of children

 protected:
  /// Throws nnsight::Error: a container cannot be called.
  Value forward(Inputs& inputs, ForwardContext& ctx) override;
};

}  // namespace nnsight
