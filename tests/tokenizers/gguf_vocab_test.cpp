// The plain-data constructors fed from GGUF vocabularies (tokenizer_from_gguf):
// the "gpt2" vocabulary must reproduce llama.cpp's own test vectors, and the
// "llama" vocabulary of stories260K.gguf must encode like tok512.bin.

#include <gtest/gtest.h>

#include "nnsight/runtime/gguf_tokenizer.h"
#include "nnsight/runtime/loaders/gguf.h"
#include "support/test_support.h"
#include "tokenizers/shared_tokenizers.h"

namespace nnsight {
namespace {

std::unique_ptr<Tokenizer> gguf_tokenizer(const std::string& relative) {
  const std::string path = test::model_path(relative);
  return tokenizer_from_gguf(*GgufFile::open(path), path);
}

TEST(GgufVocab, Gpt2VocabularyMatchesTokenizerJson) {
  REQUIRE_MODEL("gpt2-tokenizer/ggml-vocab-gpt-2.gguf");
  REQUIRE_MODEL("fake-gpt2-random/tokenizer.json");
  auto tok = gguf_tokenizer("gpt2-tokenizer/ggml-vocab-gpt-2.gguf");
  const Tokenizer& ref = test::shared_tokenizer("fake-gpt2-random/tokenizer.json");
  EXPECT_EQ(tok->vocab_size(), 50257);
  for (std::string text : {"Hello world", " this is \xF0\x9F\xA6\x99.cpp", "w048 7tuijk dsdfhu", "3333333",
                           "\n \n\n \t\t", "I've been 'told he's there<|endoftext|>"}) {
    EXPECT_EQ(tok->encode(text, false), ref.encode(text, false)) << text;
    EXPECT_EQ(tok->decode(tok->encode(text, false)), ref.decode(ref.encode(text, false))) << text;
  }
}

TEST(GgufVocab, LlamaVocabularyOfStories260K) {
  REQUIRE_MODEL("stories260K/stories260K.gguf");
  REQUIRE_MODEL("stories260K/tok512.bin");
  auto tok = gguf_tokenizer("stories260K/stories260K.gguf");
  const Tokenizer& ref = test::shared_tokenizer("stories260K/tok512.bin");
  EXPECT_EQ(tok->encode("Once upon a time"), (std::vector<int64_t>{1, 403, 407, 261, 378}));
  for (std::string text : {"Lily went to the park", "She said \"hi!\"\nThe end.", "caf\xC3\xA9 \xE4\xB8\xAD"}) {
    EXPECT_EQ(tok->encode(text), ref.encode(text)) << text;
    EXPECT_EQ(tok->decode(tok->encode(text)), text) << text;
  }
}

}  // namespace
}  // namespace nnsight
