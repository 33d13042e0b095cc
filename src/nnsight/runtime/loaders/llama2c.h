#pragma once
/// @file
/// Reader for llama2.c checkpoints (Karpathy's run.c ".bin" format, legacy
/// version 0): a header of 7 int32 (dim, hidden_dim, n_layers, n_heads,
/// n_kv_heads, vocab_size, seq_len; a negative vocab_size means the classifier
/// is stored separately), then float32 weights. Weights come back as views into
/// the memory-mapped file under Hugging Face Llama names; q/k rows keep
/// llama2.c's interleaved RoPE order (RopeStyle::Interleaved).

#include <string>

#include "nnsight/runtime/loaders/model_files.h"

namespace nnsight {

/// Reads `path`. Throws nnsight::Error naming the file for a bad header, the
/// newer versioned export format, or a size that does not match the header
/// (stating the expected and actual byte counts).
ModelFiles read_llama2c_file(const std::string& path);

}  // namespace nnsight
