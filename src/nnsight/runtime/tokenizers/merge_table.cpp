#include "nnsight/runtime/tokenizers/merge_table.h"

#include <queue>

namespace nnsight {

void MergeTable::add(int32_t left, int32_t right, double priority, int32_t merged) {
  auto [it, inserted] = rules_.try_emplace(key(left, right), Rule{priority, merged});
  if (!inserted && priority < it->second.priority) it->second = Rule{priority, merged};
}

const MergeTable::Rule* MergeTable::find(int32_t left, int32_t right) const {
  auto it = rules_.find(key(left, right));
  return it == rules_.end() ? nullptr : &it->second;
}

void MergeTable::apply(std::vector<int32_t>& symbols) const {
  const int n = static_cast<int>(symbols.size());
  if (n < 2 || rules_.empty()) return;

  // Symbols live in a doubly linked list; a merge folds the right symbol into
  // the left one, which keeps its original position (so "leftmost" stays
  // comparable across merges).
  std::vector<int32_t> prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }

  struct Candidate {
    double priority;
    int left, right;
    int32_t left_id, right_id, merged;
    bool operator>(const Candidate& o) const { return priority != o.priority ? priority > o.priority : left > o.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    if (const Rule* r = find(symbols[left], symbols[right]))
      heap.push({r->priority, left, right, symbols[left], symbols[right], r->merged});
  };
  for (int i = 0; i + 1 < n; ++i) push(i, i + 1);

  constexpr int32_t kDead = -1;
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    // Skip candidates made stale by earlier merges.
    if (symbols[c.left] != c.left_id || next[c.left] != c.right || symbols[c.right] != c.right_id) continue;
    symbols[c.left] = c.merged;
    symbols[c.right] = kDead;
    next[c.left] = next[c.right];
    if (next[c.left] >= 0) prev[next[c.left]] = c.left;
    push(prev[c.left], c.left);
    push(c.left, next[c.left]);
  }

  std::size_t out = 0;
  for (int i = 0; i < n; ++i)
    if (symbols[i] != kDead) symbols[out++] = symbols[i];
  symbols.resize(out);
}

}  // namespace nnsight
