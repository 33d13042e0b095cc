// GPT-2 byte-level BPE against llama.cpp's tokenizer test vectors
// (ggml-vocab-gpt-2.gguf.inp/.out, produced with Hugging Face tokenizers).

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "nnsight/runtime/tokenizers/byte_level_bpe.h"
#include "nnsight/runtime/tokenizers/byte_unicode.h"
#include "nnsight/runtime/tokenizers/gpt2_bpe_files.h"
#include "nnsight/runtime/tokenizers/tokenizer_loader.h"
#include "support/test_support.h"
#include "tokenizers/shared_tokenizers.h"

namespace nnsight {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct VocabCase {
  std::string text;
  std::vector<int64_t> ids;
};

/// Texts are separated by "\n__ggml_vocab_test__\n" (the file ends with one);
/// the .out file has one line of space-separated ids per text.
std::vector<VocabCase> read_vocab_cases() {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::string inp = slurp(test::model_path("gpt2-tokenizer/ggml-vocab-gpt-2.gguf.inp"));
  std::string out = slurp(test::model_path("gpt2-tokenizer/ggml-vocab-gpt-2.gguf.out"));
  std::vector<std::string> texts;
  for (std::size_t pos = 0; pos < inp.size();) {
    std::size_t end = inp.find(sep, pos);
    if (end == std::string::npos) end = inp.size();
    texts.push_back(inp.substr(pos, end - pos));
    pos = end + sep.size();
  }
  std::vector<VocabCase> cases;
  std::istringstream lines(out);
  std::string line;
  for (const auto& text : texts) {
    std::getline(lines, line);
    VocabCase c{text, {}};
    std::istringstream ids(line);
    for (int64_t id; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

void expect_matches_vectors(const Tokenizer& tok) {
  auto cases = read_vocab_cases();
  ASSERT_EQ(cases.size(), 46u);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    EXPECT_EQ(tok.encode(c.text, /*add_bos=*/false), c.ids) << "case " << i << ": '" << c.text << "'";
    EXPECT_EQ(tok.decode(c.ids), c.text) << "case " << i;
  }
}

TEST(Gpt2Bpe, ByteUnicodeTable) {
  const auto& t = ByteUnicodeTable::get();
  EXPECT_EQ(t.byte_to_utf8(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(t.byte_to_utf8('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(t.byte_to_utf8('A'), "A");
  EXPECT_EQ(t.byte_to_codepoint(0), 256u);
  EXPECT_EQ(t.byte_to_codepoint(0xAD), 323u);  // the last of the 68 remapped bytes
  for (int b = 0; b < 256; ++b) EXPECT_EQ(t.codepoint_to_byte(t.byte_to_codepoint(b)), b);
  EXPECT_EQ(t.decode(t.encode(" hello\n\xFF")), " hello\n\xFF");
}

TEST(Gpt2Bpe, TokenizerJsonMatchesReferenceVectors) {
  REQUIRE_MODEL("fake-gpt2-random/tokenizer.json");
  REQUIRE_MODEL("gpt2-tokenizer/ggml-vocab-gpt-2.gguf.inp");
  expect_matches_vectors(test::shared_tokenizer("fake-gpt2-random/tokenizer.json"));
}

TEST(Gpt2Bpe, VocabJsonMergesTxtMatchesReferenceVectors) {
  REQUIRE_MODEL("fake-gpt2-random/vocab.json");
  REQUIRE_MODEL("gpt2-tokenizer/ggml-vocab-gpt-2.gguf.inp");
  auto tok = load_gpt2_bpe_files(test::model_path("fake-gpt2-random/vocab.json"),
                                 test::model_path("fake-gpt2-random/merges.txt"));
  EXPECT_EQ(tok->merge_count(), 50000u);
  expect_matches_vectors(*tok);
}

TEST(Gpt2Bpe, EncoderJsonVocabBpeMatchesReferenceVectors) {
  REQUIRE_MODEL("gpt2-tokenizer/encoder.json");
  expect_matches_vectors(test::shared_tokenizer("gpt2-tokenizer"));
}

TEST(Gpt2Bpe, SpecialTokensAndIds) {
  REQUIRE_MODEL("fake-gpt2-random/tokenizer.json");
  const Tokenizer* tok = &test::shared_tokenizer("fake-gpt2-random/tokenizer.json");
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->bos_id(), 50256);
  EXPECT_EQ(tok->eos_id(), 50256);
  EXPECT_FALSE(tok->adds_bos());
  // GPT-2 adds no BOS even when asked; the special string maps to its id.
  EXPECT_EQ(tok->encode("Hello world<|endoftext|> Hello"), (std::vector<int64_t>{15496, 995, 50256, 18435}));
  EXPECT_EQ(tok->decode({15496, 995, 50256, 18435}), "Hello world Hello");
  EXPECT_EQ(tok->decode({15496, 995, 50256, 18435}, /*skip_special=*/false), "Hello world<|endoftext|> Hello");
  EXPECT_EQ(tok->token_string(18435), "\xC4\xA0Hello");  // "ĠHello"
  EXPECT_EQ(tok->token_bytes(18435), " Hello");
  EXPECT_TRUE(tok->is_special(50256));
  EXPECT_FALSE(tok->is_special(15496));
}

TEST(Gpt2Bpe, ArbitraryBytesRoundTrip) {
  REQUIRE_MODEL("gpt2-tokenizer/encoder.json");
  const Tokenizer* tok = &test::shared_tokenizer("gpt2-tokenizer");
  // Invalid UTF-8 is still encodable byte by byte and comes back unchanged.
  std::string text = "ok \xFF\xFE broken \xE2\x82 tail \xC3";
  auto ids = tok->encode(text, false);
  EXPECT_EQ(tok->decode(ids), text);
}

TEST(Gpt2Bpe, ConsistentOnLongRepetitiveText) {
  REQUIRE_MODEL("gpt2-tokenizer/encoder.json");
  const Tokenizer* tok = &test::shared_tokenizer("gpt2-tokenizer");
  // Long runs exercise the whitespace lookahead and the merge heap; the cache must not change results.
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "Hello world, this is a test " + std::to_string(i % 17) + ".\n";
  text += std::string(5000, ' ') + "x" + std::string(3000, 'a');
  auto first = tok->encode(text, false);
  EXPECT_EQ(tok->decode(first), text);
  EXPECT_EQ(tok->encode(text, false), first);
  EXPECT_EQ(tok->encode("Hello world", false), (std::vector<int64_t>{15496, 995}));
}

TEST(Gpt2Bpe, ToyVocabularyUsesUnkForMissingBytes) {
  REQUIRE_MODEL("tiny-gpt2-toyvocab-random/vocab.json");
  auto tok = load_tokenizer(test::model_path("tiny-gpt2-toyvocab-random"));
  EXPECT_EQ(tok->vocab_size(), 21);
  EXPECT_EQ(tok->eos_id(), 20);
  // merges: "Ġ l", "Ġl o", "Ġlo w", "e r"; "x" is not in the vocabulary -> <unk> (19).
  EXPECT_EQ(tok->encode(" lower x", false), (std::vector<int64_t>{14, 15, 10, 19}));
  EXPECT_EQ(tok->encode("newer", false), (std::vector<int64_t>{9, 3, 2, 15}));
}

TEST(Gpt2Bpe, PlainDataConstructor) {
  ByteLevelBpeData d;
  const auto& t = ByteUnicodeTable::get();
  for (int b = 0; b < 256; ++b) d.tokens.push_back(t.byte_to_utf8(static_cast<uint8_t>(b)));
  d.tokens.push_back("\xC4\xA0h");   // 256 "Ġh"
  d.tokens.push_back("\xC4\xA0hi");  // 257 "Ġhi"
  d.tokens.push_back("<|eot|>");     // 258
  d.merges = {{"\xC4\xA0", "h"}, {"\xC4\xA0h", "i"}};
  d.added_tokens = {{"<|eot|>", 258, true, false, false}};
  d.eos_id = 258;
  ByteLevelBpeTokenizer tok(d, "plain data");
  // Byte tokens sit at their byte value here, so "!" is id 33.
  EXPECT_EQ(tok.encode(" hi<|eot|>!"), (std::vector<int64_t>{257, 258, 33}));
  EXPECT_EQ(tok.encode(" h i"), (std::vector<int64_t>{256, 32, 105}));
  EXPECT_EQ(tok.decode({257, 258, 33}), " hi!");
  EXPECT_EQ(tok.decode({257, 258, 33}, false), " hi<|eot|>!");
  EXPECT_FALSE(tok.adds_bos());
}

}  // namespace
}  // namespace nnsight
