#pragma once
// StringMap<V>: unordered_map keyed by std::string that can be looked up with a
// std::string_view without building a temporary string.

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace nnsight {

struct TransparentStringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <typename V>
using StringMap = std::unordered_map<std::string, V, TransparentStringHash, std::equal_to<>>;

}  // namespace nnsight
