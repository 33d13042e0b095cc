// TextStream emits whole UTF-8 characters only, however the bytes are spread over tokens.

#include <gtest/gtest.h>

#include "nnsight/runtime/tokenizers/text_stream.h"
#include "nnsight/runtime/tokenizers/tokenizer_loader.h"
#include "nnsight/runtime/tokenizers/utf8.h"
#include "support/test_support.h"
#include "tokenizers/shared_tokenizers.h"

namespace nnsight {
namespace {

TEST(Utf8, CompletePrefixLength) {
  EXPECT_EQ(utf8::complete_prefix_length("abc"), 3u);
  EXPECT_EQ(utf8::complete_prefix_length("a\xE2\x82"), 1u);         // € still missing a byte
  EXPECT_EQ(utf8::complete_prefix_length("a\xE2\x82\xAC"), 4u);     // complete
  EXPECT_EQ(utf8::complete_prefix_length("a\xF0"), 1u);             // lead of a 4-byte sequence
  EXPECT_EQ(utf8::complete_prefix_length("a\xFF"), 2u);             // invalid byte: nothing to wait for
  EXPECT_EQ(utf8::complete_prefix_length("\x82\x82\x82\x82"), 4u);  // stray continuation bytes
  EXPECT_TRUE(utf8::is_valid("h\xC3\xA9"));
  EXPECT_FALSE(utf8::is_valid("h\xC3"));
  EXPECT_FALSE(utf8::is_valid("\xC0\x80"));  // overlong
}

/// Feeds ids one by one; checks every chunk is valid UTF-8 and the whole equals decode().
void expect_streams_whole_characters(const Tokenizer& tok, const std::vector<int64_t>& ids) {
  TextStream stream(tok);
  std::string all;
  int held_back = 0;
  for (int64_t id : ids) {
    std::string chunk = stream.push(id);
    EXPECT_TRUE(utf8::is_valid(chunk)) << "chunk after id " << id;
    if (stream.pending() > 0) ++held_back;
    all += chunk;
  }
  all += stream.flush();
  EXPECT_EQ(all, tok.decode(ids));
  EXPECT_GT(held_back, 0) << "the test text should split characters across tokens";
}

TEST(TextStream, ByteLevelBpeSplitsEmojiAcrossTokens) {
  REQUIRE_MODEL("gpt2-tokenizer/encoder.json");
  const Tokenizer* tok = &test::shared_tokenizer("gpt2-tokenizer");
  // GPT-2 spreads the bytes of 🦙 and Khmer/Chinese characters over several tokens.
  auto ids = tok->encode("Hi \xF0\x9F\xA6\x99 \xE1\x9E\x80\xE1\x9E\xB6 \xE6\x88\x91 ok", false);
  expect_streams_whole_characters(*tok, ids);
}

TEST(TextStream, ByteFallbackTokensAndLeadingSpace) {
  REQUIRE_MODEL("stories260K/tok512.bin");
  auto tok = load_tokenizer(test::model_path("stories260K/tok512.bin"));
  auto ids = tok->encode("Once \xE2\x82\xAC\xF0\x9F\x98\x80 time");
  expect_streams_whole_characters(*tok, ids);

  // Streaming only the generated part: pass the last prompt token as context.
  TextStream stream(*tok, true, /*previous_id=*/378);
  EXPECT_EQ(stream.push(432), tok->token_bytes(432));
  TextStream at_start(*tok);
  EXPECT_EQ(at_start.push(1), "");
  EXPECT_EQ(at_start.push(403), "Once");  // the space after BOS is dropped, as run.c does
  EXPECT_EQ(at_start.push(3 + 0xE2), "");
  EXPECT_EQ(at_start.pending(), 1u);
  EXPECT_EQ(at_start.push(3 + 0x82), "");
  EXPECT_EQ(at_start.push(3 + 0xAC), "\xE2\x82\xAC");
  EXPECT_EQ(at_start.push(3 + 0xE2), "");
  EXPECT_EQ(at_start.flush(), "\xE2");  // an unfinished character is handed over at the end
  EXPECT_EQ(at_start.pending(), 0u);
}

}  // namespace
}  // namespace nnsight
