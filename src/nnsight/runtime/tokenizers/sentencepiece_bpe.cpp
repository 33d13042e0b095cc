#include "nnsight/runtime/tokenizers/sentencepiece_bpe.h"

#include <algorithm>

#include "nnsight/base/error.h"
#include "nnsight/runtime/tokenizers/utf8.h"

namespace nnsight {
namespace {

/// The byte of a "<0xNN>" piece, or -1.
int byte_token_value(const std::string& piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int hi = hex(piece[3]), lo = hex(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  if (from.empty() || from == to) return s;
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

}  // namespace

SentencePieceBpeTokenizer::SentencePieceBpeTokenizer(SentencePieceBpeData data, std::string source)
    : tokens_(std::move(data.tokens)),
      space_symbol_(std::move(data.space_symbol)),
      add_space_prefix_(data.add_space_prefix),
      prefix_first_only_(data.prefix_first_only),
      split_on_space_(data.split_on_space),
      byte_fallback_(data.byte_fallback),
      unk_id_(data.unk_id),
      bos_id_(data.bos_id),
      eos_id_(data.eos_id),
      pad_id_(data.pad_id),
      add_bos_(data.add_bos),
      strip_leading_space_(data.strip_leading_space),
      source_(std::move(source)) {
  if (tokens_.empty()) throw Error("tokenizer vocabulary is empty", source_, "check the tokenizer file");
  if (space_symbol_.empty()) throw Error("tokenizer space symbol is empty", source_);
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
  for (int64_t id : {bos_id_, eos_id_, pad_id_, unk_id_})
    if (id >= n) throw Error("special token id " + std::to_string(id) + " is outside the vocabulary", source_);
  if (!data.scores.empty() && static_cast<int64_t>(data.scores.size()) != n && data.merges.empty())
    throw Error("tokenizer has " + std::to_string(data.scores.size()) + " scores for " + std::to_string(n) + " tokens",
                source_);

  vocab_.reserve(n);
  for (int32_t id = 0; id < static_cast<int32_t>(n); ++id)
    if (!tokens_[id].empty()) vocab_.try_emplace(tokens_[id], id);

  bytes_.resize(n);
  special_.assign(n, 0);
  is_byte_.assign(n, 0);
  byte_ids_.fill(-1);
  for (int64_t id = 0; id < n; ++id) {
    auto type = id < static_cast<int64_t>(data.token_types.size()) ? static_cast<TokenType>(data.token_types[id])
                                                                   : TokenType::kNormal;
    int byte = byte_token_value(tokens_[id]);
    if (byte >= 0 && (data.token_types.empty() || type == TokenType::kByte)) {
      is_byte_[id] = 1;
      bytes_[id] = std::string(1, static_cast<char>(byte));
      if (byte_ids_[byte] < 0) byte_ids_[byte] = static_cast<int32_t>(id);
    } else {
      bytes_[id] = replace_all(tokens_[id], space_symbol_, " ");
    }
    if (type == TokenType::kControl || type == TokenType::kUnknown) special_[id] = 1;
  }
  if (!data.byte_token_ids.empty()) {
    if (data.byte_token_ids.size() != 256) throw Error("byte_token_ids must have 256 entries", source_);
    for (int b = 0; b < 256; ++b) byte_ids_[b] = data.byte_token_ids[b];
  }
  for (const auto& t : data.added_tokens) {
    bytes_[t.id] = t.content;
    if (t.special) special_[t.id] = 1;
  }
  for (int64_t id : {bos_id_, eos_id_, pad_id_, unk_id_})
    if (id >= 0) special_[id] = 1;

  // When no piece has a space symbol after its first character, no merge can
  // cross the start of a "▁word", so words can be merged (and cached) one by
  // one with the same result as merging the whole text at once.
  split_on_space_ = split_on_space_ || std::none_of(tokens_.begin(), tokens_.end(), [&](const std::string& t) {
                      return t.size() > space_symbol_.size() && t.find(space_symbol_, 1) != std::string::npos;
                    });
  if (!data.merges.empty())
    build_rank_merges(data.merges);
  else if (!data.scores.empty())
    build_score_merges(data.scores);
  splitter_ = SpecialTokenSplitter(data.added_tokens);
}

void SentencePieceBpeTokenizer::build_rank_merges(const std::vector<std::pair<std::string, std::string>>& merges) {
  std::string joined;
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    joined = left + right;
    auto l = vocab_.find(left), r = vocab_.find(right), m = vocab_.find(joined);
    if (l == vocab_.end() || r == vocab_.end() || m == vocab_.end()) continue;
    merges_.add(l->second, r->second, static_cast<double>(rank), m->second);
  }
}

void SentencePieceBpeTokenizer::build_score_merges(const std::vector<float>& scores) {
  // Every way to cut a piece into two vocabulary pieces is a pair that merges
  // into it; the best score merges first, as in SentencePiece and llama2.c.
  for (int32_t id = 0; id < static_cast<int32_t>(tokens_.size()); ++id) {
    const std::string& piece = tokens_[id];
    if (piece.empty() || vocab_.find(piece)->second != id) continue;  // duplicates: the first id wins
    std::string_view view = piece;
    for (std::size_t cut = utf8::char_length(view, 0); cut < view.size(); cut += utf8::char_length(view, cut)) {
      auto l = vocab_.find(view.substr(0, cut));
      if (l == vocab_.end()) continue;
      auto r = vocab_.find(view.substr(cut));
      if (r == vocab_.end()) continue;
      merges_.add(l->second, r->second, -static_cast<double>(scores[id]), id);
    }
  }
}

void SentencePieceBpeTokenizer::encode_word(std::string_view word, std::vector<int64_t>& out) const {
  if (cache_.lookup(word, out)) return;
  std::vector<int32_t> symbols;
  symbols.reserve(word.size());
  for (std::size_t pos = 0; pos < word.size();) {
    std::size_t len = utf8::char_length(word, pos);
    auto it = vocab_.find(word.substr(pos, len));
    if (it != vocab_.end()) {
      symbols.push_back(it->second);
    } else if (byte_fallback_) {
      for (std::size_t i = 0; i < len; ++i) {
        int32_t id = byte_ids_[static_cast<uint8_t>(word[pos + i])];
        if (id < 0) id = static_cast<int32_t>(unk_id_);
        if (id >= 0) symbols.push_back(id);
      }
    } else if (unk_id_ >= 0) {
      symbols.push_back(static_cast<int32_t>(unk_id_));
    }
    pos += len;
  }
  merges_.apply(symbols);
  cache_.store(word, symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
}

std::vector<int64_t> SentencePieceBpeTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int64_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && adds_bos()) out.push_back(bos_id_);
  std::string normalized;
  for (const auto& seg : splitter_.split(text)) {
    if (seg.token >= 0) {
      out.push_back(seg.token);
      continue;
    }
    normalized.clear();
    if (add_space_prefix_ && (!prefix_first_only_ || seg.at_start)) normalized = space_symbol_;
    for (char c : seg.text) {
      if (c == ' ')
        normalized += space_symbol_;
      else
        normalized += c;
    }
    if (!split_on_space_) {
      encode_word(normalized, out);
      continue;
    }
    // Metaspace split: every word starts at a space symbol.
    std::string_view rest = normalized;
    while (!rest.empty()) {
      std::size_t next = rest.find(space_symbol_, 1);
      if (next == std::string_view::npos) next = rest.size();
      encode_word(rest.substr(0, next), out);
      rest.remove_prefix(next);
    }
  }
  return out;
}

void SentencePieceBpeTokenizer::check_id(int64_t id) const {
  if (id < 0 || id >= vocab_size())
    throw Error(
        "token id " + std::to_string(id) + " is outside the vocabulary (size " + std::to_string(vocab_size()) + ")",
        "tokenizer " + source_, "token ids must come from this model's vocabulary");
}

std::string SentencePieceBpeTokenizer::decode_piece(int64_t prev_id, int64_t id, bool skip_special) const {
  check_id(id);
  if (skip_special && special_[id]) return {};
  const std::string& text = bytes_[id];
  // The space encode() prepended: the first piece of the text, or the first
  // after a skipped BOS (as llama2.c's run.c and Hugging Face's Strip decoder).
  bool first = prev_id < 0 || (skip_special && prev_id == bos_id_);
  if (strip_leading_space_ && first && !is_byte_[id] && !text.empty() && text[0] == ' ') return text.substr(1);
  return text;
}

std::string SentencePieceBpeTokenizer::token_bytes(int64_t id) const {
  check_id(id);
  return bytes_[id];
}

std::string SentencePieceBpeTokenizer::token_string(int64_t id) const {
  check_id(id);
  return tokens_[id];
}

bool SentencePieceBpeTokenizer::is_special(int64_t id) const {
  check_id(id);
  return special_[id] != 0;
}

}  // namespace nnsight
