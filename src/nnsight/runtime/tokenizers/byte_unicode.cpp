#include "nnsight/runtime/tokenizers/byte_unicode.h"

#include "nnsight/runtime/tokenizers/utf8.h"

namespace nnsight {

const ByteUnicodeTable& ByteUnicodeTable::get() {
  static const ByteUnicodeTable table;
  return table;
}

ByteUnicodeTable::ByteUnicodeTable() {
  cp_to_byte_.fill(-1);
  auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
  uint32_t next_extra = 256;
  for (int b = 0; b < 256; ++b) {
    uint32_t cp = printable(b) ? static_cast<uint32_t>(b) : next_extra++;
    byte_to_cp_[b] = cp;
    byte_to_utf8_[b] = utf8::encode(cp);
    cp_to_byte_[cp] = static_cast<int16_t>(b);
  }
}

std::string ByteUnicodeTable::decode(std::string_view token) const {
  std::string out;
  out.reserve(token.size());
  for (std::size_t pos = 0; pos < token.size();) {
    std::size_t len = 0;
    uint32_t cp = utf8::decode_at(token, pos, len);
    int b = (len == 1 && cp >= 0x80) ? -1 : codepoint_to_byte(cp);
    if (b >= 0)
      out += static_cast<char>(b);
    else
      out.append(token.substr(pos, len));
    pos += len;
  }
  return out;
}

std::string ByteUnicodeTable::encode(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += byte_to_utf8_[static_cast<uint8_t>(c)];
  return out;
}

}  // namespace nnsight
