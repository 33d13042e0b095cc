// Fuzz target: llama2.c tokenizer files (tok512.bin / tokenizer.bin), read to
// the end of the file as load_tokenizer does. A tokenizer that loads must
// encode and decode (fuzz_support.h).

#include "fuzz_support.h"
#include "nnsight/runtime/tokenizers/llama2c_tokenizer.h"

using namespace nnsight;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_scratch("tok.bin", fuzz::bytes_of(data, size));
  fuzz::only_errors([&] {
    const auto tok = load_llama2c_tokenizer(path);
    fuzz::exercise_tokenizer(*tok);
  });
  return 0;
}
