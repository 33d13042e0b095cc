#pragma once
/// @file
/// GGUF (llama.cpp's model format, versions 2 and 3): a memory-mapped reader
/// exposing the metadata key/values (for configs and tokenizers) and the
/// tensors, plus the conversion of a GGUF model to ModelFiles with Hugging
/// Face parameter names.
///
/// ggml lists dimensions innermost first (ne[0] is the row length), so a ggml
/// tensor with ne = [in, out] is returned as a PyTorch [out, in] tensor.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nnsight/runtime/loaders/mapped_file.h"
#include "nnsight/runtime/loaders/model_files.h"

namespace nnsight {

/// GGUF metadata value types (numbering of the format).
enum class GgufValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

/// The type's name for messages ("uint32", "string", ...).
const char* to_string(GgufValueType type);

/// One metadata value. Scalars use `i` (integers and bools), `f` or `s`;
/// arrays use `ints`, `floats` or `strings` by element type (arrays of arrays
/// are skipped: only their length is kept in `array_size`).
struct GgufValue {
  GgufValueType type = GgufValueType::UInt8;        ///< the value's type
  GgufValueType array_type = GgufValueType::UInt8;  ///< element type when type == Array
  int64_t i = 0;                                    ///< integer and bool scalars
  double f = 0;                                     ///< float scalars
  std::string s;                                    ///< string scalars
  std::vector<int64_t> ints;                        ///< arrays of integers or bools
  std::vector<double> floats;                       ///< arrays of floats
  std::vector<std::string> strings;                 ///< arrays of strings
  uint64_t array_size = 0;                          ///< number of elements when type == Array
};

/// One tensor of the file's tensor table.
struct GgufTensorInfo {
  std::string name;         ///< GGUF name ("blk.0.attn_q.weight")
  std::vector<int64_t> ne;  ///< ggml order: ne[0] innermost
  uint32_t type = 0;        ///< ggml type id
  std::size_t offset = 0;   ///< absolute offset in the file
  std::size_t nbytes = 0;   ///< 0 when the type's block size is unknown
  /// PyTorch-order shape (ne reversed).
  std::vector<int64_t> shape() const { return {ne.rbegin(), ne.rend()}; }
};

/// Name of a ggml tensor type id ("F32", "Q4_K", ...; "type N" if unknown).
std::string ggml_type_name(uint32_t type);

/// A memory-mapped GGUF file: its metadata and tensor table, and tensors read from it.
class GgufFile {
 public:
  /// Maps and parses `path`. Throws nnsight::Error naming the file on a bad
  /// magic, an unsupported version, truncation or inconsistent tensor data.
  /// Tensors of unsupported types are reported only when read.
  static std::shared_ptr<const GgufFile> open(const std::string& path);

  const std::string& path() const { return file_->path(); }  ///< the path it was opened with
  uint32_t version() const { return version_; }              ///< GGUF format version (2 or 3)
  std::size_t alignment() const { return alignment_; }       ///< tensor data alignment (general.alignment)

  /// True if metadata key `key` is present.
  bool has(const std::string& key) const { return kv_.count(key) != 0; }
  /// The raw value; throws nnsight::Error naming the file and key when absent.
  const GgufValue& value(const std::string& key) const;
  /// Every metadata key, sorted.
  std::vector<std::string> keys() const;

  /// Typed accessors. Each throws nnsight::Error naming the file and key when
  /// the key is missing or has an incompatible type. Integers of any width
  /// convert to each other; get_float also accepts integers.
  ///@{
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<double> get_float_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;
  ///@}
  /// The same with a default for a missing key (a wrong type still throws).
  ///@{
  std::string get_string(const std::string& key, const std::string& def) const;
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_float(const std::string& key, double def) const;
  ///@}

  /// The tensor table, in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  /// True if the file has a tensor called `name`.
  bool has_tensor(const std::string& name) const { return index_.count(name) != 0; }
  /// Throws nnsight::Error naming the file when absent.
  const GgufTensorInfo& tensor_info(const std::string& name) const;

  /// The tensor in PyTorch order. F32, BF16 and integer types are views into
  /// the mapping; F16 is converted and Q8_0 dequantised to float32 (copies).
  /// Other types throw nnsight::Error naming the file, tensor and type.
  at::Tensor tensor(const std::string& name) const;

  /// True if the two tensors hold byte-identical data of the same type and shape.
  bool same_data(const std::string& a, const std::string& b) const;

  /// The mapping tensor views keep alive.
  const std::shared_ptr<const MappedFile>& mapping() const { return file_; }

 private:
  friend class GgufParser;
  std::shared_ptr<const MappedFile> file_;
  uint32_t version_ = 0;
  std::size_t alignment_ = 32;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, std::size_t> index_;
};

/// Reads a GGUF model (architectures llama, qwen2, gpt2) into ModelFiles with
/// Hugging Face names and a ModelConfig from the metadata. An `output.weight`
/// byte-identical to `token_embd.weight` counts as a tied classifier.
ModelFiles read_gguf_model(const std::string& path);

}  // namespace nnsight
