// Inputs found by fuzzing (fuzz/, docs/fuzzing.md) that once crashed or
// misbehaved: each must now be rejected with nnsight::Error (or load).

#include <gtest/gtest.h>

#include "nnsight/base/error.h"
#include "nnsight/runtime/tokenizers/tokenizer_loader.h"
#include "tokenizers/temp_dir.h"

namespace nnsight {
namespace {

/// Loads vocab.json + merges.txt written to a fresh folder.
void load_pair(const std::string& vocab, const std::string& merges) {
  test::TempDir dir;
  dir.write("vocab.json", vocab);
  load_tokenizer(dir.write("merges.txt", merges));
}

void load_json(const std::string& tokenizer_json) {
  test::TempDir dir;
  load_tokenizer(dir.write("tokenizer.json", tokenizer_json));
}

TEST(TokenizerFuzzRegression, VocabIdAtInt64MaxIsRejected) {
  // id + 1 overflowed (signed overflow) while sizing the table.
  EXPECT_THROW(load_pair(R"({"a": 9223372036854775807})", ""), Error);
}

TEST(TokenizerFuzzRegression, HugeVocabIdIsRejectedBeforeAllocating) {
  // Sized a table of 10^12 strings (std::length_error / bad_alloc).
  EXPECT_THROW(load_pair(R"({"a": 1000000000000, "b": 0})", ""), Error);
  EXPECT_THROW(load_json(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1000000000000}, "merges": []},
                             "pre_tokenizer": {"type": "ByteLevel"}})"),
               Error);
}

TEST(TokenizerFuzzRegression, FloatVocabIdIsRejected) {
  // A float id was converted to int64 (undefined behaviour for 1e300).
  EXPECT_THROW(load_pair(R"({"a": 1e300})", ""), Error);
  EXPECT_THROW(load_json(R"({"model": {"type": "BPE", "vocab": {"a": 1e300}, "merges": []},
                             "pre_tokenizer": {"type": "ByteLevel"}})"),
               Error);
}

TEST(TokenizerFuzzRegression, HugeAddedTokenIdIsRejected) {
  // An added token's id sized the token table (tokens_.resize(id + 1)).
  EXPECT_THROW(load_json(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                             "added_tokens": [{"id": 4000000000000, "content": "x"}],
                             "pre_tokenizer": {"type": "ByteLevel"}})"),
               Error);
  EXPECT_THROW(load_json(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "byte_fallback": true},
                             "added_tokens": [{"id": 4000000000000, "content": "x"}]})"),
               Error);
  EXPECT_THROW(load_json(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                             "added_tokens": [{"id": 0.5, "content": "x"}], "pre_tokenizer": {"type": "ByteLevel"}})"),
               Error);
}

TEST(TokenizerFuzzRegression, AddedTokenIdsJustPastTheVocabularyStillLoad) {
  test::TempDir dir;
  auto tok = load_tokenizer(dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1},
      "merges": ["a b"]}, "added_tokens": [{"id": 5, "content": "<x>", "special": true}],
      "pre_tokenizer": {"type": "ByteLevel"}})"));
  EXPECT_EQ(tok->vocab_size(), 6);
  EXPECT_EQ(tok->encode("<x>", false), std::vector<int64_t>{5});
}

}  // namespace
}  // namespace nnsight
