#pragma once
/// @file
/// nnsight::Value <-> JSON, as graph arguments and constants are written in the
/// graph format (docs/graph-format.md, "Values"):
///
/// ```
///   None, bool, int, str      null, true/false, 3, "text"
///   float                     2.5; non-finite ones as {"float": "nan" | "inf" | "-inf"}
///   list                      [v, ...]
///   tuple                     {"tuple": [v, ...]}
///   dict                      {"dict": [["key", v], ...]}   (insertion order kept)
///   slice                     {"slice": [start, stop, step]}  (ints or null)
///   ellipsis                  {"ellipsis": true}
///   node reference            {"ref": 7}
///   tensor                    {"tensor": {"dtype": "float32", "shape": [2, 3], "data": [...]}}
///                             {"tensor": {"dtype": "float32", "shape": [4096], "blob": "t0"}}
/// ```
///
/// Decoding takes untrusted JSON: every kind, range, size and depth is checked
/// and a violation is an nnsight::Error naming the JSON location.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>

#include "nnsight/base/value.h"
#include "nnsight/format/decode_limits.h"
#include "nnsight/format/tensor_blob.h"

namespace nnsight::format {

/// How values are written: which tensors are inlined and where the others go.
struct ValueEncodeOptions {
  /// Tensors larger than this many bytes go to `sink` (when there is one).
  std::size_t inline_tensor_bytes = 64u << 10;
  TensorSink* sink = nullptr;  ///< receives the large tensors; null = inline every tensor
};

/// `v` as format JSON. Throws Error for undefined tensors and dtypes the
/// format has no name for (complex, quantized).
nlohmann::json value_to_json(const Value& v, const ValueEncodeOptions& options = {});
/// `t` as a {"tensor": ...} object.
nlohmann::json tensor_to_json(const at::Tensor& t, const ValueEncodeOptions& options = {});

/// Decoding state shared by the values of one graph (the tensor byte budget).
class ValueDecoder {
 public:
  /// Checks a node reference (index already known to be an integer); throws via fail().
  using RefCheck = std::function<void(int64_t index, const JsonPath& at)>;

  /// Decodes under `limits`; attached tensors come from `source` (null: none may be attached).
  ValueDecoder(const DecodeLimits& limits, const TensorSource* source) : limits_(limits), source_(source) {}

  /// Decodes a value. References are allowed only when `refs` is set (it
  /// validates them); otherwise {"ref": ...} is an error.
  Value decode(const nlohmann::json& j, const JsonPath& at, const RefCheck* refs = nullptr);
  /// Decodes the body of a {"tensor": ...} object (inline data or an attached blob) and charges its bytes.
  at::Tensor decode_tensor(const nlohmann::json& body, const JsonPath& at);

  /// Tensor bytes decoded so far (checked against max_total_tensor_bytes).
  std::size_t tensor_bytes() const { return tensor_bytes_; }
  /// The limits decoding is under.
  const DecodeLimits& limits() const { return limits_; }

 private:
  Value decode_at_depth(const nlohmann::json& j, const JsonPath& at, const RefCheck* refs, int depth);
  Value decode_tagged(const nlohmann::json& j, const JsonPath& at, const RefCheck* refs, int depth);
  void charge(std::size_t bytes, const JsonPath& at);

  DecodeLimits limits_;
  const TensorSource* source_;
  std::size_t tensor_bytes_ = 0;
};

// Checked readers of JSON fields, shared by the graph decoder.
/// The field `name` of object `obj`; fail() when absent.
const nlohmann::json& require_field(const nlohmann::json& obj, const char* name, const JsonPath& at);
/// An integer in [min, max]; fail() naming `what` otherwise.
int64_t read_int(const nlohmann::json& j, const JsonPath& at, int64_t min, int64_t max, const char* what);
/// A string of at most `max_bytes` bytes.
std::string read_string(const nlohmann::json& j, const JsonPath& at, std::size_t max_bytes, const char* what);
/// A JSON boolean.
bool read_bool(const nlohmann::json& j, const JsonPath& at, const char* what);
/// A finite number (integer or float).
double read_number(const nlohmann::json& j, const JsonPath& at, const char* what);
/// "a string", "an array", ...: the JSON kind of `j` for messages.
std::string json_kind(const nlohmann::json& j);

}  // namespace nnsight::format
