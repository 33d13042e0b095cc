// SentencePiece-style BPE with byte fallback: a small Llama-style tokenizer.json
// written by the test (expected ids worked out by hand from the merge ranks),
// and the plain-data constructor with score-ordered merges (GGUF "llama").

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>

#include "nnsight/runtime/tokenizers/sentencepiece_bpe.h"
#include "nnsight/runtime/tokenizers/tokenizer_loader.h"
#include "support/test_support.h"
#include "tokenizers/temp_dir.h"

namespace nnsight {
namespace {

using json = nlohmann::json;
using Ids = std::vector<int64_t>;

const std::string kSpace = "\xE2\x96\x81";  // "▁"

// Ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then the pieces below.
enum : int64_t {
  kSp = 259,
  kH,
  kE,
  kL,
  kO,
  kW,
  kR,
  kD,
  kSpH,
  kLL,
  kSpHe,
  kLLO,
  kSpHello,
  kSpW,
  kOR,
  kSpWor,
  kLD,
  kSpWorld,
  kEAcute,
  kSpEAcute
};

json llama_vocab() {
  json vocab = json::object();
  vocab["<unk>"] = 0;
  vocab["<s>"] = 1;
  vocab["</s>"] = 2;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  const std::vector<std::string> pieces = {kSpace,
                                           "h",
                                           "e",
                                           "l",
                                           "o",
                                           "w",
                                           "r",
                                           "d",
                                           kSpace + "h",
                                           "ll",
                                           kSpace + "he",
                                           "llo",
                                           kSpace + "hello",
                                           kSpace + "w",
                                           "or",
                                           kSpace + "wor",
                                           "ld",
                                           kSpace + "world",
                                           "\xC3\xA9",
                                           kSpace + "\xC3\xA9"};
  for (std::size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = kSp + static_cast<int64_t>(i);
  return vocab;
}

json llama_merges(bool as_pairs) {
  const std::vector<std::pair<std::string, std::string>> merges = {
      {kSpace, "h"},       {"l", "l"}, {kSpace + "h", "e"},  {"ll", "o"}, {kSpace + "he", "llo"},
      {kSpace, "w"},       {"o", "r"}, {kSpace + "w", "or"}, {"l", "d"},  {kSpace + "wor", "ld"},
      {kSpace, "\xC3\xA9"}};
  json out = json::array();
  for (const auto& [a, b] : merges) out.push_back(as_pairs ? json::array({a, b}) : json(a + " " + b));
  return out;
}

json special(int id, const std::string& content) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", true}};
}

/// The classic Llama 2 layout: normalizer Prepend + Replace, decoder Strip.
json legacy_llama_tokenizer_json() {
  json j;
  j["version"] = "1.0";
  j["added_tokens"] = json::array({special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")});
  j["normalizer"] = {
      {"type", "Sequence"},
      {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", kSpace}},
                                   {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}}})}};
  j["pre_tokenizer"] = nullptr;
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                                 {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})}};
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
                                            {{"type", "ByteFallback"}},
                                            {{"type", "Fuse"}},
                                            {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
  j["model"] = {{"type", "BPE"},         {"dropout", nullptr},     {"unk_token", "<unk>"},         {"fuse_unk", true},
                {"byte_fallback", true}, {"vocab", llama_vocab()}, {"merges", llama_merges(false)}};
  return j;
}

/// The newer layout: no normalizer, a Metaspace pre-tokenizer and decoder, merges as pairs.
json metaspace_llama_tokenizer_json(bool split) {
  json j = legacy_llama_tokenizer_json();
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kSpace}, {"prepend_scheme", "first"}, {"split", split}};
  j["decoder"] = {{"type", "Metaspace"}, {"replacement", kSpace}, {"prepend_scheme", "first"}, {"split", split}};
  j["model"]["merges"] = llama_merges(true);
  return j;
}

class SentencePieceJson : public ::testing::Test {
 protected:
  std::unique_ptr<Tokenizer> load(const json& j) { return load_tokenizer(dir_.write("tokenizer.json", j.dump())); }
  test::TempDir dir_;
};

TEST_F(SentencePieceJson, LegacyLayoutEncodesByMergeRank) {
  auto tok = load(legacy_llama_tokenizer_json());
  EXPECT_EQ(tok->vocab_size(), kSpEAcute + 1);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->adds_bos());
  EXPECT_EQ(tok->encode("hello world"), (Ids{1, kSpHello, kSpWorld}));
  EXPECT_EQ(tok->encode("hello world", false), (Ids{kSpHello, kSpWorld}));
  // "▁hell": ▁h (rank 0), ll (1), ▁he (2); "▁he"+"ll" is no merge.
  EXPECT_EQ(tok->encode("hell", false), (Ids{kSpHe, kLL}));
  EXPECT_EQ(tok->encode("", false), Ids{});
}

TEST_F(SentencePieceJson, ByteFallbackForUnknownCharacters) {
  auto tok = load(legacy_llama_tokenizer_json());
  // "é" is a piece; "x" and "€" (E2 82 AC) are not: they become <0xNN> tokens (id = byte + 3).
  Ids ids = tok->encode("h\xC3\xA9 x\xE2\x82\xAC", false);
  EXPECT_EQ(ids, (Ids{kSpH, kEAcute, kSp, 3 + 'x', 3 + 0xE2, 3 + 0x82, 3 + 0xAC}));
  EXPECT_EQ(tok->decode(ids), "h\xC3\xA9 x\xE2\x82\xAC");
  EXPECT_EQ(tok->token_bytes(3 + 0xE2), "\xE2");
  EXPECT_EQ(tok->token_string(3 + 0xE2), "<0xE2>");
}

TEST_F(SentencePieceJson, SpacesAndMultibyteRoundTrip) {
  auto tok = load(legacy_llama_tokenizer_json());
  // " é" -> "▁▁é": the second "▁" merges with "é" (rank 10).
  EXPECT_EQ(tok->encode(" \xC3\xA9", false), (Ids{kSp, kSpEAcute}));
  EXPECT_EQ(tok->encode("hello  world", false), (Ids{kSpHello, kSp, kSpWorld}));
  EXPECT_EQ(tok->decode({1, kSpHello, kSp, kSpWorld, 2}), "hello  world");
  EXPECT_EQ(tok->decode({1, kSpHello, 2}, /*skip_special=*/false),
            "<s> hello</s>");  // only a skipped BOS lets the space go
  for (std::string text : {"hello world", " hello", "hello ", "\xC3\xA9t\xC3\xA9 \xE2\x82\xAC 5 \xF0\x9F\x98\x80",
                           "two  spaces\nnew line", ""})
    EXPECT_EQ(tok->decode(tok->encode(text)), text) << text;
}

TEST_F(SentencePieceJson, SpecialTokensAreCutOutBeforeNormalisation) {
  auto tok = load(legacy_llama_tokenizer_json());
  // The Prepend normalizer runs on every text segment between special tokens.
  EXPECT_EQ(tok->encode("<s>hello</s>", false), (Ids{1, kSpHello, 2}));
  EXPECT_TRUE(tok->is_special(1));
  EXPECT_FALSE(tok->is_special(kSpHello));
}

TEST_F(SentencePieceJson, MetaspaceLayout) {
  for (bool split : {false, true}) {
    auto tok = load(metaspace_llama_tokenizer_json(split));
    EXPECT_EQ(tok->encode("hello world"), (Ids{1, kSpHello, kSpWorld})) << split;
    EXPECT_EQ(tok->encode(" \xC3\xA9", false), (Ids{kSp, kSpEAcute})) << split;
    // prepend_scheme "first": only the segment at the start of the text gets a "▁".
    EXPECT_EQ(tok->encode("<s>hello", false), (Ids{1, kH, kE, kLLO})) << split;
    EXPECT_EQ(tok->decode(tok->encode("hello  world x")), "hello  world x") << split;
  }
}

TEST(SentencePieceScores, MergesByHighestScoreLeftmostFirst) {
  SentencePieceBpeData d;
  d.tokens = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    d.tokens.push_back(name);
  }
  // 259 ▁, 260 a, 261 b, 262 ▁a, 263 ab, 264 aa
  for (std::string p : {kSpace, std::string("a"), std::string("b"), kSpace + "a", std::string("ab"), std::string("aa")})
    d.tokens.push_back(p);
  d.scores.assign(d.tokens.size(), 0.0f);
  d.scores[262] = -2.0f;  // ▁a
  d.scores[263] = -1.0f;  // ab: better than ▁a
  d.scores[264] = -1.0f;  // aa: ties with ab
  d.token_types.assign(d.tokens.size(), static_cast<int32_t>(TokenType::kNormal));
  d.token_types[0] = static_cast<int32_t>(TokenType::kUnknown);
  d.token_types[1] = d.token_types[2] = static_cast<int32_t>(TokenType::kControl);
  for (int b = 0; b < 256; ++b) d.token_types[3 + b] = static_cast<int32_t>(TokenType::kByte);
  d.unk_id = 0;
  d.bos_id = 1;
  d.eos_id = 2;
  SentencePieceBpeTokenizer tok(d, "plain data");
  EXPECT_EQ(tok.encode("ab"), (Ids{1, 259, 263}));  // ab (-1) beats ▁a (-2)
  // "▁aab": aa and ab tie at -1 and beat ▁a; the leftmost (aa) wins, then nothing merges further.
  EXPECT_EQ(tok.encode("aab", false), (Ids{259, 264, 261}));
  EXPECT_EQ(tok.decode({1, 259, 263}), "ab");
  EXPECT_EQ(tok.encode("c", false), (Ids{259, 3 + 'c'}));
}

TEST(SentencePieceScores, PiecesWithInnerSpacesMergeAcrossWords) {
  SentencePieceBpeData d;
  d.tokens = {"<unk>", "<s>", "</s>", kSpace, "a", "b", kSpace + "a", kSpace + kSpace};
  d.scores = {0, 0, 0, 0, 0, 0, -2.0f, 0};
  d.unk_id = 0;
  d.bos_id = 1;
  d.eos_id = 2;
  d.byte_fallback = false;
  SentencePieceBpeTokenizer tok(d, "plain data");
  // "▁a▁▁b": "▁▁" (score 0) merges across the word start, then "▁a" (-2).
  EXPECT_EQ(tok.encode("a  b", false), (Ids{6, 7, 5}));
  EXPECT_EQ(tok.decode({1, 6, 7, 5}), "a  b");
  EXPECT_EQ(tok.encode("a?", false), (Ids{6, 0}));  // no byte fallback: unknown -> <unk>
}

}  // namespace
}  // namespace nnsight
