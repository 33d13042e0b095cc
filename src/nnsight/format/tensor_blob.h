#pragma once
/// @file
/// Tensors attached to a graph JSON by name (large constants: steering vectors,
/// patches, embeddings), kept out of the JSON in a safetensors blob.
///
/// ```
///   TensorBlob blob;
///   nlohmann::json j = to_json(doc, {.sink = &blob});   // large tensors go to blob
///   std::string bytes = blob.to_bytes();                 // send j and bytes
///   ...
///   TensorBlob received = TensorBlob::from_bytes(bytes, limits);
///   GraphDocument doc2 = document_from_json(j, {.source = &received});
/// ```
///
/// The JSON names a tensor {"tensor": {"dtype", "shape", "blob": "t0"}}; the
/// decoder checks the attached tensor's dtype and shape against it.

#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "nnsight/format/decode_limits.h"

namespace nnsight::format {

/// Receives the tensors the encoder does not inline.
class TensorSink {
 public:
  virtual ~TensorSink() = default;
  /// Stores `t` (CPU, contiguous) and returns the name the JSON will use.
  virtual std::string put(const at::Tensor& t) = 0;
};

/// Provides attached tensors by name to the decoder.
class TensorSource {
 public:
  virtual ~TensorSource() = default;
  /// The tensor called `name`, or nullopt when there is none.
  virtual std::optional<at::Tensor> get(const std::string& name) const = 0;
  /// Every name (for messages).
  virtual std::vector<std::string> names() const = 0;
};

/// An in-memory set of named tensors, readable and writable as safetensors
/// (bytes or file). Both a sink (names "t0", "t1", ... in put order; a tensor
/// put twice is stored once) and a source.
class TensorBlob : public TensorSink, public TensorSource {
 public:
  std::string put(const at::Tensor& t) override;
  std::optional<at::Tensor> get(const std::string& name) const override;
  std::vector<std::string> names() const override;

  /// Adds `t` under `name`; throws Error when the name is taken.
  void add(const std::string& name, const at::Tensor& t);
  std::size_t size() const { return tensors_.size(); }  ///< number of tensors
  bool empty() const { return tensors_.empty(); }       ///< no tensors
  /// (name, tensor) pairs in the order they were added.
  const std::vector<std::pair<std::string, at::Tensor>>& tensors() const { return tensors_; }

  /// The safetensors encoding (8-byte little-endian header length, JSON
  /// header, 8-byte aligned data), readable by the Python safetensors tools.
  std::string to_bytes() const;
  /// Parses safetensors bytes from an untrusted source: every header field,
  /// offset, size and limit is checked; failures are Errors naming the tensor.
  static TensorBlob from_bytes(std::string_view bytes, const DecodeLimits& limits = {});

  /// to_bytes() written to a .safetensors file.
  void save(const std::string& path) const;
  /// A .safetensors file read with the checks of from_bytes.
  static TensorBlob load(const std::string& path, const DecodeLimits& limits = {});

 private:
  std::vector<std::pair<std::string, at::Tensor>> tensors_;
  std::map<std::string, std::size_t> by_name_;
  /// Dedupe of put(): the same contiguous bytes (data pointer, shape, dtype) are attached once.
  std::map<std::tuple<const void*, std::vector<int64_t>, int>, std::string> by_data_;
};

/// Torch dtype names used by the format: "float32", "bfloat16", "int64", "bool", ...
const char* dtype_name(at::ScalarType dtype);
/// The dtype called `name` (a format name), or nullopt.
std::optional<at::ScalarType> dtype_from_name(std::string_view name);
/// The format's dtype names, comma separated (for hints).
std::string dtype_names();

}  // namespace nnsight::format
