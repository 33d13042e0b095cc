#pragma once
/// @file
/// tokenizer_from_gguf: the tokenizer embedded in a GGUF file's metadata
/// (tokenizer.ggml.*), for the "llama" (SentencePiece BPE by score) and "gpt2"
/// (byte-level BPE by merge rank) vocabulary models.

#include <memory>

#include "nnsight/runtime/tokenizers/tokenizer.h"

namespace nnsight {

class GgufFile;

/// Throws nnsight::Error naming the file when the vocabulary is missing or of
/// an unsupported tokenizer.ggml.model.
std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufFile& file, const std::string& path);

}  // namespace nnsight
