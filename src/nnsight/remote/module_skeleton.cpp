#include "nnsight/remote/module_skeleton.h"

#include <ATen/ops/empty.h>

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "nnsight/base/error.h"

namespace nnsight::remote {
namespace {

using json = nlohmann::json;

class SkeletonModule : public Module {
 public:
  explicit SkeletonModule(std::string type_name) : Module(std::move(type_name)) {}
  void add(const std::string& name, at::Tensor t) { add_parameter(name, std::move(t)); }

 protected:
  Value forward(Inputs&, ForwardContext&) override {
    throw Error("module '" + path() + "' (" + type_name() + ") of a remote model cannot run here",
                "module '" + path() + "'", "module calls of a remote model run on the server: use them inside a trace");
  }
};

[[noreturn]] void malformed(const std::string& what) {
  throw Error("the server's model description is malformed: " + what, "GET /v1/models",
              "check that the server is an nnsight serve of the same version");
}

at::ScalarType dtype_of(const json& description) {
  const json* config = description.contains("config") ? &description["config"] : nullptr;
  if (config == nullptr || !config->is_object() || !config->contains("dtype")) return at::kFloat;
  const json& d = (*config)["dtype"];
  if (d == "float32") return at::kFloat;
  if (d == "bfloat16") return at::kBFloat16;
  malformed("unknown dtype " + d.dump());
}

}  // namespace

std::unique_ptr<Module> build_skeleton(const json& description) {
  if (!description.is_object() || !description.contains("modules") || !description["modules"].is_array())
    malformed("no 'modules' list");
  const at::ScalarType dtype = dtype_of(description);
  const auto meta = at::TensorOptions().dtype(dtype).device(at::kMeta);
  std::string root_type = description.value("architecture", std::string("RemoteModel"));
  auto root = std::make_unique<SkeletonModule>(root_type);
  for (const json& m : description["modules"]) {
    if (!m.is_object() || !m.contains("path") || !m["path"].is_string()) malformed("a module without a 'path'");
    const std::string path = m["path"];
    const std::string type = m.value("type", std::string("Module"));
    SkeletonModule* node = root.get();
    if (!path.empty()) {
      // Parents come before children in the server's list; create missing ones anyway.
      std::size_t start = 0;
      while (start <= path.size()) {
        const std::size_t dot = path.find('.', start);
        const std::string name = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (name.empty()) malformed("module path '" + path + "'");
        Module* child = node->child(name);
        if (child == nullptr) {
          const bool last = dot == std::string::npos;
          child = &node->attach(name, std::make_unique<SkeletonModule>(last ? type : std::string("Module")));
        }
        node = static_cast<SkeletonModule*>(child);
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
    }
    if (!m.contains("parameters")) continue;
    if (!m["parameters"].is_object()) malformed("'parameters' of '" + path + "'");
    for (const auto& [name, shape] : m["parameters"].items()) {
      if (!shape.is_array()) malformed("the shape of '" + path + "." + name + "'");
      std::vector<int64_t> sizes;
      for (const json& s : shape) {
        if (!s.is_number_integer() || s.get<int64_t>() < 0) malformed("the shape of '" + path + "." + name + "'");
        sizes.push_back(s.get<int64_t>());
      }
      node->add(name, at::empty(sizes, meta));
    }
  }
  return root;
}

}  // namespace nnsight::remote
