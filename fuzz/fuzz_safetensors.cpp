// Fuzz target: safetensors files (SafetensorsFile::open, every tensor view,
// and TensorBlob::load, which reads graph blobs from files).

#include "fuzz_support.h"
#include "nnsight/format/tensor_blob.h"
#include "nnsight/runtime/loaders/safetensors.h"

using namespace nnsight;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_scratch("model.safetensors", fuzz::bytes_of(data, size));
  fuzz::only_errors([&] {
    const SafetensorsFile f = SafetensorsFile::open(path);
    fuzz::must_succeed("reading the tensors of an opened file", [&] {
      for (const auto& name : f.names()) fuzz::check_view(f.tensor(name), *f.mapping(), name);
      (void)f.metadata();
    });
  });
  fuzz::only_errors([&] {
    format::DecodeLimits limits;
    limits.max_tensor_bytes = 1u << 20;
    limits.max_total_tensor_bytes = 4u << 20;
    (void)format::TensorBlob::load(path, limits);
  });
  return 0;
}
