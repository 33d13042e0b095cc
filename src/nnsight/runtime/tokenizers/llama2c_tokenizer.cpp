#include "nnsight/runtime/tokenizers/llama2c_tokenizer.h"

#include <cstring>

#include "nnsight/base/error.h"
#include "nnsight/runtime/tokenizers/tokenizer_files.h"

namespace nnsight {
namespace {

/// Sequential little-endian reader over the file contents.
class Reader {
 public:
  Reader(const std::string& data, const std::string& path) : data_(data), path_(path) {}

  bool at_end() const { return pos_ == data_.size(); }

  template <typename T>
  T read(const char* field, int64_t token) {
    T value;
    need(sizeof(T), field, token);
    std::memcpy(&value, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  std::string read_bytes(std::size_t n, const char* field, int64_t token) {
    need(n, field, token);
    std::string s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  void need(std::size_t n, const char* field, int64_t token) const {
    if (data_.size() - pos_ >= n) return;
    std::string where = "file " + path_ + ", byte offset " + std::to_string(pos_);
    if (token >= 0) where += ", token " + std::to_string(token);
    throw Error(std::string("llama2.c tokenizer file is truncated (reading ") + field + ")", where,
                "re-download the tokenizer .bin file");
  }

  const std::string& data_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

}  // namespace

SentencePieceBpeData read_llama2c_tokenizer_data(const std::string& path, int64_t vocab_size) {
  const std::string data = tokenizer_files::read(path, "llama2.c tokenizer");
  Reader in(data, path);
  auto max_len = in.read<int32_t>("max_token_length", -1);
  if (max_len <= 0 || max_len > (1 << 16))
    throw Error("not a llama2.c tokenizer file (max_token_length " + std::to_string(max_len) + ")", "file " + path,
                "pass a llama2.c tokenizer .bin such as tok512.bin");

  SentencePieceBpeData d;
  d.space_symbol = " ";
  for (int64_t id = 0; vocab_size < 0 ? !in.at_end() : id < vocab_size; ++id) {
    d.scores.push_back(in.read<float>("score", id));
    auto len = in.read<int32_t>("length", id);
    if (len < 0 || len > (1 << 16))
      throw Error("corrupt llama2.c tokenizer file (token length " + std::to_string(len) + ")",
                  "file " + path + ", token " + std::to_string(id), "re-download the tokenizer .bin file");
    d.tokens.push_back(in.read_bytes(static_cast<std::size_t>(len), "token bytes", id));
  }
  if (d.tokens.size() < 3)
    throw Error("llama2.c tokenizer file has only " + std::to_string(d.tokens.size()) + " tokens", "file " + path,
                "the file is truncated or not a llama2.c tokenizer");

  // run.c's fixed layout: <unk>, BOS, EOS, then the 256 byte tokens.
  d.unk_id = 0;
  d.bos_id = 1;
  d.eos_id = 2;
  d.token_types.assign(d.tokens.size(), static_cast<int32_t>(TokenType::kNormal));
  d.token_types[0] = static_cast<int32_t>(TokenType::kUnknown);
  d.token_types[1] = d.token_types[2] = static_cast<int32_t>(TokenType::kControl);
  for (std::size_t id = 3; id < d.tokens.size() && id < 259; ++id)
    d.token_types[id] = static_cast<int32_t>(TokenType::kByte);
  if (d.tokens.size() >= 259) {
    d.byte_token_ids.resize(256);
    for (int b = 0; b < 256; ++b) d.byte_token_ids[b] = b + 3;
  }
  d.add_bos = true;
  d.add_space_prefix = true;
  d.byte_fallback = true;
  d.strip_leading_space = true;
  return d;
}

std::unique_ptr<SentencePieceBpeTokenizer> load_llama2c_tokenizer(const std::string& path, int64_t vocab_size) {
  return std::make_unique<SentencePieceBpeTokenizer>(read_llama2c_tokenizer_data(path, vocab_size), path);
}

}  // namespace nnsight
