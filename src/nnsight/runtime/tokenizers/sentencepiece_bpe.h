#pragma once
/// @file
/// SentencePieceBpeTokenizer: SentencePiece-style BPE with byte fallback
/// (Llama tokenizer.json, GGUF "llama" vocabularies, llama2.c tok*.bin).
///
/// encode: cut out added tokens; in each remaining segment replace spaces by
/// the space symbol ("▁") and prepend one; split into UTF-8 characters, turning
/// characters missing from the vocabulary into <0xNN> byte tokens; then merge
/// adjacent pairs either by merge rank (tokenizer.json "merges") or, without
/// merges, by the highest score of the merged piece (SentencePiece / llama2.c).
/// decode: the space symbol becomes " ", byte tokens become raw bytes, and the
/// space that encode prepended is dropped from the first piece of the text.

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "nnsight/runtime/tokenizers/merge_table.h"
#include "nnsight/runtime/tokenizers/special_tokens.h"
#include "nnsight/runtime/tokenizers/string_map.h"
#include "nnsight/runtime/tokenizers/tokenizer.h"
#include "nnsight/runtime/tokenizers/word_cache.h"

namespace nnsight {

/// GGUF / SentencePiece token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

/// Everything a SentencePieceBpeTokenizer is built from, whatever file it came from.
struct SentencePieceBpeData {
  /// id -> piece ("▁the", "<0x0A>", "<s>").
  std::vector<std::string> tokens;
  /// Per-token scores; used to merge when `merges` is empty (highest score of
  /// the merged piece first, leftmost on ties).
  std::vector<float> scores;
  /// Merge rules in rank order; when non-empty they decide the merges.
  std::vector<std::pair<std::string, std::string>> merges;
  /// Optional per-token types (TokenType values). Control and unknown tokens are
  /// "special"; byte tokens are also recognised by their "<0xNN>" form.
  std::vector<int32_t> token_types;
  /// Tokens cut out of the text verbatim before normalisation (e.g. "<s>").
  std::vector<AddedToken> added_tokens;
  std::string space_symbol = "\xE2\x96\x81";  ///< "▁"; llama2.c vocabularies use " "
  bool add_space_prefix = true;               ///< prepend one space symbol to each text segment
  bool prefix_first_only = false;  ///< ...but only to the segment at the start of the text (Metaspace "first")
  /// Merge within "▁word" pieces only (Metaspace split=true). Switched on
  /// automatically when no piece has the space symbol past its start: then it
  /// cannot change the result, and it enables the per-word cache.
  bool split_on_space = false;
  bool byte_fallback = true;  ///< unknown characters -> <0xNN> tokens (else unk_id)
  /// Byte -> token id for byte fallback; when empty, looked up as "<0xNN>".
  std::vector<int32_t> byte_token_ids;
  /// Special token ids; -1 = none (pad_id -1: padding uses eos_id).
  ///@{
  int64_t unk_id = -1, bos_id = -1, eos_id = -1, pad_id = -1;
  ///@}
  bool add_bos = true;              ///< encode(text, add_bos=true) prepends bos_id (when there is one)
  bool strip_leading_space = true;  ///< decode drops the prepended space of the first piece
};

/// SentencePiece-style BPE with byte fallback (see the file comment).
class SentencePieceBpeTokenizer : public Tokenizer {
 public:
  /// @param data   the vocabulary, scores or merges, and settings
  /// @param source where the data came from (file path), used in error messages.
  SentencePieceBpeTokenizer(SentencePieceBpeData data, std::string source);

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

 private:
  void check_id(int64_t id) const;
  void build_rank_merges(const std::vector<std::pair<std::string, std::string>>& merges);
  void build_score_merges(const std::vector<float>& scores);
  void encode_word(std::string_view word, std::vector<int64_t>& out) const;

  std::vector<std::string> tokens_;
  std::vector<std::string> bytes_;  // decoded text per id (space symbol -> " ", byte tokens -> the byte)
  std::vector<uint8_t> special_;
  std::vector<uint8_t> is_byte_;
  StringMap<int32_t> vocab_;
  std::array<int32_t, 256> byte_ids_{};
  MergeTable merges_;
  SpecialTokenSplitter splitter_;
  mutable WordCache cache_;
  std::string space_symbol_;
  bool add_space_prefix_, prefix_first_only_, split_on_space_, byte_fallback_;
  int64_t unk_id_, bos_id_, eos_id_, pad_id_;
  bool add_bos_, strip_leading_space_;
  std::string source_;
};

}  // namespace nnsight
