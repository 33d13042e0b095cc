#pragma once
/// @file
/// llama2.c tokenizer files (tok512.bin, tokenizer.bin).
///
/// Format: int32 max_token_length, then per token: float32 score, int32 length,
/// `length` bytes. Spaces are stored as " " (not "▁"); ids 0/1/2 are
/// `<unk>`/BOS/EOS and ids 3..258 the byte tokens `<0x00>`..`<0xFF>`. The returned
/// tokenizer encodes and decodes exactly as llama2.c's run.c: a " " dummy prefix
/// for non-empty text, byte fallback to id byte+3, merges by highest score, and
/// decode strips the leading space of the first piece after BOS.

#include <memory>
#include <string>

#include "nnsight/runtime/tokenizers/sentencepiece_bpe.h"

namespace nnsight {

/// The plain data of a llama2.c tokenizer file. Reads `vocab_size` tokens, or
/// up to the end of the file when vocab_size < 0. Throws nnsight::Error naming
/// the file when it is missing, truncated or implausible.
SentencePieceBpeData read_llama2c_tokenizer_data(const std::string& path, int64_t vocab_size = -1);

/// A tokenizer for a llama2.c tokenizer file (see read_llama2c_tokenizer_data).
std::unique_ptr<SentencePieceBpeTokenizer> load_llama2c_tokenizer(const std::string& path, int64_t vocab_size = -1);

}  // namespace nnsight
