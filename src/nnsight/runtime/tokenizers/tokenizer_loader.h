#pragma once
/// @file
/// load_tokenizer(path): one entry point for every tokenizer file layout.
///
/// Accepts
///   - a Hugging Face tokenizer.json file,
///   - a folder holding tokenizer.json, or vocab.json + merges.txt, or
///     encoder.json + vocab.bpe (checked in that order),
///   - vocab.json / encoder.json / merges.txt / vocab.bpe (the partner file is
///     taken from the same folder),
///   - a llama2.c tokenizer .bin (tok512.bin, tokenizer.bin).
///
/// Missing or unreadable files throw nnsight::Error naming the path and the
/// files looked for; corrupt files throw nnsight::Error naming the file.

#include <memory>
#include <string>

#include "nnsight/runtime/tokenizers/tokenizer.h"

namespace nnsight {

/// The tokenizer stored at `path` (a file or a folder, see above).
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace nnsight
