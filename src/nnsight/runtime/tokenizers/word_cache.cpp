#include "nnsight/runtime/tokenizers/word_cache.h"

namespace nnsight {

bool WordCache::lookup(std::string_view word, std::vector<int64_t>& out) const {
  if (word.size() > kMaxWordBytes) return false;
  std::lock_guard lock(mutex_);
  auto it = map_.find(word);
  if (it == map_.end()) return false;
  out.insert(out.end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::store(std::string_view word, const std::vector<int32_t>& ids) {
  if (word.size() > kMaxWordBytes) return;
  std::lock_guard lock(mutex_);
  if (map_.size() >= kMaxEntries) map_.clear();
  map_.emplace(std::string(word), ids);
}

}  // namespace nnsight
