#pragma once
/// @file
/// StringMap<V>: unordered_map keyed by std::string that can be looked up with a
/// std::string_view without building a temporary string.

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace nnsight {

/// Hashes std::string and std::string_view alike, so lookups need no temporary string.
struct TransparentStringHash {
  using is_transparent = void;  ///< enables heterogeneous lookup
  /// The hash of the characters.
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

/// An unordered_map from std::string to V that find() accepts a std::string_view for.
template <typename V>
using StringMap = std::unordered_map<std::string, V, TransparentStringHash, std::equal_to<>>;

}  // namespace nnsight
