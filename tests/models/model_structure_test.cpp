// The module tree (Hugging Face paths and class names, tied heads), building
// errors (shape mismatch, leftover tensors), out-of-band module calls, bf16.

#include <gtest/gtest.h>

#include "model_test_util.h"
#include "nnsight/base/backend.h"
#include "nnsight/base/error.h"
#include "nnsight/runtime/forward_context.h"

namespace nnsight {
namespace {

class ModelStructure : public ::testing::Test {
 protected:
  void SetUp() override { init_backend(); }
};

TEST_F(ModelStructure, LlamaTreeHasHuggingFacePathsAndClassNames) {
  REQUIRE_MODEL("stories260K-hf");
  auto model = test::load_model("stories260K-hf");
  EXPECT_EQ(model->type_name(), "LlamaForCausalLM");
  EXPECT_EQ(model->path(), "");
  const std::pair<const char*, const char*> expected[] = {
      {"model", "LlamaModel"},
      {"model.embed_tokens", "Embedding"},
      {"model.layers", "ModuleList"},
      {"model.layers.0", "LlamaDecoderLayer"},
      {"model.layers.0.input_layernorm", "LlamaRMSNorm"},
      {"model.layers.0.self_attn", "LlamaAttention"},
      {"model.layers.0.self_attn.q_proj", "Linear"},
      {"model.layers.0.self_attn.k_proj", "Linear"},
      {"model.layers.0.self_attn.v_proj", "Linear"},
      {"model.layers.0.self_attn.o_proj", "Linear"},
      {"model.layers.0.post_attention_layernorm", "LlamaRMSNorm"},
      {"model.layers.4.mlp", "LlamaMLP"},
      {"model.layers.4.mlp.gate_proj", "Linear"},
      {"model.layers.4.mlp.up_proj", "Linear"},
      {"model.layers.4.mlp.down_proj", "Linear"},
      {"model.layers.4.mlp.act_fn", "SiLU"},
      {"model.norm", "LlamaRMSNorm"},
      {"model.rotary_emb", "LlamaRotaryEmbedding"},
      {"lm_head", "Linear"},
  };
  for (const auto& [path, type] : expected) {
    EXPECT_EQ(model->at(path).type_name(), type) << path;
    EXPECT_EQ(model->at(path).path(), path);
  }
  EXPECT_EQ(model->num_layers(), 5u);
  EXPECT_EQ(&model->layer(2), &model->at("model.layers.2"));
  EXPECT_EQ(&model->final_norm(), &model->at("model.norm"));
  EXPECT_EQ(&model->embed_tokens(), &model->at("model.embed_tokens"));
  EXPECT_EQ(&model->lm_head(), &model->at("lm_head"));
  EXPECT_THROW(model->layer(5), Error);
  // Tied classifier: the very same tensor, not a copy.
  EXPECT_TRUE(model->lm_head().parameter("weight").is_same(model->embed_tokens().parameter("weight")));
  EXPECT_EQ(model->at("model.layers.0.self_attn.k_proj").parameter("weight").sizes(), at::IntArrayRef({32, 64}));
  // 260K parameters, counting the shared embedding once (named_parameters lists it twice).
  int64_t total = 0;
  for (const auto& [name, t] : model->named_parameters())
    if (name != "lm_head.weight") total += t.numel();
  EXPECT_EQ(total, 260032);
  for (const auto& [name, t] : model->named_parameters()) {
    EXPECT_FALSE(t.requires_grad()) << name;
    EXPECT_FALSE(t.is_inference()) << name;
    EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
  }
}

TEST_F(ModelStructure, Gpt2TreeHasHuggingFacePathsAndClassNames) {
  REQUIRE_MODEL("fake-gpt2-random");
  auto model = test::load_model("fake-gpt2-random");
  EXPECT_EQ(model->type_name(), "GPT2LMHeadModel");
  const std::pair<const char*, const char*> expected[] = {
      {"transformer", "GPT2Model"},
      {"transformer.wte", "Embedding"},
      {"transformer.wpe", "Embedding"},
      {"transformer.h", "ModuleList"},
      {"transformer.h.0", "GPT2Block"},
      {"transformer.h.0.ln_1", "LayerNorm"},
      {"transformer.h.0.attn", "GPT2Attention"},
      {"transformer.h.0.attn.c_attn", "Conv1D"},
      {"transformer.h.0.attn.c_proj", "Conv1D"},
      {"transformer.h.0.ln_2", "LayerNorm"},
      {"transformer.h.0.mlp", "GPT2MLP"},
      {"transformer.h.0.mlp.c_fc", "Conv1D"},
      {"transformer.h.0.mlp.act", "NewGELUActivation"},
      {"transformer.h.0.mlp.c_proj", "Conv1D"},
      {"transformer.ln_f", "LayerNorm"},
      {"lm_head", "Linear"},
  };
  for (const auto& [path, type] : expected) EXPECT_EQ(model->at(path).type_name(), type) << path;
  // Conv1D keeps Hugging Face's [in, out] layout.
  EXPECT_EQ(model->at("transformer.h.0.attn.c_attn").parameter("weight").sizes(), at::IntArrayRef({2, 6}));
  EXPECT_TRUE(model->lm_head().parameter("weight").is_same(model->at("transformer.wte").parameter("weight")));
  EXPECT_EQ(&model->final_norm(), &model->at("transformer.ln_f"));
}

TEST_F(ModelStructure, ConfigTensorShapeMismatchNamesFileAndTensor) {
  REQUIRE_MODEL("stories260K-hf");
  ModelFiles files = read_model_files(test::model_path("stories260K-hf"));
  files.config.hidden_size = 32;
  try {
    build_model(files.config, files.weights);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("model.safetensors"), std::string::npos) << text;
    EXPECT_NE(text.find("model.embed_tokens.weight"), std::string::npos) << text;
    EXPECT_NE(text.find("[512, 64]"), std::string::npos) << text;
    EXPECT_NE(text.find("[512, 32]"), std::string::npos) << text;
  }
}

TEST_F(ModelStructure, LeftoverTensorsAreListed) {
  REQUIRE_MODEL("stories260K-hf");
  ModelFiles files = read_model_files(test::model_path("stories260K-hf"));
  files.config.num_layers = 4;
  try {
    build_model(files.config, files.weights);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("model.layers.4.mlp.down_proj.weight"), std::string::npos) << text;
    EXPECT_NE(text.find("9 tensor(s)"), std::string::npos) << text;
  }
}

TEST_F(ModelStructure, UntiedHeadNeedsItsOwnTensor) {
  REQUIRE_MODEL("stories260K-hf");
  ModelFiles files = read_model_files(test::model_path("stories260K-hf"));
  files.config.tie_word_embeddings = false;
  try {
    build_model(files.config, files.weights);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lm_head.weight"), std::string::npos) << e.what();
  }
}

TEST_F(ModelStructure, OutOfBandCallsReproduceTheForwardPass) {
  REQUIRE_MODEL("stories260K-hf");
  auto model = test::load_model("stories260K-hf");
  test::RecordingHook hook;
  model->final_norm().set_hook(&hook);
  model->layer(0).set_hook(&hook);
  model->layer(4).set_hook(&hook);
  const at::Tensor ids = test::ids_tensor({1, 317, 263, 377, 267, 265, 282, 295, 433});
  const at::Tensor logits = model->logits(ids);
  for (Module* m : model->modules()) m->set_hook(nullptr);

  // Logit lens on the last layer: lm_head(final_norm output) with a default context.
  ForwardContext fresh;
  Value lens = model->lm_head()(hook.calls.at("model.norm").output.as_tensor(), fresh);
  EXPECT_EQ(test::max_abs_diff(lens.as_tensor(), logits), 0.0);
  // final_norm on the last layer's output.
  Value normed = model->final_norm()(hook.calls.at("model.layers.4").output[0].as_tensor(), fresh);
  EXPECT_EQ(test::max_abs_diff(normed.as_tensor(), hook.calls.at("model.norm").output.as_tensor()), 0.0);
  // A decoder layer called alone: default positions 0..T-1 and causal masking.
  Value layer0 = model->layer(0)(hook.calls.at("model.layers.0").input, fresh);
  ASSERT_TRUE(layer0.is_sequence());
  EXPECT_LT(test::max_abs_diff(layer0[0].as_tensor(), hook.calls.at("model.layers.0").output[0].as_tensor()), 1e-6);
  // The base model alone returns (hidden_states,) equal to the final norm output.
  Value base = model->base_model()(ids, fresh);
  EXPECT_LT(test::max_abs_diff(base[0].as_tensor(), hook.calls.at("model.norm").output.as_tensor()), 1e-6);
}

TEST_F(ModelStructure, BadInputsGiveErrors) {
  REQUIRE_MODEL("stories260K-hf");
  auto model = test::load_model("stories260K-hf");
  EXPECT_THROW(model->logits(test::ids_tensor({1, 512})), Error);  // id outside the vocabulary
  EXPECT_THROW(model->logits(at::ones({1, 3}, at::kFloat)), Error);
  EXPECT_THROW(model->logits(test::ids_tensor({1, 2}), at::ones({1, 3}, at::kLong)), Error);
  ForwardContext fresh;
  EXPECT_THROW(model->lm_head()(at::ones({1, 2, 63}), fresh), Error);
  EXPECT_THROW(model->at("model.layers").operator()(at::ones({1, 2, 64}), fresh), Error);
}

TEST_F(ModelStructure, Bf16ModelIsCloseToFloat32) {
  REQUIRE_MODEL("stories260K-hf");
  auto fp32 = test::load_model("stories260K-hf");
  auto bf16 = test::load_model("stories260K-hf", at::kBFloat16);
  for (const auto& [name, t] : bf16->named_parameters()) EXPECT_EQ(t.scalar_type(), at::kBFloat16) << name;
  const at::Tensor ids = test::ids_tensor({1, 317, 263, 377, 267, 265, 282, 295, 433});
  const at::Tensor a = fp32->logits(ids);
  const at::Tensor b = bf16->logits(ids);
  EXPECT_EQ(b.scalar_type(), at::kBFloat16);
  // Logits span about 30; bf16 keeps ~3 significant digits.
  EXPECT_LT(test::max_abs_diff(a, b), 0.5);
  EXPECT_TRUE(a.argmax(-1).equal(b.argmax(-1)));
}

}  // namespace
}  // namespace nnsight
