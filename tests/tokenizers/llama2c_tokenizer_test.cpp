// llama2.c tok512.bin: encode/decode exactly as run.c, checked against
// stories260K/reference.json (produced by run.c itself).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "nnsight/base/error.h"
#include "nnsight/runtime/tokenizers/llama2c_tokenizer.h"
#include "nnsight/runtime/tokenizers/tokenizer_loader.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

const char* kTok = "stories260K/tok512.bin";

TEST(Llama2cTokenizer, OnceUponATime) {
  REQUIRE_MODEL(kTok);
  auto tok = load_tokenizer(test::model_path(kTok));
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->adds_bos());
  EXPECT_EQ(tok->encode("Once upon a time"), (std::vector<int64_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tok->encode("Once upon a time", false), (std::vector<int64_t>{403, 407, 261, 378}));
  EXPECT_EQ(tok->encode(""), (std::vector<int64_t>{1}));  // run.c: no dummy prefix for empty text
  EXPECT_EQ(tok->decode({1, 403, 407, 261, 378}), "Once upon a time");
  EXPECT_EQ(tok->token_string(403), " Once");
}

TEST(Llama2cTokenizer, MatchesRunCPromptTokens) {
  REQUIRE_MODEL("stories260K/reference.json");
  REQUIRE_MODEL(kTok);
  auto tok = load_tokenizer(test::model_path(kTok));
  std::ifstream in(test::model_path("stories260K/reference.json"));
  auto ref = nlohmann::json::parse(in);
  ASSERT_EQ(ref.at("prompts").size(), 3u);
  for (const auto& p : ref.at("prompts")) {
    auto prompt = p.at("prompt").get<std::string>();
    EXPECT_EQ(tok->encode(prompt), p.at("prompt_token_ids").get<std::vector<int64_t>>()) << prompt;
  }
}

TEST(Llama2cTokenizer, DecodesGreedyTextLikeRunC) {
  REQUIRE_MODEL("stories260K/reference.json");
  REQUIRE_MODEL(kTok);
  auto tok = load_tokenizer(test::model_path(kTok));
  std::ifstream in(test::model_path("stories260K/reference.json"));
  auto ref = nlohmann::json::parse(in);
  for (const auto& p : ref.at("prompts")) {
    const auto& g = p.at("greedy_n64");
    auto ids = g.at("token_ids").get<std::vector<int64_t>>();
    // run.c prints every piece after BOS, then a final "\n".
    EXPECT_EQ(tok->decode(ids) + "\n", g.at("stdout_text").get<std::string>()) << p.at("prompt");
  }
}

TEST(Llama2cTokenizer, ByteFallbackAndRoundTrip) {
  REQUIRE_MODEL(kTok);
  auto tok = load_tokenizer(test::model_path(kTok));
  // "é" is piece 485; "ü" (C3 BC) and "中" (E4 B8 AD) are not in the vocabulary: byte tokens at byte + 3.
  auto ids = tok->encode("\xC3\xA9\xC3\xBC\xE4\xB8\xAD", false);
  int64_t space = ids.at(0);
  EXPECT_EQ(tok->token_string(space), " ");
  EXPECT_EQ(ids, (std::vector<int64_t>{space, 485, 0xC3 + 3, 0xBC + 3, 0xE4 + 3, 0xB8 + 3, 0xAD + 3}));
  for (std::string text : {"Once upon a time", "Lily said: \"Hi!\"\nTom smiled.", "naïve café €5", "  two  spaces"})
    EXPECT_EQ(tok->decode(tok->encode(text)), text);
}

TEST(Llama2cTokenizer, ExplicitVocabSizeReadsThatManyTokens) {
  REQUIRE_MODEL(kTok);
  auto data = read_llama2c_tokenizer_data(test::model_path(kTok), 512);
  EXPECT_EQ(data.tokens.size(), 512u);
  EXPECT_EQ(data.tokens[1], "\n<s>\n");
  EXPECT_EQ(data.tokens[3], "<0x00>");
  EXPECT_THROW(read_llama2c_tokenizer_data(test::model_path(kTok), 513), Error);
}

}  // namespace
}  // namespace nnsight
