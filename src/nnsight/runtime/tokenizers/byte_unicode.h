#pragma once
/// @file
/// GPT-2's reversible byte <-> unicode mapping.
///
/// Byte-level BPE vocabularies store every byte as a printable code point:
/// bytes that are already printable (and not a space) map to themselves, the
/// rest to U+0100 upwards in order (space 0x20 becomes "Ġ" U+0120, newline "Ċ").

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace nnsight {

/// The byte <-> code point table of byte-level BPE vocabularies (one shared instance).
class ByteUnicodeTable {
 public:
  /// The shared table (built once).
  static const ByteUnicodeTable& get();

  /// UTF-8 of the code point standing for byte `b`.
  const std::string& byte_to_utf8(uint8_t b) const { return byte_to_utf8_[b]; }

  /// The code point standing for byte `b`.
  uint32_t byte_to_codepoint(uint8_t b) const { return byte_to_cp_[b]; }

  /// The byte a code point stands for, or -1 if it is not part of the table.
  int codepoint_to_byte(uint32_t cp) const { return cp < cp_to_byte_.size() ? cp_to_byte_[cp] : -1; }

  /// Maps a vocabulary string ("Ġhello") back to raw bytes (" hello"). Code
  /// points outside the table are kept as their UTF-8.
  std::string decode(std::string_view token) const;

  /// Maps raw bytes to the vocabulary alphabet (" hello" -> "Ġhello").
  std::string encode(std::string_view bytes) const;

 private:
  ByteUnicodeTable();
  std::array<std::string, 256> byte_to_utf8_;
  std::array<uint32_t, 256> byte_to_cp_{};
  std::array<int16_t, 512> cp_to_byte_{};
};

}  // namespace nnsight
