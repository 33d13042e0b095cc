// Fuzz target: GGUF files: the metadata and tensor-info parser, every tensor
// read, the model reader (config + Hugging Face names) and the embedded tokenizer.

#include "fuzz_support.h"
#include "nnsight/runtime/gguf_tokenizer.h"
#include "nnsight/runtime/loaders/gguf.h"

using namespace nnsight;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_scratch("model.gguf", fuzz::bytes_of(data, size));
  std::shared_ptr<const GgufFile> g;
  fuzz::only_errors([&] { g = GgufFile::open(path); });
  if (!g) return 0;
  for (const auto& key : g->keys()) {
    // Typed access to a value of another type is a user error (Error), never a crash.
    fuzz::only_errors([&] { (void)g->get_string(key); });
    fuzz::only_errors([&] { (void)g->get_int(key); });
    fuzz::only_errors([&] { (void)g->get_float(key); });
    fuzz::only_errors([&] { (void)g->get_bool(key); });
    fuzz::only_errors([&] { (void)g->get_string_array(key); });
    fuzz::only_errors([&] { (void)g->get_float_array(key); });
    fuzz::only_errors([&] { (void)g->get_int_array(key); });
  }
  for (const auto& info : g->tensors())
    fuzz::only_errors([&] { fuzz::check_view(g->tensor(info.name), *g->mapping(), info.name); });
  fuzz::only_errors([&] { (void)read_gguf_model(path); });
  fuzz::only_errors([&] {
    auto tok = tokenizer_from_gguf(*g, path);
    fuzz::exercise_tokenizer(*tok);
  });
  return 0;
}
