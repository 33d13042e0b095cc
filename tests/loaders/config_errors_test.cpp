// Every error path of hf_config.cpp and ModelConfig::validate (model_config.cpp) that
// hf_config_test.cpp does not already reach: each names the config file, the field and the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "loaders/loader_test_util.h"
#include "nnsight/runtime/loaders/hf_config.h"
#include "nnsight/runtime/loaders/model_files.h"

namespace nnsight {
namespace {

using json = nlohmann::json;
using test::expect_error;

const std::string kSource = "/models/m/config.json";

json llama() {
  return json::parse(R"({"model_type": "llama", "vocab_size": 512, "hidden_size": 64, "num_hidden_layers": 5,
    "num_attention_heads": 8, "num_key_value_heads": 4, "intermediate_size": 172, "bos_token_id": 1,
    "eos_token_id": 2})");
}

// GPT-2's default BOS/EOS (50256) would be outside this small vocabulary, so they are given.
json gpt2() {
  return json::parse(R"({"model_type": "gpt2", "vocab_size": 100, "n_embd": 8, "n_head": 2, "bos_token_id": 0,
    "eos_token_id": 0})");
}

// Expects config_from_hf_json(j) to fail with `where` and `problem` in the message.
void expect_config_error(const json& j, const std::string& where, const std::string& problem) {
  expect_error([&] { config_from_hf_json(j, kSource); }, {where, problem});
}

TEST(ConfigErrors, FieldsOfTheWrongTypeNameTheField) {
  json j = llama();
  j["rms_norm_eps"] = "1e-5";
  expect_config_error(j, "file " + kSource + ", field rms_norm_eps", "field 'rms_norm_eps' is not a number");
  j = llama();
  j["tie_word_embeddings"] = "yes";
  expect_config_error(j, "file " + kSource + ", field tie_word_embeddings",
                      "field 'tie_word_embeddings' is not true/false");
  j = llama();
  j["hidden_act"] = 3;
  expect_config_error(j, "file " + kSource + ", field hidden_act", "field 'hidden_act' is not a string");
  j = llama();
  j["eos_token_id"] = {2, "</s>"};  // each element of a list must be an integer
  expect_config_error(j, "file " + kSource + ", field eos_token_id", "field 'eos_token_id' is not an integer");
  j = llama();
  j["vocab_size"] = 512.0;
  expect_config_error(j, "file " + kSource + ", field vocab_size", "field 'vocab_size' is not an integer");
  j = gpt2();
  j["layer_norm_epsilon"] = true;
  expect_config_error(j, "field layer_norm_epsilon", "field 'layer_norm_epsilon' is not a number");
}

TEST(ConfigErrors, NullMeansDefaultButRequiredFieldsMustBePresent) {
  json j = llama();
  j["rms_norm_eps"] = nullptr;  // HF writes null for "use the default"
  EXPECT_DOUBLE_EQ(config_from_hf_json(j, kSource).norm_eps, 1e-6);
  j = llama();
  j["intermediate_size"] = nullptr;
  expect_config_error(j, "file " + kSource + ", field intermediate_size",
                      "required field 'intermediate_size' is missing");
}

TEST(ConfigErrors, UnsupportedGpt2VariantsNameTheirField) {
  for (const char* key : {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"}) {
    SCOPED_TRACE(key);
    json j = gpt2();
    j[key] = false;
    EXPECT_NO_THROW(config_from_hf_json(j, kSource));
    j[key] = true;
    expect_config_error(j, "file " + kSource + ", field " + key,
                        std::string("GPT-2 variants with ") + key + " are not supported");
  }
}

TEST(ConfigErrors, RopeScalingIsRefusedUnlessDefault) {
  json j = llama();
  j["rope_scaling"] = {{"type", "default"}};
  EXPECT_NO_THROW(config_from_hf_json(j, kSource));
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  expect_config_error(j, "field rope_scaling", "rope_scaling of type 'linear' is not supported");
  j["rope_scaling"] = "dynamic";  // not even an object
  expect_config_error(j, "field rope_scaling", "rope_scaling is not supported");
}

TEST(ConfigErrors, ModelTypeMustBeAString) {
  json j = llama();
  j["model_type"] = 7;
  expect_error([&] { config_from_hf_json(j, kSource); },
               {"field model_type", "config has no 'model_type' string", "gpt2, llama, mistral, qwen2"});
}

TEST(ConfigErrors, ValidationNamesTheSourceAndTheInconsistentValue) {
  const std::string where = "model config from " + kSource;
  json j = llama();
  j["rms_norm_eps"] = 0;
  expect_config_error(j, where, "norm epsilon must be positive");
  j = llama();
  j["rope_theta"] = -10000.0;
  expect_config_error(j, where, "rope_theta must be positive");
  j = llama();
  j["bos_token_id"] = 512;
  expect_config_error(j, where, "bos_token_id 512 is outside the vocabulary");
  j = llama();
  j["num_key_value_heads"] = 0;  // checked before it is used as a divisor
  expect_config_error(j, where, "num_kv_heads must be positive but is 0");
  j = llama();
  j["head_dim"] = 9;
  expect_config_error(j, where, "head_dim (9) must be even for rotary embeddings");
  j = gpt2();
  j["n_head"] = 0;
  expect_config_error(j, where, "num_heads must be positive but is 0");
  j = gpt2();
  j["n_positions"] = 0;
  expect_config_error(j, where, "max_positions must be positive but is 0");
  j = gpt2();
  j["eos_token_id"] = {50, 100};
  expect_config_error(j, where, "eos_token_id 100 is outside the vocabulary");
  // GPT-2 has no rotary embeddings, so rope_theta is not checked for it.
  j = gpt2();
  j["rope_theta"] = -1;
  EXPECT_NO_THROW(config_from_hf_json(j, kSource));
}

TEST(ConfigErrors, ReadHfConfigNamesTheFile) {
  test::TempDir dir;
  const std::string p = dir.file("config.json");
  test::write_text(p, "");
  expect_error([&] { read_hf_config(p); }, {"file " + p, "config is not valid JSON"});
  test::write_text(p, R"({"model_type": "llama", "vocab_size": 512})");
  expect_error([&] { read_hf_config(p); }, {"file " + p + ", field hidden_size", "required field 'hidden_size'"});
  // A directory opens as a stream but fails on the first read (an std::ios_base::failure inside the parser).
  expect_error([&] { read_hf_config(dir.path()); },
               {"file " + dir.path(), "cannot read config file", "Is a directory"});
  std::filesystem::remove(p);
  std::filesystem::create_directory(p);
  expect_error([&] { read_model_files(dir.path()); }, {"file " + p, "cannot read config file"});
}

}  // namespace
}  // namespace nnsight
