// Fuzz target: tokenizer files in Hugging Face / GPT-2 form, loaded through
// load_tokenizer like `--tokenizer` does.
//
// Input: one mode byte, then NUL-separated files.
//   mode even: tokenizer.json [\0 tokenizer_config.json]
//   mode odd:  vocab.json \0 merges.txt [\0 tokenizer_config.json [\0 special_tokens_map.json]]
// A tokenizer that loads must encode and decode (fuzz_support.h).

#include <vector>

#include "fuzz_support.h"
#include "nnsight/runtime/tokenizers/tokenizer_loader.h"

using namespace nnsight;

namespace {

std::vector<std::string_view> split_nul(std::string_view s, std::size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const std::size_t nul = s.find('\0');
    if (nul == std::string_view::npos) break;
    parts.push_back(s.substr(0, nul));
    s.remove_prefix(nul + 1);
  }
  parts.push_back(s);
  return parts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool pair = (data[0] & 1) != 0;
  const std::vector<std::string_view> parts = split_nul(fuzz::bytes_of(data + 1, size - 1), pair ? 4 : 2);
  for (const char* name :
       {"tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"})
    fuzz::remove_scratch(name);
  std::string path;
  if (pair) {
    fuzz::write_scratch("vocab.json", parts[0]);
    path = fuzz::write_scratch("merges.txt", parts.size() > 1 ? parts[1] : std::string_view());
    if (parts.size() > 2) fuzz::write_scratch("tokenizer_config.json", parts[2]);
    if (parts.size() > 3) fuzz::write_scratch("special_tokens_map.json", parts[3]);
  } else {
    path = fuzz::write_scratch("tokenizer.json", parts[0]);
    if (parts.size() > 1) fuzz::write_scratch("tokenizer_config.json", parts[1]);
  }
  fuzz::only_errors([&] {
    const std::unique_ptr<Tokenizer> tok = load_tokenizer(path);
    fuzz::exercise_tokenizer(*tok);
  });
  return 0;
}
