#pragma once
/// @file
/// read_model_files: one entry point for every supported model file format.
///
/// ```
///   directory with config.json + model.safetensors (or a sharded
///       model.safetensors.index.json)               -> Hugging Face checkpoint
///   file ending in .gguf                            -> GGUF (llama, gpt2, qwen2)
///   file ending in .bin                             -> llama2.c checkpoint
/// ```
///
/// Whatever the format, the weights come back under Hugging Face parameter
/// names (model.layers.N.self_attn.q_proj.weight, transformer.h.N.attn.c_attn.weight,
/// ...), with GPT-2's Conv1D weights in HF's [in, out] layout, and lm_head.weight
/// present only when the classifier is not tied to the embedding. Tensors keep
/// the file's dtype, except F16 and quantised data, which become float32.
/// config.rope_style says how q/k rows are ordered (HF: RotateHalf; llama2.c
/// and GGUF llama: Interleaved).

#include <memory>
#include <string>

#include "nnsight/runtime/loaders/weight_store.h"
#include "nnsight/runtime/model_config.h"

namespace nnsight {

class GgufFile;

/// A model as read from its files: configuration and every tensor by Hugging Face name.
struct ModelFiles {
  ModelConfig config;   ///< the architecture and sizes
  WeightStore weights;  ///< tensors by normalised Hugging Face name
  std::string source;   ///< the path given to read_model_files
  /// For GGUF: the parsed file, so tokenizer metadata (tokenizer.ggml.*) can be read. Null otherwise.
  std::shared_ptr<const GgufFile> gguf;
};

/// Reads a model from `path` (see the header comment for the formats).
/// Throws nnsight::Error naming the file (and tensor) for a missing path, an
/// unrecognised format, or any corrupt/inconsistent content.
ModelFiles read_model_files(const std::string& path);

/// Reads a Hugging Face checkpoint directory (config.json + safetensors).
ModelFiles read_hf_directory(const std::string& dir);

/// Hugging Face name normalisation for GPT-2 checkpoints: adds the
/// "transformer." prefix when missing ("h.0.ln_1.weight" ->
/// "transformer.h.0.ln_1.weight"). Returns "" for the non-parameter buffers
/// attn.bias / attn.masked_bias, which are to be dropped.
std::string normalize_gpt2_name(const std::string& name);

/// The same for Llama-like checkpoints: adds the "model." prefix to names
/// saved from a bare LlamaModel ("layers.0.mlp.up_proj.weight").
std::string normalize_llama_name(const std::string& name);

}  // namespace nnsight
