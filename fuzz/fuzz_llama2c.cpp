// Fuzz target: llama2.c checkpoints (read_llama2c_file): header checks, the
// size computation and the weight views into the mapping.

#include "fuzz_support.h"
#include "nnsight/runtime/loaders/llama2c.h"
#include "nnsight/runtime/loaders/mapped_file.h"

using namespace nnsight;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_scratch("model.bin", fuzz::bytes_of(data, size));
  fuzz::only_errors([&] {
    const ModelFiles mf = read_llama2c_file(path);
    fuzz::must_succeed("reading the weights of a loaded checkpoint", [&] {
      const auto file = MappedFile::open(path);  // for the size only: views point into read_llama2c_file's mapping
      std::size_t bytes = 0;
      for (const auto& name : mf.weights.remaining()) {
        const at::Tensor t = mf.weights.peek(name);
        if (!t.defined() || t.scalar_type() != at::kFloat) fuzz::finding("weight " + name + " is not float32");
        const auto n = static_cast<std::size_t>(t.numel()) * t.element_size();
        bytes += n;
        fuzz::touch_bytes(t.data_ptr(), n);  // a view past the mapping faults here
      }
      if (bytes > file->size()) fuzz::finding("the weights span more bytes than the file holds");
      mf.config.validate(path);
    });
  });
  return 0;
}
