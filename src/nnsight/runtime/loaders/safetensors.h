#pragma once
/// @file
/// Safetensors (Hugging Face) reading and writing.
///
/// Reading memory-maps the file: tensors are views into the mapping (no copy)
/// that keep it alive. Every structural problem (short file, bad header JSON,
/// offsets out of range or inconsistent with shape x dtype, unknown dtype) is
/// an nnsight::Error naming the file and, where relevant, the tensor.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nnsight/runtime/loaders/mapped_file.h"

namespace nnsight {

/// One tensor's header entry, validated. Offsets are absolute file offsets.
struct SafetensorsEntry {
  std::string name;                   ///< the tensor's name
  std::string dtype_name;             ///< as written in the file: "F32", "BF16", ...
  at::ScalarType dtype = at::kFloat;  ///< the matching LibTorch dtype
  std::vector<int64_t> shape;         ///< the tensor's shape
  std::size_t begin = 0;              ///< first byte of its data
  std::size_t end = 0;                ///< one past its last byte
};

/// A memory-mapped .safetensors file with its validated header.
class SafetensorsFile {
 public:
  /// Maps and validates `path`. Throws nnsight::Error on any problem.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return file_->path(); }  ///< the path it was opened with

  /// Tensor names in the order of their data in the file.
  std::vector<std::string> names() const;
  /// True if the file has a tensor called `name`.
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }

  /// The header entry of `name`; throws nnsight::Error naming the file when absent.
  const SafetensorsEntry& entry(const std::string& name) const;

  /// The tensor `name` in the file's dtype: a view into the mapping (a copy
  /// only when its data is misaligned for the dtype).
  at::Tensor tensor(const std::string& name) const;

  /// The "__metadata__" string map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  /// The mapping tensor views keep alive.
  const std::shared_ptr<const MappedFile>& mapping() const { return file_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

/// Writes `tensors` (any device/layout; written as contiguous CPU data, in the
/// given order) and `metadata` to `path` in the safetensors format, readable
/// by the Python safetensors/torch/numpy tools. Writes to a temporary file
/// first and renames it. Throws nnsight::Error on unsupported dtypes,
/// duplicate names or I/O failure.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

/// For a sharded checkpoint's `model.safetensors.index.json`: the map from
/// tensor name to shard file path (resolved against the index's directory).
/// Throws nnsight::Error naming the index when it is malformed or a shard is missing.
std::map<std::string, std::string> read_safetensors_index(const std::string& index_path);

/// The safetensors dtype name of `dtype` ("F32", ...) or nullptr if it has none.
const char* safetensors_dtype_name(at::ScalarType dtype);

}  // namespace nnsight
