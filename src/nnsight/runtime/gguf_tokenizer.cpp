#include "nnsight/runtime/gguf_tokenizer.h"

#include "nnsight/base/error.h"
#include "nnsight/runtime/loaders/gguf.h"
#include "nnsight/runtime/tokenizers/byte_level_bpe.h"
#include "nnsight/runtime/tokenizers/sentencepiece_bpe.h"

namespace nnsight {
namespace {

constexpr int32_t kControlType = 3;
constexpr int32_t kUserDefinedType = 4;

// Converters write "no such token" as 0xFFFFFFFF (or any id past the end).
int64_t token_id(const GgufFile& file, const std::string& key, std::size_t vocab_size) {
  const int64_t id = file.get_int(key, -1);
  return id >= 0 && id < static_cast<int64_t>(vocab_size) ? id : -1;
}

std::vector<int32_t> token_types(const GgufFile& file, std::size_t n) {
  std::vector<int32_t> types;
  if (!file.has("tokenizer.ggml.token_type")) return types;
  for (int64_t t : file.get_int_array("tokenizer.ggml.token_type")) types.push_back(static_cast<int32_t>(t));
  types.resize(n, 1);
  return types;
}

std::unique_ptr<Tokenizer> sentencepiece_from_gguf(const GgufFile& file, const std::string& path) {
  SentencePieceBpeData data;
  data.tokens = file.get_string_array("tokenizer.ggml.tokens");
  for (double s : file.get_float_array("tokenizer.ggml.scores")) data.scores.push_back(static_cast<float>(s));
  data.token_types = token_types(file, data.tokens.size());
  data.bos_id = token_id(file, "tokenizer.ggml.bos_token_id", data.tokens.size());
  data.eos_id = token_id(file, "tokenizer.ggml.eos_token_id", data.tokens.size());
  data.unk_id = token_id(file, "tokenizer.ggml.unknown_token_id", data.tokens.size());
  data.pad_id = token_id(file, "tokenizer.ggml.padding_token_id", data.tokens.size());
  data.add_bos = file.has("tokenizer.ggml.add_bos_token") ? file.get_bool("tokenizer.ggml.add_bos_token") : true;
  if (file.has("tokenizer.ggml.add_space_prefix"))
    data.add_space_prefix = file.get_bool("tokenizer.ggml.add_space_prefix");
  // Control tokens (<s>, </s>) never appear as text; user-defined ones are cut out verbatim.
  for (std::size_t i = 0; i < data.token_types.size(); ++i)
    if (data.token_types[i] == kUserDefinedType)
      data.added_tokens.push_back({data.tokens[i], static_cast<int64_t>(i), false, false, false});
  return std::make_unique<SentencePieceBpeTokenizer>(std::move(data), path);
}

std::unique_ptr<Tokenizer> byte_level_from_gguf(const GgufFile& file, const std::string& path) {
  ByteLevelBpeData data;
  data.tokens = file.get_string_array("tokenizer.ggml.tokens");
  for (const std::string& merge : file.get_string_array("tokenizer.ggml.merges")) {
    const auto space = merge.find(' ');
    if (space == std::string::npos)
      throw Error("malformed merge rule '" + merge + "' (expected two pieces separated by a space)",
                  "file " + path + ", key tokenizer.ggml.merges");
    data.merges.emplace_back(merge.substr(0, space), merge.substr(space + 1));
  }
  const auto types = token_types(file, data.tokens.size());
  for (std::size_t i = 0; i < types.size(); ++i)
    if (types[i] == kControlType || types[i] == kUserDefinedType)
      data.added_tokens.push_back({data.tokens[i], static_cast<int64_t>(i), types[i] == kControlType, false, false});
  data.bos_id = token_id(file, "tokenizer.ggml.bos_token_id", data.tokens.size());
  data.eos_id = token_id(file, "tokenizer.ggml.eos_token_id", data.tokens.size());
  data.pad_id = token_id(file, "tokenizer.ggml.padding_token_id", data.tokens.size());
  data.add_bos = file.has("tokenizer.ggml.add_bos_token") && file.get_bool("tokenizer.ggml.add_bos_token");
  return std::make_unique<ByteLevelBpeTokenizer>(std::move(data), path);
}

}  // namespace

std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufFile& file, const std::string& path) {
  if (!file.has("tokenizer.ggml.model") || !file.has("tokenizer.ggml.tokens"))
    throw Error("the GGUF file has no embedded tokenizer (no tokenizer.ggml.model / tokenizer.ggml.tokens)",
                "file " + path, "pass a tokenizer file with --tokenizer");
  const std::string model = file.get_string("tokenizer.ggml.model");
  if (model == "llama") return sentencepiece_from_gguf(file, path);
  if (model == "gpt2") return byte_level_from_gguf(file, path);
  throw Error("unsupported GGUF tokenizer model '" + model + "'", "file " + path + ", key tokenizer.ggml.model",
              "supported: llama (SentencePiece BPE), gpt2 (byte-level BPE); pass --tokenizer FILE instead");
}

}  // namespace nnsight
