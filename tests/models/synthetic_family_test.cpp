// Llama-family options not covered by the shared test models (Qwen2's q/k/v
// biases, an untied head, grouped-query attention with head_dim set
// explicitly, rope_theta) checked against a naive forward written here with
// plain ATen ops: repeated K/V heads, per-head softmax, -inf causal mask.

#include <gtest/gtest.h>

#include <cmath>

#include "model_test_util.h"
#include "nnsight/base/backend.h"
#include "nnsight/base/error.h"
#include "nnsight/runtime/loaders/weight_store.h"

namespace nnsight {
namespace {

constexpr int64_t D = 32, H = 4, KV = 2, HD = 12, F = 48, V = 50, L = 2;

ModelConfig qwen2_config() {
  ModelConfig c;
  c.arch = Architecture::Llama;
  c.model_type = "qwen2";
  c.vocab_size = V;
  c.hidden_size = D;
  c.num_layers = L;
  c.num_heads = H;
  c.num_kv_heads = KV;
  c.head_dim = HD;  // deliberately not D / H
  c.intermediate_size = F;
  c.max_positions = 64;
  c.norm_eps = 1e-6;
  c.rope_theta = 1e6;
  c.rope_style = RopeStyle::RotateHalf;
  c.tie_word_embeddings = false;
  c.attention_qkv_bias = true;
  c.activation = "silu";
  return c;
}

std::map<std::string, at::Tensor> random_weights() {
  at::manual_seed(3);
  std::map<std::string, at::Tensor> w;
  auto add = [&](const std::string& n, std::vector<int64_t> s, double scale = 0.2) { w[n] = at::randn(s) * scale; };
  add("model.embed_tokens.weight", {V, D}, 1.0);
  add("lm_head.weight", {V, D});
  add("model.norm.weight", {D}, 1.0);
  for (int64_t i = 0; i < L; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {D}, 1.0);
    add(p + "post_attention_layernorm.weight", {D}, 1.0);
    add(p + "self_attn.q_proj.weight", {H * HD, D});
    add(p + "self_attn.q_proj.bias", {H * HD});
    add(p + "self_attn.k_proj.weight", {KV * HD, D});
    add(p + "self_attn.k_proj.bias", {KV * HD});
    add(p + "self_attn.v_proj.weight", {KV * HD, D});
    add(p + "self_attn.v_proj.bias", {KV * HD});
    add(p + "self_attn.o_proj.weight", {D, H * HD});
    add(p + "mlp.gate_proj.weight", {F, D});
    add(p + "mlp.up_proj.weight", {F, D});
    add(p + "mlp.down_proj.weight", {D, F});
  }
  return w;
}

at::Tensor rms(const at::Tensor& x, const at::Tensor& w) { return w * (x / at::sqrt((x * x).mean(-1, true) + 1e-6)); }

at::Tensor rope_half(const at::Tensor& x, int64_t t_len) {  // x [T, heads, HD]
  at::Tensor out = x.clone();
  for (int64_t t = 0; t < t_len; ++t)
    for (int64_t i = 0; i < HD / 2; ++i) {
      const double angle = t * std::pow(1e6, -2.0 * i / HD);
      at::Tensor a = x.select(0, t).select(-1, i), b = x.select(0, t).select(-1, i + HD / 2);
      out.select(0, t).select(-1, i).copy_(a * std::cos(angle) - b * std::sin(angle));
      out.select(0, t).select(-1, i + HD / 2).copy_(b * std::cos(angle) + a * std::sin(angle));
    }
  return out;
}

at::Tensor naive_logits(std::map<std::string, at::Tensor> w, const std::vector<int64_t>& ids) {
  const auto t_len = static_cast<int64_t>(ids.size());
  at::Tensor x = w["model.embed_tokens.weight"].index_select(0, at::tensor(ids, at::kLong));
  at::Tensor causal = at::ones({t_len, t_len}).triu(1).to(at::kBool);
  for (int64_t i = 0; i < L; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    at::Tensor h = rms(x, w[p + "input_layernorm.weight"]);
    auto proj = [&](const std::string& n) { return at::matmul(h, w[p + n + ".weight"].t()) + w[p + n + ".bias"]; };
    at::Tensor q = rope_half(proj("self_attn.q_proj").view({t_len, H, HD}), t_len);
    at::Tensor k = rope_half(proj("self_attn.k_proj").view({t_len, KV, HD}), t_len).repeat_interleave(H / KV, 1);
    at::Tensor v = proj("self_attn.v_proj").view({t_len, KV, HD}).repeat_interleave(H / KV, 1);
    std::vector<at::Tensor> heads;
    for (int64_t hh = 0; hh < H; ++hh) {
      at::Tensor s = at::matmul(q.select(1, hh), k.select(1, hh).t()) / std::sqrt(double(HD));
      heads.push_back(at::matmul(at::softmax(s.masked_fill(causal, -INFINITY), -1), v.select(1, hh)));
    }
    x = x + at::matmul(at::cat(heads, -1), w[p + "self_attn.o_proj.weight"].t());
    h = rms(x, w[p + "post_attention_layernorm.weight"]);
    at::Tensor m =
        at::silu(at::matmul(h, w[p + "mlp.gate_proj.weight"].t())) * at::matmul(h, w[p + "mlp.up_proj.weight"].t());
    x = x + at::matmul(m, w[p + "mlp.down_proj.weight"].t());
  }
  return at::matmul(rms(x, w["model.norm.weight"]), w["lm_head.weight"].t());
}

TEST(SyntheticFamily, Qwen2WithBiasesAndGqaMatchesNaiveForward) {
  init_backend();
  auto weights = random_weights();
  WeightStore store;
  for (const auto& [n, t] : weights) store.add(n, t, "synthetic.safetensors");
  auto model = build_model(qwen2_config(), store);
  EXPECT_EQ(model->type_name(), "Qwen2ForCausalLM");
  EXPECT_EQ(model->at("model.layers.1.self_attn").type_name(), "Qwen2Attention");
  EXPECT_EQ(model->at("model.layers.1.mlp").type_name(), "Qwen2MLP");
  EXPECT_EQ(model->at("model.norm").type_name(), "Qwen2RMSNorm");
  EXPECT_EQ(model->at("model.layers.0.self_attn.k_proj").parameter("bias").sizes(), at::IntArrayRef({KV * HD}));
  EXPECT_FALSE(model->lm_head().parameter("weight").is_same(model->embed_tokens().parameter("weight")));
  // The model uses the stored tensors themselves (float32 already): no copies.
  EXPECT_TRUE(model->at("model.layers.0.mlp.up_proj")
                  .parameter("weight")
                  .is_same(weights["model.layers.0.mlp.up_proj.weight"]));

  const std::vector<int64_t> ids = {3, 17, 42, 8, 8, 29, 1};
  at::Tensor expected = naive_logits(weights, ids);
  at::Tensor got = model->logits(test::ids_tensor(ids))[0];
  EXPECT_LT(test::max_abs_diff(got, expected), 1e-4) << "max |logit| " << expected.abs().max().item<double>();
}

TEST(SyntheticFamily, MissingBiasIsReportedWithItsName) {
  auto weights = random_weights();
  WeightStore store;
  for (const auto& [n, t] : weights)
    if (n != "model.layers.1.self_attn.v_proj.bias") store.add(n, t, "synthetic.safetensors");
  try {
    build_model(qwen2_config(), store);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1.self_attn.v_proj.bias"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nnsight
