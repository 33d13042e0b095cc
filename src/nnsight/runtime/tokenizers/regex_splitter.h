#pragma once
/// @file
/// RegexSplitter: pre-tokenisation by a PCRE2 regex (UTF-8 + Unicode properties,
/// JIT-compiled when available), e.g. GPT-2's word/number/punctuation split.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nnsight {

/// Splits text into pre-tokens with one compiled regex; split() may run on several threads at once.
class RegexSplitter {
 public:
  /// GPT-2's pre-tokeniser pattern (also used by most byte-level BPE models).
  static constexpr const char* kGpt2Pattern =
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

  /// Compiles `pattern`; throws nnsight::Error if it is not a valid regex.
  explicit RegexSplitter(const std::string& pattern);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  /// Splits `text` into consecutive pieces covering all of it: each match is a
  /// piece, and so is any stretch between matches (e.g. invalid UTF-8 bytes).
  std::vector<std::string_view> split(std::string_view text) const;

  /// True when the pattern was JIT-compiled.
  bool jit() const { return jit_; }

 private:
  struct Code;
  std::unique_ptr<Code> code_;
  bool jit_ = false;
  std::string pattern_;
};

}  // namespace nnsight
