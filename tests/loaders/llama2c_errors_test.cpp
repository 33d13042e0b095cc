// Error paths of the llama2.c reader (llama2c.cpp) that llama2c_test.cpp does not already
// reach: inconsistent headers, short headers, and configs that fail validation.
#include <gtest/gtest.h>

#include <array>

#include "loaders/loader_test_util.h"
#include "nnsight/runtime/loaders/llama2c.h"

namespace nnsight {
namespace {

using test::expect_error;

// A complete llama2.c file (zero weights) for the header fields dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size (negative = separate classifier), seq_len; sized as run.c expects.
std::vector<uint8_t> llama2c_file(const std::array<int32_t, 7>& h) {
  const int64_t D = h[0], H = h[1], L = h[2], heads = h[3], kv = h[4], V = h[5] < 0 ? -int64_t{h[5]} : h[5], S = h[6];
  const int64_t hd = D / heads, kv_dim = kv * hd;
  const int64_t floats =
      V * D + L * (2 * D + 2 * D * D + 2 * kv_dim * D + 3 * D * H) + D + S * hd + (h[5] < 0 ? V * D : 0);
  std::vector<uint8_t> out(28 + 4 * static_cast<std::size_t>(floats), 0);
  std::memcpy(out.data(), h.data(), 28);
  return out;
}

TEST(Llama2cErrors, SyntheticFileOfTheRightSizeLoads) {
  test::TempDir dir;
  ModelFiles mf = read_llama2c_file(dir.write("ok.bin", llama2c_file({4, 6, 1, 2, 1, 8, 3})));
  EXPECT_EQ(mf.config.vocab_size, 8);
  EXPECT_EQ(mf.config.head_dim, 2);
}

TEST(Llama2cErrors, InconsistentHeadersNameTheFields) {
  test::TempDir dir;
  struct Case {
    const char* name;
    std::array<int32_t, 7> header;
  };
  const Case cases[] = {
      {"dim-not-multiple-of-heads", {6, 6, 1, 4, 1, 8, 3}},
      {"heads-not-multiple-of-kv", {8, 6, 1, 4, 3, 8, 3}},
      {"odd-head-dim", {6, 6, 1, 2, 1, 8, 3}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string p = dir.write(std::string(c.name) + ".bin", llama2c_file(c.header));
    expect_error([&] { read_llama2c_file(p); },
                 {"file " + p, "header is inconsistent: dim " + std::to_string(c.header[0]) + ", n_heads " +
                                   std::to_string(c.header[3]) + ", n_kv_heads " + std::to_string(c.header[4])});
  }
}

TEST(Llama2cErrors, EveryHeaderFieldMustBePositive) {
  test::TempDir dir;
  const char* names[] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  for (int i = 0; i < 7; ++i) {
    SCOPED_TRACE(names[i]);
    auto bytes = llama2c_file({4, 6, 1, 2, 1, 8, 3});
    test::patch<int32_t>(bytes, 4 * i, 0);
    const std::string p = dir.write(std::string(names[i]) + ".bin", bytes);
    expect_error([&] { read_llama2c_file(p); }, {"file " + p, std::string("header field ") + names[i] + " is 0"});
  }
}

TEST(Llama2cErrors, ShortFilesStateTheSizes) {
  test::TempDir dir;
  // Under 4 bytes (no magic to check) and between 4 and 28 bytes.
  const std::string a = dir.write("two.bin", {1, 0});
  expect_error([&] { read_llama2c_file(a); }, {"file " + a, "too short for a llama2.c header (2 bytes, need 28)"});
  auto header = llama2c_file({4, 6, 1, 2, 1, 8, 3});
  header.resize(20);
  const std::string b = dir.write("twenty.bin", header);
  expect_error([&] { read_llama2c_file(b); }, {"file " + b, "(20 bytes, need 28)"});
  // A versioned export is recognised even when too short for its own header.
  const std::string c = dir.write("magic.bin", {0x32, 0x34, 0x6b, 0x61});
  expect_error([&] { read_llama2c_file(c); }, {"file " + c, "versioned llama2.c export"});
}

TEST(Llama2cErrors, SeparateClassifierChangesTheExpectedSize) {
  test::TempDir dir;
  // A tied file whose header claims a separate classifier (negative vocab_size) is 8 x 4 floats short.
  auto tied = llama2c_file({4, 6, 1, 2, 1, 8, 3});
  test::patch<int32_t>(tied, 20, -8);
  const std::string p = dir.write("untied.bin", tied);
  expect_error([&] { read_llama2c_file(p); }, {"file " + p, "expected " + std::to_string(tied.size() + 128) +
                                                                " bytes, found " + std::to_string(tied.size())});
}

TEST(Llama2cErrors, ConfigValidationNamesTheFile) {
  test::TempDir dir;
  // llama2.c's tokenizer convention puts BOS at 1 and EOS at 2, so vocabularies must hold them.
  const std::string one = dir.write("vocab1.bin", llama2c_file({4, 6, 1, 2, 1, 1, 3}));
  expect_error([&] { read_llama2c_file(one); }, {"model config from " + one, "bos_token_id 1 is outside"});
  const std::string two = dir.write("vocab2.bin", llama2c_file({4, 6, 1, 2, 1, 2, 3}));
  expect_error([&] { read_llama2c_file(two); }, {"model config from " + two, "eos_token_id 2 is outside"});
}

}  // namespace
}  // namespace nnsight
