#pragma once
/// @file
/// WordCache: thread-safe memo of pre-token -> BPE ids. Natural text repeats a
/// small set of words, so most words skip the merge loop entirely.

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "nnsight/runtime/tokenizers/string_map.h"

namespace nnsight {

/// Pre-token -> BPE ids memo shared by a tokenizer's threads (one mutex; bounded size).
class WordCache {
 public:
  /// Words longer than this are never cached (they rarely repeat).
  static constexpr std::size_t kMaxWordBytes = 256;
  /// The cache is emptied when it reaches this many words.
  static constexpr std::size_t kMaxEntries = 200000;

  /// Appends the cached ids of `word` to `out` and returns true, or returns false.
  bool lookup(std::string_view word, std::vector<int64_t>& out) const;

  /// Remembers `ids` for `word` (unless the word is longer than kMaxWordBytes).
  void store(std::string_view word, const std::vector<int32_t>& ids);

 private:
  mutable std::mutex mutex_;
  StringMap<std::vector<int32_t>> map_;
};

}  // namespace nnsight
