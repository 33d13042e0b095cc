#pragma once
/// @file
/// Added / special tokens and the splitter that cuts them out of the text
/// before normalisation and pre-tokenisation ("a<|endoftext|>b" -> "a", 50256, "b").

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nnsight {

/// How far past a vocabulary's entry count a token id may lie (ids of added
/// tokens beyond the end; holes). Real files have none or a few hundred; the
/// bound keeps an id read from an untrusted file from sizing a huge table.
inline constexpr int64_t kMaxTokenIdGap = int64_t{1} << 16;

/// A token matched verbatim in the input text (Hugging Face "added_tokens").
struct AddedToken {
  std::string content;  ///< the text matched verbatim ("<|endoftext|>")
  int64_t id = -1;      ///< its token id
  bool special = true;  ///< control token: dropped by decode(skip_special=true)
  bool lstrip = false;  ///< also swallows whitespace on its left
  bool rstrip = false;  ///< also swallows whitespace on its right
};

/// One piece of split text: plain text to tokenize, or an added token's id.
struct TextSegment {
  std::string_view text;  ///< the plain text (empty for a token)
  int64_t token = -1;     ///< the added token id, or -1 for plain text
  bool at_start = false;  ///< plain text that begins at offset 0 of the input
};

/// Cuts added tokens out of text before normalisation and pre-tokenisation (see the file comment).
class SpecialTokenSplitter {
 public:
  SpecialTokenSplitter() = default;  ///< no added tokens: split() returns the text whole
  /// Matches `tokens` (their content, with their lstrip / rstrip rules).
  explicit SpecialTokenSplitter(const std::vector<AddedToken>& tokens);

  /// Splits `text` at every occurrence of an added token, leftmost first and
  /// the longest token on ties. Empty plain-text pieces are left out.
  std::vector<TextSegment> split(std::string_view text) const;

  bool empty() const { return tokens_.empty(); }  ///< no added tokens

 private:
  std::vector<AddedToken> tokens_;
  // Indexes into tokens_ by first byte, longest content first.
  std::array<std::vector<int>, 256> by_first_byte_;
};

}  // namespace nnsight
