#pragma once
// Tokenizers from the shared test models, loaded once per test binary: a
// 50k-token GPT-2 vocabulary takes a few hundred milliseconds to load.

#include <map>
#include <memory>
#include <string>

#include "nnsight/runtime/tokenizers/tokenizer_loader.h"
#include "support/test_support.h"

namespace nnsight::test {

/// load_tokenizer(model_path(relative)), cached. Check REQUIRE_MODEL first.
inline const Tokenizer& shared_tokenizer(const std::string& relative) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[relative];
  if (!slot) slot = load_tokenizer(model_path(relative));
  return *slot;
}

}  // namespace nnsight::test
