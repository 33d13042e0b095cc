#pragma once
// Tokenizer: text <-> token ids, for every tokenizer family we load.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nnsight {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  /// Token ids for `text`; prepends BOS when add_bos and the tokenizer has one.
  /// Special-token strings in the text (e.g. "<|endoftext|>") map to their ids.
  virtual std::vector<int64_t> encode(std::string_view text, bool add_bos = true) const = 0;

  /// Text for ids, skipping BOS/EOS/pad (special tokens are dropped when
  /// skip_special). Invalid UTF-8 from partial byte tokens is kept as bytes.
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special = true) const = 0;

  /// The raw bytes one token contributes (byte-level decoding applied).
  virtual std::string token_bytes(int64_t id) const = 0;

  /// The vocabulary string of a token as stored (e.g. "Ġthe", "▁the").
  virtual std::string token_string(int64_t id) const = 0;

  virtual int64_t vocab_size() const = 0;
  virtual int64_t bos_id() const = 0;  ///< -1 if none
  virtual int64_t eos_id() const = 0;  ///< -1 if none
  virtual int64_t pad_id() const { return eos_id(); }
};

}  // namespace nnsight
