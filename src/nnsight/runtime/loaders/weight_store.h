#pragma once
/// @file
/// WeightStore: named tensors read from model files, keyed by Hugging Face
/// parameter names, remembering which file each came from so that every
/// shape/dtype complaint can name the file and the tensor.
///
/// Tensors may point into memory-mapped files (no copy); the mapping stays
/// alive as long as any tensor referencing it does.

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

namespace nnsight {

/// Tensors by Hugging Face name, each remembering its file (see the file comment).
class WeightStore {
 public:
  /// Adds a tensor; `file` is where it was read from (for messages).
  void add(const std::string& name, at::Tensor tensor, const std::string& file);

  /// True if `name` is present (added and not yet taken).
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }

  /// Removes and returns `name`, checking its shape. Throws nnsight::Error
  /// naming the file and tensor when missing or of another shape.
  at::Tensor take(const std::string& name, const std::vector<int64_t>& expected_shape);

  /// Like take, but returns an undefined tensor when absent.
  at::Tensor take_optional(const std::string& name, const std::vector<int64_t>& expected_shape);

  /// The tensor `name` without taking it (undefined when absent or taken).
  at::Tensor peek(const std::string& name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? at::Tensor() : it->second;
  }

  /// Names not yet taken, sorted.
  std::vector<std::string> remaining() const;

  /// The file a (possibly already taken) tensor came from, or "".
  std::string file_of(const std::string& name) const;

  /// A description for messages: "file X" or "files X, Y".
  std::string describe_source() const;

  std::size_t size() const { return tensors_.size(); }  ///< tensors not yet taken

 private:
  std::map<std::string, at::Tensor> tensors_;
  std::map<std::string, std::string> files_;
};

}  // namespace nnsight
