#pragma once
/// @file
/// Small UTF-8 helpers shared by the tokenizers and the streaming decoder.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nnsight::utf8 {

/// Appends the UTF-8 encoding of `cp` to `out`.
void append(std::string& out, uint32_t cp);

/// The UTF-8 encoding of `cp`.
std::string encode(uint32_t cp);

/// Length of the "character" starting at s[pos], the way llama2.c chunks text:
/// one byte plus the continuation bytes (10xxxxxx) after it, at most 4 bytes.
/// Valid UTF-8 gives whole code points; stray bytes come out one at a time.
std::size_t char_length(std::string_view s, std::size_t pos);

/// Decodes the code point starting at s[pos] and sets `len` to its byte length.
/// Invalid sequences yield the single byte value with len = 1.
uint32_t decode_at(std::string_view s, std::size_t pos, std::size_t& len);

/// Number of leading bytes of `s` that can be emitted now: everything except a
/// trailing, still incomplete (but so far valid) multi-byte sequence.
std::size_t complete_prefix_length(std::string_view s);

/// True if `s` is entirely valid UTF-8.
bool is_valid(std::string_view s);

}  // namespace nnsight::utf8
