// config.json -> ModelConfig for gpt2/llama/mistral/qwen2, and its error messages.
#include "nnsight/runtime/loaders/hf_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "loaders/loader_test_util.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

using json = nlohmann::json;
using test::expect_error;

json llama_json() {
  return json::parse(R"({"model_type": "llama", "vocab_size": 32000, "hidden_size": 4096, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 11008, "rms_norm_eps": 1e-6,
    "rope_theta": 500000.0, "max_position_embeddings": 4096, "bos_token_id": 1, "eos_token_id": [2, 7],
    "rope_scaling": null})");
}

TEST(HfConfig, Stories260K) {
  REQUIRE_MODEL("stories260K-hf/config.json");
  ModelConfig c = read_hf_config(test::model_path("stories260K-hf/config.json"));
  EXPECT_EQ(c.arch, Architecture::Llama);
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_layers, 5);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.max_positions, 512);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rope_style, RopeStyle::RotateHalf);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_qkv_bias || c.attention_out_bias || c.mlp_bias);
  EXPECT_EQ(c.activation, "silu");
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{2});
}

TEST(HfConfig, FakeGpt2) {
  REQUIRE_MODEL("fake-gpt2-random/config.json");
  ModelConfig c = read_hf_config(test::model_path("fake-gpt2-random/config.json"));
  EXPECT_EQ(c.arch, Architecture::GPT2);
  EXPECT_EQ(c.vocab_size, 50257);
  EXPECT_EQ(c.hidden_size, 2);
  EXPECT_EQ(c.num_layers, 1);
  EXPECT_EQ(c.num_heads, 1);
  EXPECT_EQ(c.num_kv_heads, 1);
  EXPECT_EQ(c.head_dim, 2);
  EXPECT_EQ(c.intermediate_size, 8);  // n_inner null -> 4 * n_embd
  EXPECT_EQ(c.max_positions, 1024);
  EXPECT_EQ(c.activation, "gelu_new");
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.attention_qkv_bias && c.attention_out_bias && c.mlp_bias);
  EXPECT_EQ(c.bos_token_id, 50256);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{50256});
}

TEST(HfConfig, LlamaDefaultsAndLists) {
  ModelConfig c = config_from_hf_json(llama_json(), "cfg.json");
  EXPECT_EQ(c.num_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_FALSE(c.tie_word_embeddings);  // Llama default
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2, 7}));

  json j = llama_json();
  j.erase("num_key_value_heads");
  j["head_dim"] = 64;
  j["attention_bias"] = true;
  j["mlp_bias"] = true;
  c = config_from_hf_json(j, "cfg.json");
  EXPECT_EQ(c.num_kv_heads, 32);  // default: as many as query heads
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_TRUE(c.attention_qkv_bias && c.attention_out_bias && c.mlp_bias);
}

TEST(HfConfig, MistralAndQwen2) {
  json m = llama_json();
  m["model_type"] = "mistral";
  m["sliding_window"] = 4096;
  ModelConfig c = config_from_hf_json(m, "cfg.json");
  EXPECT_EQ(c.model_type, "mistral");
  EXPECT_EQ(c.arch, Architecture::Llama);
  EXPECT_EQ(c.rope_style, RopeStyle::RotateHalf);

  json q = llama_json();
  q["model_type"] = "qwen2";
  q["tie_word_embeddings"] = true;
  c = config_from_hf_json(q, "cfg.json");
  EXPECT_TRUE(c.attention_qkv_bias);
  EXPECT_FALSE(c.attention_out_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
}

TEST(HfConfig, ErrorsNameTheFileAndField) {
  json j = llama_json();
  j["model_type"] = "falcon";
  expect_error([&] { config_from_hf_json(j, "/models/x/config.json"); },
               {"/models/x/config.json", "falcon", "gpt2, llama, mistral, qwen2"});
  j.erase("model_type");
  expect_error([&] { config_from_hf_json(j, "/m/config.json"); }, {"/m/config.json", "model_type"});

  j = llama_json();
  j.erase("hidden_size");
  expect_error([&] { config_from_hf_json(j, "/m/config.json"); }, {"/m/config.json", "hidden_size", "missing"});
  j = llama_json();
  j["num_hidden_layers"] = "32";
  expect_error([&] { config_from_hf_json(j, "/m/config.json"); }, {"num_hidden_layers", "not an integer"});
  j = llama_json();
  j["num_key_value_heads"] = 5;
  expect_error([&] { config_from_hf_json(j, "/m/config.json"); }, {"/m/config.json", "multiple of num_kv_heads"});
  j = llama_json();
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  expect_error([&] { config_from_hf_json(j, "/m/config.json"); }, {"/m/config.json", "llama3", "not supported"});
  j = llama_json();
  j["eos_token_id"] = 40000;
  expect_error([&] { config_from_hf_json(j, "/m/config.json"); }, {"eos_token_id 40000", "vocabulary"});
  expect_error([&] { config_from_hf_json(json::array(), "/m/config.json"); }, {"/m/config.json", "JSON object"});

  test::TempDir dir;
  test::write_text(dir.file("config.json"), "{\"model_type\": ");
  expect_error([&] { read_hf_config(dir.file("config.json")); }, {dir.file("config.json"), "not valid JSON"});
  expect_error([&] { read_hf_config(dir.file("missing.json")); }, {dir.file("missing.json"), "cannot open"});
}

TEST(ModelConfig, ValidateAndToString) {
  EXPECT_STREQ(to_string(Architecture::GPT2), "gpt2");
  EXPECT_STREQ(to_string(Architecture::Llama), "llama");
  ModelConfig c = config_from_hf_json(llama_json(), "cfg.json");
  c.hidden_size = 0;
  expect_error([&] { c.validate("weights.bin"); }, {"hidden_size", "weights.bin"});
  c = config_from_hf_json(llama_json(), "cfg.json");
  c.head_dim = 7;
  expect_error([&] { c.validate("w"); }, {"head_dim", "even"});
  json g = {{"model_type", "gpt2"}, {"n_embd", 10}, {"n_head", 3}};
  expect_error([&] { config_from_hf_json(g, "g.json"); }, {"g.json", "hidden_size (10)"});
}

}  // namespace
}  // namespace nnsight
