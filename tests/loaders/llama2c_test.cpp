// llama2.c .bin reader: the real stories260K file, an untied synthetic file, and bad inputs.
#include "nnsight/runtime/loaders/llama2c.h"

#include <ATen/ops/equal.h>
#include <gtest/gtest.h>

#include "loaders/loader_test_util.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

using test::expect_error;

// A llama2.c file whose float at index i is i (so each tensor's position in the file is visible).
std::vector<uint8_t> synthetic(std::array<int32_t, 7> header, std::size_t n_floats) {
  std::vector<uint8_t> out(28 + 4 * n_floats);
  std::memcpy(out.data(), header.data(), 28);
  for (std::size_t i = 0; i < n_floats; ++i) {
    float v = static_cast<float>(i);
    std::memcpy(out.data() + 28 + 4 * i, &v, 4);
  }
  return out;
}

TEST(Llama2c, Stories260K) {
  REQUIRE_MODEL("stories260K/stories260K.bin");
  const std::string path = test::model_path("stories260K/stories260K.bin");
  ModelFiles mf = read_llama2c_file(path);
  const ModelConfig& c = mf.config;
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_layers, 5);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_positions, 512);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.rope_style, RopeStyle::Interleaved);
  EXPECT_EQ(mf.weights.size(), 2u + 5u * 9u);
  EXPECT_FALSE(mf.weights.contains("lm_head.weight"));
  EXPECT_EQ(mf.weights.file_of("model.norm.weight"), path);
  // Weights are views into the file: the embedding starts right after the 28-byte header.
  at::Tensor emb = mf.weights.take("model.embed_tokens.weight", {512, 64});
  auto bytes = test::read_bytes(path);
  float first;
  std::memcpy(&first, bytes.data() + 28, 4);
  EXPECT_EQ(emb[0][0].item<float>(), first);
}

TEST(Llama2c, UntiedLayoutFollowsRunC) {
  test::TempDir dir;
  // dim 4, hidden 6, 2 layers, 2 heads, 1 kv head, vocab 3 (negative = untied), seq_len 5.
  const int64_t D = 4, H = 6, L = 2, KV = 2, V = 3, S = 5, HD = 2;
  const std::size_t n =
      V * D + L * D + L * D * D + 2 * L * KV * D + L * D * D + L * D + 3 * L * D * H + D + 2 * S * HD / 2 + V * D;
  test::write_bytes(dir.file("m.bin"), synthetic({4, 6, 2, 2, 1, -3, 5}, n));
  ModelFiles mf = read_llama2c_file(dir.file("m.bin"));
  EXPECT_FALSE(mf.config.tie_word_embeddings);
  auto first = [&](const std::string& name, std::vector<int64_t> shape) {
    return mf.weights.take(name, shape).flatten()[0].item<float>();
  };
  // Offsets (in floats) per run.c's memory_map_weights.
  EXPECT_EQ(first("model.embed_tokens.weight", {V, D}), 0);
  EXPECT_EQ(first("model.layers.0.input_layernorm.weight", {D}), 12);
  EXPECT_EQ(first("model.layers.1.input_layernorm.weight", {D}), 16);
  EXPECT_EQ(first("model.layers.0.self_attn.q_proj.weight", {D, D}), 20);
  EXPECT_EQ(first("model.layers.1.self_attn.q_proj.weight", {D, D}), 36);
  EXPECT_EQ(first("model.layers.0.self_attn.k_proj.weight", {KV, D}), 52);
  EXPECT_EQ(first("model.layers.0.self_attn.v_proj.weight", {KV, D}), 68);
  EXPECT_EQ(first("model.layers.0.self_attn.o_proj.weight", {D, D}), 84);
  EXPECT_EQ(first("model.layers.0.post_attention_layernorm.weight", {D}), 116);
  EXPECT_EQ(first("model.layers.0.mlp.gate_proj.weight", {H, D}), 124);  // w1
  EXPECT_EQ(first("model.layers.0.mlp.down_proj.weight", {D, H}), 172);  // w2
  EXPECT_EQ(first("model.layers.0.mlp.up_proj.weight", {H, D}), 220);    // w3
  EXPECT_EQ(first("model.norm.weight", {D}), 268);
  EXPECT_EQ(first("lm_head.weight", {V, D}), 272 + S * HD);  // after the two skipped RoPE tables
  EXPECT_EQ(mf.weights.remaining().size(), 7u);              // layer 1 minus the two taken above
}

TEST(Llama2c, BadFilesNameTheFile) {
  test::TempDir dir;
  REQUIRE_MODEL("stories260K/stories260K.bin");
  auto real = test::read_bytes(test::model_path("stories260K/stories260K.bin"));
  auto shorter = real;
  shorter.resize(real.size() - 4);
  test::write_bytes(dir.file("short.bin"), shorter);
  expect_error([&] { read_llama2c_file(dir.file("short.bin")); },
               {dir.file("short.bin"), "expected 1056540 bytes", "found 1056536"});
  auto longer = real;
  longer.resize(real.size() + 100);
  test::write_bytes(dir.file("long.bin"), longer);
  expect_error([&] { read_llama2c_file(dir.file("long.bin")); }, {"expected 1056540 bytes", "found 1056640"});

  test::write_bytes(dir.file("zero.bin"), {});
  expect_error([&] { read_llama2c_file(dir.file("zero.bin")); }, {dir.file("zero.bin"), "too short"});
  expect_error([&] { read_llama2c_file(dir.file("absent.bin")); }, {dir.file("absent.bin"), "cannot open"});

  auto neg = real;
  int32_t minus = -64;
  std::memcpy(neg.data(), &minus, 4);
  test::write_bytes(dir.file("neg.bin"), neg);
  expect_error([&] { read_llama2c_file(dir.file("neg.bin")); }, {dir.file("neg.bin"), "dim is -64"});

  auto huge = synthetic({1 << 30, 1 << 30, 1 << 30, 1, 1, 1 << 30, 2}, 0);
  test::write_bytes(dir.file("huge.bin"), huge);
  expect_error([&] { read_llama2c_file(dir.file("huge.bin")); }, {dir.file("huge.bin"), "found 28"});

  test::write_bytes(dir.file("v1.bin"), {0x32, 0x34, 0x6b, 0x61, 1, 0, 0, 0});
  expect_error([&] { read_llama2c_file(dir.file("v1.bin")); }, {dir.file("v1.bin"), "--version 0"});
}

}  // namespace
}  // namespace nnsight
