// Fuzz target: TensorBlob::from_bytes, the attached tensor blob of a graph
// (safetensors bytes from an untrusted client). A blob that parses must write
// back to bytes that parse to the same tensors.

#include <cstring>

#include "fuzz_support.h"
#include "nnsight/format/tensor_blob.h"

using namespace nnsight;
using namespace nnsight::format;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  DecodeLimits limits;
  limits.max_tensor_bytes = 1u << 20;
  limits.max_total_tensor_bytes = 4u << 20;
  fuzz::only_errors([&] {
    const TensorBlob blob = TensorBlob::from_bytes(fuzz::bytes_of(data, size), limits);
    fuzz::must_succeed("round trip of a parsed blob", [&] {
      const TensorBlob back = TensorBlob::from_bytes(blob.to_bytes(), limits);
      if (back.size() != blob.size()) fuzz::finding("round trip changed the tensor count");
      for (const auto& [name, t] : blob.tensors()) {
        const auto u = back.get(name);
        if (!u || u->scalar_type() != t.scalar_type() || u->sizes() != t.sizes() ||
            std::memcmp(u->data_ptr(), t.data_ptr(), t.numel() * t.element_size()) != 0)
          fuzz::finding("round trip changed tensor " + name);
      }
    });
  });
  return 0;
}
