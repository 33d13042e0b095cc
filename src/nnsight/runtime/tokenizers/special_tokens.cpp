#include "nnsight/runtime/tokenizers/special_tokens.h"

#include <algorithm>

namespace nnsight {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

SpecialTokenSplitter::SpecialTokenSplitter(const std::vector<AddedToken>& tokens) {
  for (const auto& t : tokens)
    if (!t.content.empty()) tokens_.push_back(t);
  for (int i = 0; i < static_cast<int>(tokens_.size()); ++i)
    by_first_byte_[static_cast<uint8_t>(tokens_[i].content[0])].push_back(i);
  for (auto& list : by_first_byte_)
    std::stable_sort(list.begin(), list.end(),
                     [&](int a, int b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
}

std::vector<TextSegment> SpecialTokenSplitter::split(std::string_view text) const {
  std::vector<TextSegment> out;
  std::size_t plain_begin = 0;  // start of the pending plain text
  std::size_t pos = 0;
  auto flush_plain = [&](std::size_t end) {
    if (end > plain_begin) out.push_back({text.substr(plain_begin, end - plain_begin), -1, plain_begin == 0});
  };
  while (pos < text.size()) {
    const AddedToken* match = nullptr;
    for (int i : by_first_byte_[static_cast<uint8_t>(text[pos])]) {
      const auto& t = tokens_[i];
      if (text.compare(pos, t.content.size(), t.content) == 0) {
        match = &t;
        break;
      }
    }
    if (!match) {
      ++pos;
      continue;
    }
    std::size_t begin = pos, end = pos + match->content.size();
    if (match->lstrip)
      while (begin > plain_begin && is_space(text[begin - 1])) --begin;
    if (match->rstrip)
      while (end < text.size() && is_space(text[end])) ++end;
    flush_plain(begin);
    out.push_back({{}, match->id, false});
    plain_begin = pos = end;
  }
  flush_plain(text.size());
  return out;
}

}  // namespace nnsight
