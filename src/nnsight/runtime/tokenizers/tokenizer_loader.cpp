#include "nnsight/runtime/tokenizers/tokenizer_loader.h"

#include <filesystem>

#include "nnsight/base/error.h"
#include "nnsight/runtime/tokenizers/gpt2_bpe_files.h"
#include "nnsight/runtime/tokenizers/hf_tokenizer_json.h"
#include "nnsight/runtime/tokenizers/llama2c_tokenizer.h"
#include "nnsight/runtime/tokenizers/tokenizer_files.h"

namespace nnsight {
namespace {

namespace fs = std::filesystem;
using tokenizer_files::is_file;

constexpr const char* kHint =
    "pass --tokenizer FILE with a tokenizer.json, vocab.json + merges.txt, "
    "encoder.json + vocab.bpe, or a llama2.c tokenizer .bin";

std::unique_ptr<Tokenizer> load_from_folder(const std::string& dir) {
  if (is_file(dir + "/tokenizer.json")) return load_hf_tokenizer_json(dir + "/tokenizer.json");
  if (is_file(dir + "/vocab.json") && is_file(dir + "/merges.txt"))
    return load_gpt2_bpe_files(dir + "/vocab.json", dir + "/merges.txt");
  if (is_file(dir + "/encoder.json") && is_file(dir + "/vocab.bpe"))
    return load_gpt2_bpe_files(dir + "/encoder.json", dir + "/vocab.bpe");
  throw Error("no tokenizer found in folder",
              "folder " + dir + " (looked for tokenizer.json, vocab.json + merges.txt, encoder.json + vocab.bpe)",
              is_file(dir + "/tokenizer.model")
                  ? std::string("SentencePiece tokenizer.model files are not supported; ") + kHint
                  : kHint);
}

/// A vocabulary or merges file of a pair: the partner must sit beside it.
std::unique_ptr<Tokenizer> load_pair(const std::string& path, const std::string& vocab_name,
                                     const std::string& merges_name) {
  std::string dir = tokenizer_files::folder_of(path);
  std::string vocab = dir + "/" + vocab_name, merges = dir + "/" + merges_name;
  for (const auto& f : {vocab, merges})
    if (!is_file(f))
      throw Error("tokenizer file missing", "file " + f + " (needed together with " + path + ")",
                  "put " + vocab_name + " and " + merges_name + " in the same folder, or " + kHint);
  return load_gpt2_bpe_files(vocab, merges);
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  std::error_code ec;
  if (path.empty()) throw Error("no tokenizer path given", {}, kHint);
  if (fs::is_directory(path, ec)) return load_from_folder(path);
  if (!fs::exists(path, ec))
    throw Error("tokenizer file not found",
                "path " + path +
                    " (looked for a tokenizer.json, vocab.json + merges.txt, encoder.json + vocab.bpe or a "
                    "llama2.c .bin)",
                kHint);

  std::string name = fs::path(path).filename().string();
  std::string ext = fs::path(path).extension().string();
  if (name == "vocab.json" || name == "merges.txt") return load_pair(path, "vocab.json", "merges.txt");
  if (name == "encoder.json" || name == "vocab.bpe") return load_pair(path, "encoder.json", "vocab.bpe");
  if (ext == ".json") return load_hf_tokenizer_json(path);
  if (ext == ".bin") return load_llama2c_tokenizer(path);
  if (ext == ".gguf")
    throw Error("GGUF tokenizers are loaded together with the GGUF model", "file " + path,
                "load the .gguf model itself, or " + std::string(kHint));
  if (ext == ".model")
    throw Error("SentencePiece .model files are not supported", "file " + path,
                "use the model's tokenizer.json instead, or " + std::string(kHint));
  throw Error("unrecognised tokenizer file type '" + ext + "'", "file " + path, kHint);
}

}  // namespace nnsight
