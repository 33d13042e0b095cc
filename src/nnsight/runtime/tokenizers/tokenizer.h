#pragma once
/// @file
/// Tokenizer: text <-> token ids, for every tokenizer family we load.
///
/// Implementations: ByteLevelBpeTokenizer (GPT-2 family), SentencePieceBpeTokenizer
/// (Llama tokenizer.json, GGUF "llama" vocabularies, llama2.c tok*.bin).
/// Use load_tokenizer() (tokenizer_loader.h) to get one from files.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nnsight {

/// The interface of every tokenizer: encode, decode (also piece by piece) and the special ids.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  /// Token ids for `text`. When add_bos is true, BOS is prepended if the
  /// tokenizer's own convention adds one (Llama / llama2.c: yes, GPT-2: no;
  /// see adds_bos()). Special-token strings in the text (e.g. "<|endoftext|>")
  /// map to their ids.
  virtual std::vector<int64_t> encode(std::string_view text, bool add_bos = true) const = 0;

  /// Text for ids, skipping BOS/EOS/pad and other special tokens when
  /// skip_special. Invalid UTF-8 from partial byte tokens is kept as bytes.
  /// Equivalent to concatenating decode_piece(previous id, id) over ids.
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special = true) const;

  /// The bytes `id` adds to decoded text when it follows `prev_id` (-1 at the
  /// start of the text). Differs from token_bytes() where decoding depends on
  /// context: SentencePiece drops the space of the first piece after BOS, and
  /// special tokens give "" when skip_special. Used for streaming (text_stream.h).
  virtual std::string decode_piece(int64_t prev_id, int64_t id, bool skip_special = true) const = 0;

  /// The raw bytes one token contributes (byte-level decoding applied).
  virtual std::string token_bytes(int64_t id) const = 0;

  /// The vocabulary string of a token as stored (e.g. "Ġthe", "▁the").
  virtual std::string token_string(int64_t id) const = 0;

  /// True for control tokens (BOS, EOS, pad, "<|endoftext|>", ...) that
  /// decode() drops when skip_special.
  virtual bool is_special(int64_t id) const = 0;

  virtual int64_t vocab_size() const = 0;              ///< number of ids (including unused ones)
  virtual int64_t bos_id() const = 0;                  ///< -1 if none
  virtual int64_t eos_id() const = 0;                  ///< -1 if none
  virtual int64_t pad_id() const { return eos_id(); }  ///< the id batches are padded with; EOS unless set

  /// Whether encode(text, add_bos=true) prepends bos_id().
  virtual bool adds_bos() const = 0;

  /// Where the tokenizer came from (a file path, or a description), for messages.
  virtual std::string source() const = 0;
};

}  // namespace nnsight
