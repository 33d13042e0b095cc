#pragma once
/// @file
/// MergeTable: the pair-merge core shared by all BPE tokenizers.
///
/// A word starts as a sequence of symbol ids; the table says which adjacent
/// pairs merge into which token and with what priority. apply() repeatedly
/// merges the pair with the lowest priority value, the leftmost one on ties,
/// which is both Hugging Face's rank order (priority = merge rank) and
/// SentencePiece/llama2.c's score order (priority = -score of the merged token).
/// Runs in O(n log n) with a heap over a linked list of symbols.

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace nnsight {

/// Pair -> merged token rules with priorities (see the file comment).
class MergeTable {
 public:
  /// What a pair merges into, and when.
  struct Rule {
    double priority;  ///< lower merges first
    int32_t merged;   ///< the token id the pair becomes
  };

  /// Adds a rule; when the pair already has one, the lower priority wins.
  void add(int32_t left, int32_t right, double priority, int32_t merged);

  /// The rule for a pair, or nullptr.
  const Rule* find(int32_t left, int32_t right) const;

  /// Number of rules.
  std::size_t size() const { return rules_.size(); }

  /// Applies the merges to `symbols` in place.
  void apply(std::vector<int32_t>& symbols) const;

 private:
  static uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  std::unordered_map<uint64_t, Rule> rules_;
};

}  // namespace nnsight
