#include "nnsight/runtime/tokenizers/utf8.h"

namespace nnsight::utf8 {
namespace {

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

/// Total length announced by a lead byte, 0 if `c` cannot start a sequence.
std::size_t sequence_length(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

}  // namespace

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string encode(uint32_t cp) {
  std::string out;
  append(out, cp);
  return out;
}

std::size_t char_length(std::string_view s, std::size_t pos) {
  std::size_t len = 1;
  while (pos + len < s.size() && len < 4 && is_continuation(static_cast<unsigned char>(s[pos + len]))) ++len;
  return len;
}

uint32_t decode_at(std::string_view s, std::size_t pos, std::size_t& len) {
  auto lead = static_cast<unsigned char>(s[pos]);
  std::size_t n = sequence_length(lead);
  len = 1;
  if (n <= 1 || pos + n > s.size()) return lead;
  uint32_t cp = lead & (0x7F >> n);
  for (std::size_t i = 1; i < n; ++i) {
    auto c = static_cast<unsigned char>(s[pos + i]);
    if (!is_continuation(c)) return lead;
    cp = (cp << 6) | (c & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return lead;
  len = n;
  return cp;
}

std::size_t complete_prefix_length(std::string_view s) {
  // An incomplete sequence is at most 3 bytes: look back for its lead byte.
  std::size_t back = 0;
  while (back < 3 && back < s.size() && is_continuation(static_cast<unsigned char>(s[s.size() - 1 - back]))) ++back;
  if (back == s.size()) return s.size();  // only continuation bytes: nothing to wait for
  std::size_t lead_pos = s.size() - 1 - back;
  std::size_t need = sequence_length(static_cast<unsigned char>(s[lead_pos]));
  if (need > back + 1) return lead_pos;  // the sequence can still be completed by later bytes
  return s.size();
}

bool is_valid(std::string_view s) {
  for (std::size_t pos = 0; pos < s.size();) {
    std::size_t len = 0;
    uint32_t cp = decode_at(s, pos, len);
    if (len == 1 && cp >= 0x80) return false;
    pos += len;
  }
  return true;
}

}  // namespace nnsight::utf8
