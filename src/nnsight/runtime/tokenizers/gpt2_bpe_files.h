#pragma once
/// @file
/// GPT-2 BPE from its two classic files: a JSON vocabulary (vocab.json or
/// OpenAI's encoder.json: token -> id) and a merges list (merges.txt or
/// vocab.bpe: "#version" header, then one "left right" pair per line in rank
/// order). Same formats under both names.

#include <memory>
#include <string>

#include "nnsight/runtime/tokenizers/byte_level_bpe.h"

namespace nnsight {

/// The plain data; special tokens come from tokenizer_config.json /
/// special_tokens_map.json beside the vocabulary when present, and
/// "<|endoftext|>" (BOS = EOS) otherwise. Throws nnsight::Error naming the file
/// that is missing or malformed.
ByteLevelBpeData read_gpt2_bpe_data(const std::string& vocab_path, const std::string& merges_path);

/// A tokenizer for the two files (see read_gpt2_bpe_data).
std::unique_ptr<ByteLevelBpeTokenizer> load_gpt2_bpe_files(const std::string& vocab_path,
                                                           const std::string& merges_path);

}  // namespace nnsight
