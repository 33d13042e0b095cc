#pragma once
/// @file
/// Levenshtein distance, for "did you mean" hints in error messages (op
/// names, module paths).

#include <cstddef>
#include <string_view>

namespace nnsight {

/// The number of single-character insertions, deletions and substitutions
/// turning `a` into `b` (O(|a| |b|) time: meant for short names).
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace nnsight
