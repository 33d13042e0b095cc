#pragma once
/// @file
/// Limits that bound what decoding an untrusted graph (JSON + tensor blob) may
/// allocate or how deep it may go, and the JSON location type that decoding
/// errors name ("nodes[12].args[1]").
///
/// Every limit is a parameter so a server can tighten them per request; the
/// defaults suit a local `nnsight run`.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nnsight::format {

/// Bounds on what decoding one untrusted graph document may allocate or nest.
struct DecodeLimits {
  std::size_t max_nodes = 100'000;                  ///< nodes in one graph
  std::size_t max_tensor_bytes = 64u << 20;         ///< one tensor (inline or attached)
  std::size_t max_total_tensor_bytes = 512u << 20;  ///< all tensors of one graph together
  int max_value_depth = 32;                         ///< nesting of lists / tuples / dicts in a value
  int max_context_depth = 64;                       ///< nesting of conditions / loops / traces
  std::size_t max_string_bytes = 1u << 20;          ///< one string (prompts, keys, file names)
  std::size_t max_tensor_dims = 16;                 ///< rank of one tensor
  int64_t max_new_tokens = 4096;                    ///< a traced generation's max_new_tokens
  /// JSON nesting accepted by parse_graph_text; a value of depth d nests about
  /// 2d JSON levels ({"tuple": [...]}) under a handful of structural ones.
  int max_json_depth() const { return 2 * max_value_depth + 8; }
};

/// A location inside the graph JSON, built on the stack while decoding and
/// rendered only when an error is reported: "nodes[12].args[1].tuple[0]".
class JsonPath {
 public:
  JsonPath() = default;
  /// `parent.field`
  JsonPath(const JsonPath& parent, std::string_view field) : parent_(&parent), field_(field) {}
  /// `parent[index]`
  JsonPath(const JsonPath& parent, int64_t index) : parent_(&parent), index_(index) {}

  /// The rendered path, e.g. "nodes[12].args[1]".
  std::string str() const;

 private:
  const JsonPath* parent_ = nullptr;
  std::string_view field_;
  int64_t index_ = -1;
};

/// Throws nnsight::Error(what, "graph JSON at PATH", hint) with `at` as PATH.
[[noreturn]] void fail(const JsonPath& at, const std::string& what, const std::string& hint = {});

}  // namespace nnsight::format
