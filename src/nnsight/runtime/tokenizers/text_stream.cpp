#include "nnsight/runtime/tokenizers/text_stream.h"

#include "nnsight/runtime/tokenizers/utf8.h"

namespace nnsight {

TextStream::TextStream(const Tokenizer& tokenizer, bool skip_special, int64_t previous_id)
    : tokenizer_(tokenizer), skip_special_(skip_special), previous_id_(previous_id) {}

std::string TextStream::push(int64_t id) {
  pending_ += tokenizer_.decode_piece(previous_id_, id, skip_special_);
  previous_id_ = id;
  std::size_t ready = utf8::complete_prefix_length(pending_);
  std::string out = pending_.substr(0, ready);
  pending_.erase(0, ready);
  return out;
}

std::string TextStream::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace nnsight
