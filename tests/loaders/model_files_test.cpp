// read_model_files across formats: the three stories260K files agree, the
// fake GPT-2 GGUF agrees with its safetensors, and bad paths are explained.
#include "nnsight/runtime/loaders/model_files.h"

#include <ATen/ops/equal.h>
#include <gtest/gtest.h>

#include <random>

#include "loaders/loader_test_util.h"
#include "nnsight/runtime/loaders/gguf.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

using test::expect_error;

void expect_stories_config(const ModelConfig& c) {
  EXPECT_EQ(c.arch, Architecture::Llama);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_layers, 5);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_NEAR(c.norm_eps, 1e-5, 1e-12);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{2});
}

std::map<std::string, at::Tensor> tensors_of(ModelFiles& mf,
                                             const std::map<std::string, std::vector<int64_t>>& shapes) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [n, s] : shapes) out[n] = mf.weights.take(n, s);
  EXPECT_TRUE(mf.weights.remaining().empty()) << "unexpected tensor " << mf.weights.remaining().front();
  return out;
}

std::map<std::string, std::vector<int64_t>> stories_shapes() {
  std::map<std::string, std::vector<int64_t>> s = {{"model.embed_tokens.weight", {512, 64}},
                                                   {"model.norm.weight", {64}}};
  for (int l = 0; l < 5; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    s[p + "input_layernorm.weight"] = {64};
    s[p + "post_attention_layernorm.weight"] = {64};
    s[p + "self_attn.q_proj.weight"] = {64, 64};
    s[p + "self_attn.k_proj.weight"] = {32, 64};
    s[p + "self_attn.v_proj.weight"] = {32, 64};
    s[p + "self_attn.o_proj.weight"] = {64, 64};
    s[p + "mlp.gate_proj.weight"] = {172, 64};
    s[p + "mlp.up_proj.weight"] = {172, 64};
    s[p + "mlp.down_proj.weight"] = {64, 172};
  }
  return s;
}

// HF's q/k rows for rotate-half RoPE, from llama2.c's interleaved rows: within each head, HF row j < d/2 is
// interleaved row 2j and HF row d/2 + j is interleaved row 2j + 1.
at::Tensor interleaved_to_rotate_half(const at::Tensor& w, int64_t n_heads) {
  const int64_t d = w.size(0) / n_heads;
  return w.view({n_heads, d / 2, 2, w.size(1)}).transpose(1, 2).reshape({w.size(0), w.size(1)});
}

TEST(ModelFiles, Stories260KThreeFormatsAgree) {
  REQUIRE_MODEL("stories260K/stories260K.bin");
  REQUIRE_MODEL("stories260K/stories260K.gguf");
  REQUIRE_MODEL("stories260K-hf");
  ModelFiles bin = read_model_files(test::model_path("stories260K/stories260K.bin"));
  ModelFiles gguf = read_model_files(test::model_path("stories260K/stories260K.gguf"));
  ModelFiles hf = read_model_files(test::model_path("stories260K-hf"));
  for (const ModelFiles* mf : {&bin, &gguf, &hf}) {
    SCOPED_TRACE(mf->source);
    expect_stories_config(mf->config);
  }
  EXPECT_EQ(bin.config.rope_style, RopeStyle::Interleaved);
  EXPECT_EQ(gguf.config.rope_style, RopeStyle::Interleaved);
  EXPECT_EQ(hf.config.rope_style, RopeStyle::RotateHalf);
  EXPECT_EQ(bin.config.max_positions, 512);
  EXPECT_EQ(hf.config.max_positions, 512);
  EXPECT_EQ(gguf.config.max_positions, 2048);  // the GGUF converter wrote llama.cpp's default
  EXPECT_EQ(gguf.gguf->get_string("general.architecture"), "llama");
  EXPECT_EQ(bin.gguf, nullptr);

  auto shapes = stories_shapes();
  auto b = tensors_of(bin, shapes), g = tensors_of(gguf, shapes), h = tensors_of(hf, shapes);
  int qk_checked = 0;
  for (const auto& [name, t] : b) {
    SCOPED_TRACE(name);
    EXPECT_EQ(t.scalar_type(), at::kFloat);
    EXPECT_TRUE(at::equal(t, g[name]));  // both interleaved: identical, q/k included
    const bool q = name.find("q_proj") != std::string::npos, k = name.find("k_proj") != std::string::npos;
    if (q || k) {
      EXPECT_FALSE(at::equal(t, h[name]));
      EXPECT_TRUE(at::equal(interleaved_to_rotate_half(t, q ? 8 : 4), h[name]));
      ++qk_checked;
    } else {
      EXPECT_TRUE(at::equal(t, h[name]));
    }
  }
  EXPECT_EQ(qk_checked, 10);
}

TEST(ModelFiles, FakeGpt2GgufMatchesSafetensors) {
  REQUIRE_MODEL("fake-gpt2-random/fake-gpt2-random.gguf");
  ModelFiles st = read_model_files(test::model_path("fake-gpt2-random"));
  ModelFiles gg = read_model_files(test::model_path("fake-gpt2-random/fake-gpt2-random.gguf"));
  EXPECT_EQ(gg.config.arch, Architecture::GPT2);
  for (const ModelConfig* c : {&st.config, &gg.config}) {
    EXPECT_EQ(c->hidden_size, 2);
    EXPECT_EQ(c->num_layers, 1);
    EXPECT_EQ(c->num_heads, 1);
    EXPECT_EQ(c->intermediate_size, 8);
    EXPECT_EQ(c->vocab_size, 50257);
    EXPECT_EQ(c->max_positions, 1024);
    EXPECT_TRUE(c->tie_word_embeddings);
    EXPECT_EQ(c->activation, "gelu_new");
    EXPECT_NEAR(c->norm_eps, 1e-5, 1e-10);
    EXPECT_EQ(c->bos_token_id, 50256);
  }
  std::map<std::string, std::vector<int64_t>> shapes = {
      {"transformer.wte.weight", {50257, 2}},
      {"transformer.wpe.weight", {1024, 2}},
      {"transformer.ln_f.weight", {2}},
      {"transformer.ln_f.bias", {2}},
      {"transformer.h.0.ln_1.weight", {2}},
      {"transformer.h.0.ln_1.bias", {2}},
      {"transformer.h.0.ln_2.weight", {2}},
      {"transformer.h.0.ln_2.bias", {2}},
      {"transformer.h.0.attn.c_attn.weight", {2, 6}},
      {"transformer.h.0.attn.c_attn.bias", {6}},
      {"transformer.h.0.attn.c_proj.weight", {2, 2}},
      {"transformer.h.0.attn.c_proj.bias", {2}},
      {"transformer.h.0.mlp.c_fc.weight", {2, 8}},
      {"transformer.h.0.mlp.c_fc.bias", {8}},
      {"transformer.h.0.mlp.c_proj.weight", {8, 2}},
      {"transformer.h.0.mlp.c_proj.bias", {2}},
  };
  auto a = tensors_of(st, shapes), b = tensors_of(gg, shapes);
  for (const auto& [name, t] : a) EXPECT_TRUE(at::equal(t, b[name])) << name;
  // The GGUF Conv1D weights are transposed views into the mapping, not copies.
  const at::Tensor& w = b["transformer.h.0.mlp.c_fc.weight"];
  EXPECT_FALSE(w.is_contiguous());
  EXPECT_TRUE(gg.gguf->mapping()->contains(w.data_ptr(), w.nbytes()));
}

TEST(ModelFiles, Gpt2NamesWithoutPrefixAreNormalised) {
  REQUIRE_MODEL("tiny-gpt2-toyvocab-random");
  ModelFiles mf = read_model_files(test::model_path("tiny-gpt2-toyvocab-random"));
  EXPECT_EQ(mf.config.vocab_size, 21);
  EXPECT_TRUE(mf.weights.contains("transformer.wte.weight"));
  EXPECT_TRUE(mf.weights.contains("transformer.h.0.attn.c_attn.weight"));
  EXPECT_TRUE(mf.weights.contains("transformer.ln_f.bias"));
  EXPECT_FALSE(mf.weights.contains("wte.weight"));
  EXPECT_EQ(mf.weights.size(), 16u);

  EXPECT_EQ(normalize_gpt2_name("h.3.attn.bias"), "");
  EXPECT_EQ(normalize_gpt2_name("transformer.h.3.attn.masked_bias"), "");
  EXPECT_EQ(normalize_gpt2_name("h.3.attn.c_attn.bias"), "transformer.h.3.attn.c_attn.bias");
  EXPECT_EQ(normalize_gpt2_name("lm_head.weight"), "lm_head.weight");
  EXPECT_EQ(normalize_llama_name("layers.2.mlp.up_proj.weight"), "model.layers.2.mlp.up_proj.weight");
  EXPECT_EQ(normalize_llama_name("norm.weight"), "model.norm.weight");
  EXPECT_EQ(normalize_llama_name("model.norm.weight"), "model.norm.weight");
  EXPECT_EQ(normalize_llama_name("lm_head.weight"), "lm_head.weight");
}

TEST(ModelFiles, BadPathsAreExplained) {
  test::TempDir dir;
  expect_error([&] { read_model_files(dir.file("nope")); }, {dir.file("nope"), "does not exist"});
  expect_error([&] { read_model_files(dir.path()); }, {dir.path(), "config.json"});
  test::write_text(dir.file("config.json"), R"({"model_type": "llama", "vocab_size": 8, "hidden_size": 4,
      "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8})");
  expect_error([&] { read_model_files(dir.path()); }, {dir.path(), "no safetensors"});
  test::write_text(dir.file("config.json"), R"({"model_type": "bert"})");
  expect_error([&] { read_model_files(dir.path()); }, {dir.file("config.json"), "bert", "gpt2, llama"});
  test::write_text(dir.file("weights.pt"), "x");
  expect_error([&] { read_model_files(dir.file("weights.pt")); }, {dir.file("weights.pt"), "unrecognised"});
  test::write_bytes(dir.file("zero.bin"), {});
  expect_error([&] { read_model_files(dir.file("zero.bin")); }, {dir.file("zero.bin"), "too short"});
  test::write_bytes(dir.file("zero.gguf"), {});
  expect_error([&] { read_model_files(dir.file("zero.gguf")); }, {dir.file("zero.gguf"), "too short"});
}

// Random byte flips in the structural parts of real files must give a model or an nnsight::Error, never a
// crash or another exception type (run under the sanitizer build to catch out-of-bounds reads).
TEST(ModelFiles, RandomCorruptionGivesErrorsNotCrashes) {
  REQUIRE_MODEL("stories260K/stories260K.gguf");
  REQUIRE_MODEL("stories260K-hf");
  test::TempDir dir;
  struct Case {
    std::string source, target;
    std::size_t region;  // bytes at the start of the file that hold the structure
  };
  std::filesystem::copy_file(test::model_path("stories260K-hf/config.json"), dir.file("config.json"));
  const Case cases[] = {
      {test::model_path("stories260K/stories260K.gguf"), dir.file("f.gguf"), 14200},
      {test::model_path("stories260K-hf/model.safetensors"), dir.file("model.safetensors"), 4870},
      {test::model_path("stories260K/stories260K.bin"), dir.file("f.bin"), 28},
  };
  std::mt19937 rng(1234);
  int errors = 0, loaded = 0;
  for (const Case& c : cases) {
    const auto original = test::read_bytes(c.source);
    for (int iter = 0; iter < 60; ++iter) {
      auto bytes = original;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) bytes[rng() % c.region] ^= static_cast<uint8_t>(1u << (rng() % 8));
      test::write_bytes(c.target, bytes);
      const std::string path = c.target.ends_with(".safetensors") ? dir.path() : c.target;
      try {
        ModelFiles mf = read_model_files(path);
        ++loaded;
      } catch (const Error&) {
        ++errors;
      } catch (const std::exception& e) {
        ADD_FAILURE() << "non-nnsight exception for " << c.source << " iteration " << iter << ": " << e.what();
      }
    }
  }
  EXPECT_GT(errors, 0);
  EXPECT_EQ(errors + loaded, 180);
}

}  // namespace
}  // namespace nnsight
