#include "nnsight/runtime/model_loader.h"

#include <filesystem>

#include "nnsight/base/error.h"
#include "nnsight/runtime/gguf_tokenizer.h"
#include "nnsight/runtime/loaders/gguf.h"
#include "nnsight/runtime/loaders/model_files.h"
#include "nnsight/runtime/tokenizers/tokenizer_loader.h"

namespace nnsight {
namespace fs = std::filesystem;
namespace {

// A llama2.c checkpoint has no vocabulary of its own; accept one unambiguous
// tokenizer .bin beside it.
std::string llama2c_tokenizer_beside(const fs::path& model) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(model.parent_path().empty() ? "." : model.parent_path())) {
    const std::string name = entry.path().filename().string();
    if (entry.path() == model || entry.path().extension() != ".bin") continue;
    if (name.rfind("tok", 0) == 0) found.push_back(entry.path());
  }
  return found.size() == 1 ? found.front().string() : std::string();
}

std::shared_ptr<const Tokenizer> find_tokenizer(const std::string& path, const ModelFiles& files,
                                                const LoadOptions& options) {
  if (!options.tokenizer_path.empty()) return load_tokenizer(options.tokenizer_path);
  const fs::path p(path);
  if (files.gguf) {
    if (files.gguf->has("tokenizer.ggml.model")) return tokenizer_from_gguf(*files.gguf, path);
  } else if (fs::is_directory(p)) {
    for (const char* name : {"tokenizer.json", "vocab.json", "encoder.json"})
      if (fs::exists(p / name)) return load_tokenizer(path);
  } else if (p.extension() == ".bin") {
    if (std::string tok = llama2c_tokenizer_beside(p); !tok.empty()) return load_tokenizer(tok);
  }
  if (!options.require_tokenizer) return nullptr;
  throw Error("no tokenizer found for model '" + path + "'",
              fs::is_directory(p)
                  ? "looked in " + path + " for tokenizer.json, vocab.json + merges.txt, encoder.json + vocab.bpe"
                  : "looked beside " + path + " for a tok*.bin llama2.c tokenizer",
              "pass the tokenizer file with --tokenizer FILE (e.g. tok512.bin for stories260K)");
}

}  // namespace

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "fp32" || name == "float32" || name == "float") return at::kFloat;
  if (name == "bf16" || name == "bfloat16") return at::kBFloat16;
  throw Error("unknown dtype '" + name + "'", "", "use fp32 or bf16 (fp16 compute is not supported on CPU)");
}

LoadedModel load_model(const std::string& path, const LoadOptions& options) {
  ModelFiles files = read_model_files(path);
  LoadedModel out;
  out.source = path;
  out.tokenizer = find_tokenizer(path, files, options);
  files.config.dtype = options.dtype;
  out.model = build_model(files.config, files.weights);
  return out;
}

}  // namespace nnsight
