#include "nnsight/runtime/tokenizers/byte_level_bpe.h"

#include "nnsight/base/error.h"
#include "nnsight/runtime/tokenizers/byte_unicode.h"

namespace nnsight {

ByteLevelBpeTokenizer::ByteLevelBpeTokenizer(ByteLevelBpeData data, std::string source)
    : tokens_(std::move(data.tokens)),
      bos_id_(data.bos_id),
      eos_id_(data.eos_id),
      pad_id_(data.pad_id),
      add_bos_(data.add_bos),
      add_prefix_space_(data.add_prefix_space),
      ignore_merges_(data.ignore_merges),
      source_(std::move(source)) {
  if (tokens_.empty()) throw Error("tokenizer vocabulary is empty", source_, "check the tokenizer file");
  const auto listed = static_cast<int64_t>(tokens_.size() + data.added_tokens.size());
  for (const auto& t : data.added_tokens) {
    if (t.id < 0) throw Error("added token '" + t.content + "' has a negative id", source_);
    if (t.id >= listed + kMaxTokenIdGap)
      throw Error("added token '" + t.content.substr(0, 64) + "' has id " + std::to_string(t.id) +
                      ", far beyond the vocabulary of " + std::to_string(tokens_.size()) + " tokens",
                  source_, "the tokenizer file is corrupt");
    if (t.id >= static_cast<int64_t>(tokens_.size())) tokens_.resize(t.id + 1);
    if (tokens_[t.id].empty()) tokens_[t.id] = t.content;
  }
  const auto n = static_cast<int64_t>(tokens_.size());
  for (int64_t id : {bos_id_, eos_id_, pad_id_, data.unk_id})
    if (id >= n) throw Error("special token id " + std::to_string(id) + " is outside the vocabulary", source_);

  vocab_.reserve(tokens_.size());
  for (int32_t id = 0; id < static_cast<int32_t>(n); ++id)
    if (!tokens_[id].empty()) vocab_.try_emplace(tokens_[id], id);

  const auto& table = ByteUnicodeTable::get();
  bytes_.resize(n);
  special_.assign(n, 0);
  for (int64_t id = 0; id < n; ++id) bytes_[id] = table.decode(tokens_[id]);
  for (const auto& t : data.added_tokens) {
    bytes_[t.id] = t.content;  // added tokens are stored as plain text, not in the byte alphabet
    if (t.special) special_[t.id] = 1;
  }
  for (int64_t id : {bos_id_, eos_id_, pad_id_})
    if (id >= 0) special_[id] = 1;

  for (int b = 0; b < 256; ++b) {
    auto it = vocab_.find(table.byte_to_utf8(static_cast<uint8_t>(b)));
    byte_ids_[b] = it != vocab_.end() ? it->second : static_cast<int32_t>(data.unk_id);
  }

  std::string joined;
  for (std::size_t rank = 0; rank < data.merges.size(); ++rank) {
    const auto& [left, right] = data.merges[rank];
    joined = left + right;
    auto l = vocab_.find(left), r = vocab_.find(right), m = vocab_.find(joined);
    if (l == vocab_.end() || r == vocab_.end() || m == vocab_.end()) continue;
    merges_.add(l->second, r->second, static_cast<double>(rank), m->second);
  }

  splitter_ = SpecialTokenSplitter(data.added_tokens);
  if (!data.pattern.empty()) regex_ = std::make_unique<RegexSplitter>(data.pattern);
}

void ByteLevelBpeTokenizer::encode_piece(std::string_view piece, std::vector<int64_t>& out) const {
  if (cache_.lookup(piece, out)) return;
  std::vector<int32_t> symbols;
  const auto& table = ByteUnicodeTable::get();
  if (ignore_merges_) {
    auto it = vocab_.find(table.encode(piece));
    if (it != vocab_.end()) symbols.push_back(it->second);
  }
  if (symbols.empty()) {
    symbols.reserve(piece.size());
    for (char c : piece) {
      int32_t id = byte_ids_[static_cast<uint8_t>(c)];
      if (id >= 0) symbols.push_back(id);
    }
    merges_.apply(symbols);
  }
  cache_.store(piece, symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
}

std::vector<int64_t> ByteLevelBpeTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int64_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && adds_bos()) out.push_back(bos_id_);
  std::string prefixed;
  for (const auto& seg : splitter_.split(text)) {
    if (seg.token >= 0) {
      out.push_back(seg.token);
      continue;
    }
    std::string_view body = seg.text;
    if (add_prefix_space_ && body.front() != ' ') {
      prefixed = " ";
      prefixed += body;
      body = prefixed;
    }
    if (!regex_) {
      encode_piece(body, out);
      continue;
    }
    for (std::string_view piece : regex_->split(body)) encode_piece(piece, out);
  }
  return out;
}

void ByteLevelBpeTokenizer::check_id(int64_t id) const {
  if (id < 0 || id >= vocab_size())
    throw Error(
        "token id " + std::to_string(id) + " is outside the vocabulary (size " + std::to_string(vocab_size()) + ")",
        "tokenizer " + source_, "token ids must come from this model's vocabulary");
}

std::string ByteLevelBpeTokenizer::decode_piece(int64_t, int64_t id, bool skip_special) const {
  check_id(id);
  if (skip_special && special_[id]) return {};
  return bytes_[id];
}

std::string ByteLevelBpeTokenizer::token_bytes(int64_t id) const {
  check_id(id);
  return bytes_[id];
}

std::string ByteLevelBpeTokenizer::token_string(int64_t id) const {
  check_id(id);
  return tokens_[id];
}

bool ByteLevelBpeTokenizer::is_special(int64_t id) const {
  check_id(id);
  return special_[id] != 0;
}

}  // namespace nnsight
