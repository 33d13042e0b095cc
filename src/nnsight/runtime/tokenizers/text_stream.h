#pragma once
/// @file
/// TextStream: incremental detokenisation for streaming generation.
///
/// Feed token ids one at a time; each push() returns only complete UTF-8 text,
/// holding back a multi-byte character until all its bytes (which byte-level
/// and byte-fallback tokenizers spread over several tokens) have arrived.

#include <cstdint>
#include <string>

#include "nnsight/runtime/tokenizers/tokenizer.h"

namespace nnsight {

/// Streams the text of token ids pushed one at a time (see the file comment).
class TextStream {
 public:
  /// @param tokenizer    decodes the pieces (must outlive the stream)
  /// @param skip_special special tokens give no text (as Tokenizer::decode)
  /// @param previous_id the token before the first one pushed (e.g. the last
  ///        prompt token when streaming only generated text), -1 at text start.
  ///        It decides context-dependent decoding such as the leading space.
  explicit TextStream(const Tokenizer& tokenizer, bool skip_special = true, int64_t previous_id = -1);

  /// Decodes one more token; returns the text that is now complete (maybe "").
  std::string push(int64_t id);

  /// Returns whatever is still held back (an incomplete character's bytes) and
  /// empties the buffer. Call once at the end of generation.
  std::string flush();

  /// Bytes currently held back.
  std::size_t pending() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  int64_t previous_id_;
  std::string pending_;
};

}  // namespace nnsight
