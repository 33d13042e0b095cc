#pragma once
// What `nnsight trace` does with a saved value: its tensors under names in a
// safetensors file, or a short summary on stdout (shape, dtype, statistics,
// and the top-5 tokens when the last dimension is the vocabulary).

#include <cstdint>
#include <ostream>
#include <string>

#include "nnsight/base/value.h"
#include "nnsight/format/tensor_blob.h"
#include "nnsight/runtime/tokenizers/tokenizer.h"

namespace nnsight::cli {

/// Adds the tensors of `value` to `blob`: a tensor under `name`; items of a
/// tuple or list under "name[i]", of a dict under "name['key']"; numbers and
/// bools as 0-dim tensors; strings and None are left out. Throws Error when a
/// name is taken.
void add_saved(format::TensorBlob& blob, const std::string& name, const Value& value);

/// Prints one line per tensor of `value` (named as add_saved names them):
/// "name: float32 [1, 5, 64]  mean 0.01  std 0.9  min -3.2  max 4.1", and for
/// a floating tensor whose last dimension is `vocab_size`, the top-5 tokens at
/// its last position ("  top-5 at the last position: 'the' 9.81, ...").
void print_saved(std::ostream& out, const std::string& name, const Value& value, const Tokenizer& tokenizer,
                 int64_t vocab_size);

}  // namespace nnsight::cli
