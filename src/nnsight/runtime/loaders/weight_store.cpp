#include "nnsight/runtime/loaders/weight_store.h"

#include <set>

#include "nnsight/base/error.h"
#include "nnsight/base/value.h"

namespace nnsight {
void WeightStore::add(const std::string& name, at::Tensor tensor, const std::string& file) {
  tensors_[name] = std::move(tensor);
  files_[name] = file;
}

at::Tensor WeightStore::take(const std::string& name, const std::vector<int64_t>& expected_shape) {
  at::Tensor t = take_optional(name, expected_shape);
  if (!t.defined())
    throw Error("tensor '" + name + "' is missing from the checkpoint", describe_source(),
                "the file does not match its config (architecture or layer count), or is incomplete");
  return t;
}

at::Tensor WeightStore::take_optional(const std::string& name, const std::vector<int64_t>& expected_shape) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return {};
  at::Tensor t = std::move(it->second);
  tensors_.erase(it);
  if (t.sizes() != at::IntArrayRef(expected_shape))
    throw Error("tensor '" + name + "' has shape " + format_shape(t.sizes()) + " but the config implies " +
                    format_shape(expected_shape),
                "file " + file_of(name) + ", tensor " + name, "check that config.json belongs to these weights");
  return t;
}

std::vector<std::string> WeightStore::remaining() const {
  std::vector<std::string> out;
  for (const auto& [n, t] : tensors_) out.push_back(n);
  return out;
}

std::string WeightStore::file_of(const std::string& name) const {
  auto it = files_.find(name);
  return it == files_.end() ? std::string() : it->second;
}

std::string WeightStore::describe_source() const {
  std::set<std::string> files;
  for (const auto& [n, f] : files_) files.insert(f);
  std::string out = files.size() == 1 ? "file " : "files ";
  bool first = true;
  for (const auto& f : files) {
    out += (first ? "" : ", ") + f;
    first = false;
  }
  return files.empty() ? "no weight file" : out;
}

}  // namespace nnsight
