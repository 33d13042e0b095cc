#pragma once
/// @file
/// Hugging Face tokenizer.json (model.type "BPE") -> a Tokenizer.
///
/// Byte-level BPE (GPT-2, Llama 3, Qwen: a ByteLevel pre-tokenizer/decoder)
/// becomes a ByteLevelBpeTokenizer; SentencePiece-style BPE (Llama 1/2,
/// Mistral: byte_fallback, "▁" via a Prepend/Replace normalizer or a Metaspace
/// pre-tokenizer) a SentencePieceBpeTokenizer. BOS/EOS come from
/// tokenizer_config.json / special_tokens_map.json next to the file when
/// present, else from the post-processor template and well-known token names.

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "nnsight/runtime/tokenizers/tokenizer.h"
#include "nnsight/runtime/tokenizers/tokenizer_files.h"

namespace nnsight {

/// Loads a tokenizer.json file; throws nnsight::Error naming the file when it
/// is missing, not JSON, or of an unsupported kind.
std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& path);

/// Builds the tokenizer from parsed tokenizer.json content. `source` names the
/// file in errors; `config` carries the special-token settings found beside it.
std::unique_ptr<Tokenizer> hf_tokenizer_from_json(const nlohmann::json& j, const std::string& source,
                                                  const tokenizer_files::SpecialTokenConfig& config = {});

}  // namespace nnsight
