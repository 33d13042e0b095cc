// load_tokenizer(): which files it accepts, and errors that name the file.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "nnsight/base/error.h"
#include "nnsight/runtime/tokenizers/tokenizer_loader.h"
#include "support/test_support.h"
#include "tokenizers/temp_dir.h"

namespace nnsight {
namespace {

/// Runs `fn`, expecting an nnsight::Error; returns its full text.
template <typename Fn>
std::string error_text(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected nnsight::Error, got: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected nnsight::Error, nothing thrown";
  return {};
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(TokenizerLoader, MissingFileNamesPathAndLookedForFiles) {
  std::string path = "/nonexistent/dir/tokenizer.json";
  std::string msg = error_text([&] { load_tokenizer(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("vocab.json + merges.txt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--tokenizer"), std::string::npos) << msg;
}

TEST(TokenizerLoader, FolderWithoutTokenizerListsWhatWasLookedFor) {
  test::TempDir dir;
  dir.write("config.json", "{}");
  std::string msg = error_text([&] { load_tokenizer(dir.path()); });
  EXPECT_NE(msg.find(dir.path()), std::string::npos) << msg;
  EXPECT_NE(msg.find("tokenizer.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("encoder.json + vocab.bpe"), std::string::npos) << msg;
}

TEST(TokenizerLoader, VocabWithoutMergesNamesTheMissingPartner) {
  test::TempDir dir;
  std::string vocab = dir.write("vocab.json", R"({"a": 0})");
  std::string msg = error_text([&] { load_tokenizer(vocab); });
  EXPECT_NE(msg.find(dir.path() + "/merges.txt"), std::string::npos) << msg;
}

TEST(TokenizerLoader, CorruptJsonNamesTheFile) {
  test::TempDir dir;
  std::string path = dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0,)");
  std::string msg = error_text([&] { load_tokenizer(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
  // Loading the folder reports the same file.
  msg = error_text([&] { load_tokenizer(dir.path()); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(TokenizerLoader, WrongJsonShapeNamesTheFile) {
  test::TempDir dir;
  std::string path = dir.write("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
  std::string msg = error_text([&] { load_tokenizer(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("Unigram"), std::string::npos) << msg;
  path = dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": "zero"}}})");
  msg = error_text([&] { load_tokenizer(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(TokenizerLoader, TruncatedLlama2cBinNamesTheFile) {
  REQUIRE_MODEL("stories260K/tok512.bin");
  std::string data = slurp(test::model_path("stories260K/tok512.bin"));
  test::TempDir dir;
  for (std::size_t cut : {std::size_t{2}, std::size_t{10}, data.size() / 2 + 1, data.size() - 1}) {
    std::string path = dir.write("tok512.bin", data.substr(0, cut));
    std::string msg = error_text([&] { load_tokenizer(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << "cut at " << cut << ": " << msg;
  }
}

TEST(TokenizerLoader, GarbageBinIsRejected) {
  test::TempDir dir;
  std::string path = dir.write("tokenizer.bin", std::string("\xFF\xFF\xFF\xFF garbage", 12));
  std::string msg = error_text([&] { load_tokenizer(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(TokenizerLoader, MalformedMergesLineNamesFileAndLine) {
  test::TempDir dir;
  dir.write("vocab.json", R"({"a": 0, "b": 1, "ab": 2})");
  std::string merges = dir.write("merges.txt", "#version: 0.2\na b\nab\n");
  std::string msg = error_text([&] { load_tokenizer(dir.path()); });
  EXPECT_NE(msg.find(merges + ", line 3"), std::string::npos) << msg;
}

TEST(TokenizerLoader, AcceptsEachLayout) {
  REQUIRE_MODEL("fake-gpt2-random/tokenizer.json");
  REQUIRE_MODEL("gpt2-tokenizer/vocab.bpe");
  REQUIRE_MODEL("stories260K/tok512.bin");
  // (The tokenizer.json file and the encoder.json + vocab.bpe folder are covered by gpt2_bpe_test.)
  for (const char* rel : {"fake-gpt2-random", "gpt2-tokenizer/vocab.bpe"}) {
    auto tok = load_tokenizer(test::model_path(rel));
    EXPECT_EQ(tok->vocab_size(), 50257) << rel;
    EXPECT_EQ(tok->encode(" Hello world!", false), (std::vector<int64_t>{18435, 995, 0})) << rel;
  }
  // A folder with vocab.json + merges.txt but no tokenizer.json.
  test::TempDir dir;
  dir.write("vocab.json", slurp(test::model_path("fake-gpt2-random/vocab.json")));
  dir.write("merges.txt", slurp(test::model_path("fake-gpt2-random/merges.txt")));
  EXPECT_EQ(load_tokenizer(dir.path())->encode("Hello world", false), (std::vector<int64_t>{15496, 995}));
  EXPECT_EQ(load_tokenizer(test::model_path("stories260K/tok512.bin"))->vocab_size(), 512);
}

TEST(TokenizerLoader, OutOfRangeIdIsAnError) {
  REQUIRE_MODEL("stories260K/tok512.bin");
  auto tok = load_tokenizer(test::model_path("stories260K/tok512.bin"));
  std::string msg = error_text([&] { tok->decode({1, 512}); });
  EXPECT_NE(msg.find("512"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tok512.bin"), std::string::npos) << msg;
}

}  // namespace
}  // namespace nnsight
