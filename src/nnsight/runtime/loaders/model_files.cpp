#include "nnsight/runtime/loaders/model_files.h"

#include <filesystem>
#include <set>

#include "nnsight/base/error.h"
#include "nnsight/runtime/loaders/gguf.h"
#include "nnsight/runtime/loaders/hf_config.h"
#include "nnsight/runtime/loaders/llama2c.h"
#include "nnsight/runtime/loaders/safetensors.h"

namespace fs = std::filesystem;

namespace nnsight {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Maps a checkpoint name to the canonical HF name for `config`, or "" to drop it.
std::string canonical_name(const ModelConfig& config, const std::string& name) {
  std::string n = config.arch == Architecture::GPT2 ? normalize_gpt2_name(name) : normalize_llama_name(name);
  // A tied classifier is the embedding; a stored copy of it is redundant.
  if (config.tie_word_embeddings && n == "lm_head.weight") return {};
  // Llama checkpoints from old transformers versions carry this non-parameter buffer.
  if (ends_with(n, ".self_attn.rotary_emb.inv_freq")) return {};
  return n;
}

void add_safetensors(ModelFiles& mf, const SafetensorsFile& st, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    std::string canon = canonical_name(mf.config, name);
    if (canon.empty()) continue;
    at::Tensor t = st.tensor(name);
    if (t.scalar_type() == at::kHalf) t = t.to(at::kFloat);  // CPU kernels do not compute in fp16
    if (mf.weights.contains(canon))
      throw Error("tensor '" + canon + "' appears twice (as '" + name + "' and under another name)",
                  "file " + st.path() + ", tensor " + name, "the checkpoint is malformed");
    mf.weights.add(canon, std::move(t), st.path());
  }
}

}  // namespace

std::string normalize_gpt2_name(const std::string& name) {
  // The causal-mask buffers of old GPT-2 checkpoints are not parameters ("attn.c_attn.bias" is).
  if (ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias")) return {};
  static const char* const kTopLevel[] = {"h.", "wte.", "wpe.", "ln_f."};
  for (const char* p : kTopLevel)
    if (name.rfind(p, 0) == 0) return "transformer." + name;
  return name;
}

std::string normalize_llama_name(const std::string& name) {
  // A bare LlamaModel (no LM head) is saved without the "model." prefix.
  static const char* const kTopLevel[] = {"layers.", "embed_tokens.", "norm."};
  for (const char* p : kTopLevel)
    if (name.rfind(p, 0) == 0) return "model." + name;
  return name;
}

ModelFiles read_hf_directory(const std::string& dir) {
  ModelFiles mf;
  mf.source = dir;
  const fs::path d(dir);
  mf.config = read_hf_config((d / "config.json").string());
  const fs::path single = d / "model.safetensors", index = d / "model.safetensors.index.json";
  if (fs::exists(single)) {
    SafetensorsFile st = SafetensorsFile::open(single.string());
    add_safetensors(mf, st, st.names());
  } else if (fs::exists(index)) {
    std::map<std::string, std::vector<std::string>> by_shard;
    for (const auto& [name, shard] : read_safetensors_index(index.string())) by_shard[shard].push_back(name);
    for (const auto& [shard, names] : by_shard) {
      SafetensorsFile st = SafetensorsFile::open(shard);
      for (const auto& n : names)
        if (!st.contains(n))
          throw Error("the index lists tensor '" + n + "' in this shard but the shard does not contain it",
                      "file " + shard + " (from " + index.string() + ")", "re-download the checkpoint");
      add_safetensors(mf, st, names);
    }
  } else {
    std::string hint = "the directory needs model.safetensors or model.safetensors.index.json";
    if (fs::exists(d / "pytorch_model.bin") || fs::exists(d / "pytorch_model.bin.index.json"))
      hint +=
          "; only PyTorch pickle weights are present: convert them to safetensors (e.g. with "
          "transformers' save_pretrained(..., safe_serialization=True))";
    throw Error("no safetensors weights found", "directory " + dir, hint);
  }
  return mf;
}

ModelFiles read_model_files(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st))
    throw Error("model path does not exist", "path " + path,
                "pass a Hugging Face model directory, a .gguf file or a llama2.c .bin file");
  if (fs::is_directory(st)) {
    if (!fs::exists(fs::path(path) / "config.json"))
      throw Error("directory has no config.json", "directory " + path,
                  "a Hugging Face model directory needs config.json and model.safetensors");
    return read_hf_directory(path);
  }
  if (ends_with(path, ".gguf")) return read_gguf_model(path);
  if (ends_with(path, ".bin")) return read_llama2c_file(path);
  if (ends_with(path, ".safetensors"))
    throw Error("a bare .safetensors file has no model configuration", "file " + path,
                "pass the directory holding it together with its config.json");
  throw Error("unrecognised model file type", "file " + path,
              "pass a Hugging Face model directory, a .gguf file or a llama2.c .bin file");
}

}  // namespace nnsight
