#include "nnsight/runtime/module.h"

#include "nnsight/base/error.h"

namespace nnsight {

const Value& Inputs::first() const {
  if (args.empty())
    throw Error("the module was called without positional inputs, so it has no `.input`", "",
                "use `.inputs()` to see the keyword arguments");
  return args.front();
}

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}
Module::~Module() = default;

Module* Module::child(const std::string& name) const {
  for (const auto& [n, m] : child_order_)
    if (n == name) return m;
  return nullptr;
}

Module& Module::at(const std::string& relative_path) {
  Module* current = this;
  std::size_t start = 0;
  while (start < relative_path.size()) {
    std::size_t end = relative_path.find('.', start);
    if (end == std::string::npos) end = relative_path.size();
    const std::string part = relative_path.substr(start, end - start);
    Module* next = current->child(part);
    if (next == nullptr) {
      std::string names;
      for (const auto& [n, m] : current->children()) names += (names.empty() ? "" : ", ") + n;
      const std::string here = current->path().empty() ? "the model root" : "'" + current->path() + "'";
      throw Error("no module named '" + part + "' in " + here,
                  "module path '" + (path_.empty() ? relative_path : path_ + "." + relative_path) + "'",
                  names.empty() ? here + " has no children" : "children of " + here + ": " + names);
    }
    current = next;
    start = end + 1;
  }
  return *current;
}

std::vector<Module*> Module::modules() {
  std::vector<Module*> out{this};
  for (const auto& [n, m] : child_order_) {
    auto sub = m->modules();
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

const at::Tensor& Module::parameter(const std::string& name) const {
  for (const auto& [n, t] : params_)
    if (n == name) return t;
  std::string names;
  for (const auto& [n, t] : params_) names += (names.empty() ? "" : ", ") + n;
  throw Error("module '" + path_ + "' (" + type_name_ + ") has no parameter '" + name + "'", "",
              names.empty() ? "it has no parameters of its own" : "its parameters: " + names);
}

void Module::set_parameter(const std::string& name, at::Tensor value) {
  for (auto& [n, t] : params_)
    if (n == name) {
      t = std::move(value);
      return;
    }
  parameter(name);  // throws the descriptive error
}

std::vector<std::pair<std::string, at::Tensor>> Module::named_parameters() {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (Module* m : modules())
    for (const auto& [n, t] : m->params_) out.emplace_back(m->path_.empty() ? n : m->path_ + "." + n, t);
  return out;
}

void Module::add_parameter(const std::string& name, at::Tensor value) { params_.emplace_back(name, std::move(value)); }

void Module::adopt(const std::string& name, std::unique_ptr<Module> module) {
  module->name_ = name;
  module->set_path(path_);
  child_order_.emplace_back(name, module.get());
  owned_.push_back(std::move(module));
}

Module& Module::attach(const std::string& name, std::unique_ptr<Module> module) {
  if (module == nullptr) throw Error("cannot attach a null module as '" + name + "'", "module '" + path_ + "'");
  if (name.empty() || name.find('.') != std::string::npos)
    throw Error("'" + name + "' is not a module name", "module '" + path_ + "'", "use a non-empty name without dots");
  if (child(name) != nullptr)
    throw Error("module '" + path_ + "' already has a child '" + name + "'", "module '" + path_ + "'",
                "choose another name");
  Module& ref = *module;
  adopt(name, std::move(module));
  return ref;
}

void Module::set_path(const std::string& parent_path) {
  path_ = parent_path.empty() ? name_ : parent_path + "." + name_;
  for (auto& [n, m] : child_order_) m->set_path(path_);
}

Value ModuleList::forward(Inputs&, ForwardContext&) {
  throw Error("'" + path() + "' is a ModuleList and cannot be called", "",
              "call one of its elements, e.g. '" + path() + ".0'");
}

}  // namespace nnsight
