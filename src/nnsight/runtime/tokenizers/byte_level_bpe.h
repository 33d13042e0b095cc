#pragma once
/// @file
/// ByteLevelBpeTokenizer: GPT-2 style byte-level BPE.
///
/// encode: cut out added/special tokens, split the rest with the pre-tokenizer
/// regex, map each piece's bytes to the byte-level alphabet (byte_unicode.h) and
/// merge pairs by rank (cached per piece). decode maps the alphabet back to bytes.
/// Built from plain data so any source (tokenizer.json, vocab.json + merges.txt,
/// encoder.json + vocab.bpe, a GGUF "gpt2" vocabulary) can feed it.

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nnsight/runtime/tokenizers/merge_table.h"
#include "nnsight/runtime/tokenizers/regex_splitter.h"
#include "nnsight/runtime/tokenizers/special_tokens.h"
#include "nnsight/runtime/tokenizers/string_map.h"
#include "nnsight/runtime/tokenizers/tokenizer.h"
#include "nnsight/runtime/tokenizers/word_cache.h"

namespace nnsight {

/// Everything a ByteLevelBpeTokenizer is built from, whatever file it came from.
struct ByteLevelBpeData {
  /// id -> vocabulary string in the byte-level alphabet ("Ġthe"). Ids of added
  /// tokens beyond the end are appended; empty strings are unused ids.
  std::vector<std::string> tokens;
  /// Merge rules in rank order (first = merged first), e.g. {"Ġ", "t"}.
  std::vector<std::pair<std::string, std::string>> merges;
  /// Tokens matched verbatim before pre-tokenisation (e.g. "<|endoftext|>").
  std::vector<AddedToken> added_tokens;
  /// Special token ids; -1 = none (pad_id -1: padding uses eos_id).
  ///@{
  int64_t bos_id = -1, eos_id = -1, pad_id = -1;
  ///@}
  int64_t unk_id = -1;            ///< used for bytes missing from a (toy) vocabulary; else they are dropped
  bool add_bos = false;           ///< GPT-2 adds no BOS
  bool add_prefix_space = false;  ///< prepend " " to text not starting with one (ByteLevel add_prefix_space)
  bool ignore_merges = false;     ///< a piece that is a whole vocabulary token is emitted as is (Llama 3 style)
  std::string pattern = RegexSplitter::kGpt2Pattern;  ///< pre-tokenizer regex ("" = no split)
};

/// GPT-2 style byte-level BPE (see the file comment).
class ByteLevelBpeTokenizer : public Tokenizer {
 public:
  /// @param data   the vocabulary, merges and settings
  /// @param source where the data came from (file path), used in error messages.
  /// Throws nnsight::Error when the data is inconsistent (e.g. no tokens).
  ByteLevelBpeTokenizer(ByteLevelBpeData data, std::string source);

  std::vector<int64_t> encode(std::string_view text, bool add_bos = true) const override;
  std::string decode_piece(int64_t prev_id, int64_t id, bool skip_special = true) const override;
  std::string token_bytes(int64_t id) const override;
  std::string token_string(int64_t id) const override;
  bool is_special(int64_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(tokens_.size()); }
  int64_t bos_id() const override { return bos_id_; }
  int64_t eos_id() const override { return eos_id_; }
  int64_t pad_id() const override { return pad_id_ >= 0 ? pad_id_ : eos_id_; }
  bool adds_bos() const override { return add_bos_ && bos_id_ >= 0; }
  std::string source() const override { return source_; }

  /// Number of merge rules in use (rules naming unknown tokens are skipped).
  std::size_t merge_count() const { return merges_.size(); }

 private:
  void check_id(int64_t id) const;
  void encode_piece(std::string_view piece, std::vector<int64_t>& out) const;

  std::vector<std::string> tokens_;
  std::vector<std::string> bytes_;  // token_bytes() per id, precomputed
  std::vector<uint8_t> special_;
  StringMap<int32_t> vocab_;
  std::array<int32_t, 256> byte_ids_{};
  MergeTable merges_;
  SpecialTokenSplitter splitter_;
  std::unique_ptr<RegexSplitter> regex_;
  mutable WordCache cache_;
  int64_t bos_id_, eos_id_, pad_id_;
  bool add_bos_, add_prefix_space_, ignore_merges_;
  std::string source_;
};

}  // namespace nnsight
