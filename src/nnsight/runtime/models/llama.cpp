#include "nnsight/runtime/models/llama.h"

#include <ATen/TensorOperators.h>

#include <cmath>
#include <tuple>

#include "nnsight/runtime/forward_context.h"
#include "nnsight/runtime/generation/kv_cache.h"
#include "nnsight/runtime/models/activations.h"
#include "nnsight/runtime/models/attention.h"
#include "nnsight/runtime/models/embedding.h"
#include "nnsight/runtime/models/module_support.h"
#include "nnsight/runtime/models/norms.h"
#include "nnsight/runtime/models/projections.h"
#include "nnsight/runtime/models/rotary.h"
#include "nnsight/runtime/models/weight_loader.h"

namespace nnsight {
namespace {

struct LlamaDims {
  std::string prefix;  // class-name prefix, "Llama"
  int64_t d, heads, kv_heads, head_dim, ff, vocab;
  double eps;
  bool qkv_bias, out_bias, mlp_bias;
};

std::unique_ptr<Linear> linear(WeightLoader& w, const std::string& name, int64_t out, int64_t in, bool bias) {
  at::Tensor weight = w.take(name + ".weight", {out, in});
  return std::make_unique<Linear>(weight, bias ? w.take(name + ".bias", {out}) : at::Tensor());
}

class LlamaAttention : public Module {
 public:
  LlamaAttention(const LlamaDims& dims, int64_t layer, const RotaryEmbedding& rope, WeightLoader& w,
                 const std::string& p)
      : Module(dims.prefix + "Attention"),
        heads_(dims.heads),
        kv_heads_(dims.kv_heads),
        head_dim_(dims.head_dim),
        layer_(layer),
        rope_(rope) {
    q_proj_ = &add_module("q_proj", linear(w, p + "q_proj", dims.heads * dims.head_dim, dims.d, dims.qkv_bias));
    k_proj_ = &add_module("k_proj", linear(w, p + "k_proj", dims.kv_heads * dims.head_dim, dims.d, dims.qkv_bias));
    v_proj_ = &add_module("v_proj", linear(w, p + "v_proj", dims.kv_heads * dims.head_dim, dims.d, dims.qkv_bias));
    o_proj_ = &add_module("o_proj", linear(w, p + "o_proj", dims.d, dims.heads * dims.head_dim, dims.out_bias));
    w.discard(p + "rotary_emb.inv_freq");  // saved by older transformers versions
  }

 protected:
  Value forward(Inputs& inputs, ForwardContext& ctx) override {
    const at::Tensor& x = single_tensor_input(*this, inputs);
    at::Tensor q = call_hidden(*q_proj_, x, ctx);
    at::Tensor k = call_hidden(*k_proj_, x, ctx);
    at::Tensor v = call_hidden(*v_proj_, x, ctx);
    at::Tensor y = guarded(*this, [&] {
      const int64_t b = q.size(0), t = q.size(1);
      at::Tensor cos = ctx.rope_cos, sin = ctx.rope_sin;
      if (!cos.defined()) {  // called outside the model's forward: positions from the context or 0..T-1
        at::Tensor positions = ctx.position_ids;
        if (!positions.defined())
          positions = make_position_ids({}, ctx.cache != nullptr ? ctx.cache->length() : 0, t, q.device());
        std::tie(cos, sin) = rope_.tables(positions, q.scalar_type());
      }
      at::Tensor qr = apply_rotary(q.view({b, t, heads_, head_dim_}), cos, sin, rope_.style());
      at::Tensor kr = apply_rotary(k.view({b, t, kv_heads_, head_dim_}), cos, sin, rope_.style()).transpose(1, 2);
      at::Tensor vr = v.view({b, t, kv_heads_, head_dim_}).transpose(1, 2);
      if (ctx.cache != nullptr) std::tie(kr, vr) = ctx.cache->append(layer_, kr, vr);
      at::Tensor bias = ctx.attention_bias;
      if (!bias.defined() && t > 1) bias = make_attention_bias({}, kr.size(2) - t, t, q.scalar_type(), q.device());
      return grouped_attention(qr, kr, vr, bias, 1.0 / std::sqrt(static_cast<double>(head_dim_)));
    });
    return Value::tuple({Value(call_hidden(*o_proj_, y, ctx)), Value()});
  }

 private:
  int64_t heads_, kv_heads_, head_dim_, layer_;
  const RotaryEmbedding& rope_;
  Module* q_proj_;
  Module* k_proj_;
  Module* v_proj_;
  Module* o_proj_;
};

class LlamaMLP : public Module {
 public:
  LlamaMLP(const LlamaDims& dims, const std::string& activation, WeightLoader& w, const std::string& p)
      : Module(dims.prefix + "MLP") {
    gate_proj_ = &add_module("gate_proj", linear(w, p + "gate_proj", dims.ff, dims.d, dims.mlp_bias));
    up_proj_ = &add_module("up_proj", linear(w, p + "up_proj", dims.ff, dims.d, dims.mlp_bias));
    down_proj_ = &add_module("down_proj", linear(w, p + "down_proj", dims.d, dims.ff, dims.mlp_bias));
    act_fn_ = &add_module("act_fn", make_activation(activation, "config hidden_act"));
  }

 protected:
  Value forward(Inputs& inputs, ForwardContext& ctx) override {
    const at::Tensor& x = single_tensor_input(*this, inputs);
    at::Tensor gate = call_hidden(*act_fn_, call_hidden(*gate_proj_, x, ctx), ctx);
    at::Tensor up = call_hidden(*up_proj_, x, ctx);
    at::Tensor h = guarded(*this, [&] { return gate * up; });
    return Value(call_hidden(*down_proj_, h, ctx));
  }

 private:
  Module* gate_proj_;
  Module* up_proj_;
  Module* down_proj_;
  Module* act_fn_;
};

std::unique_ptr<RMSNorm> rms_norm(const LlamaDims& dims, WeightLoader& w, const std::string& name) {
  return std::make_unique<RMSNorm>(dims.prefix + "RMSNorm", w.take(name + ".weight", {dims.d}), dims.eps);
}

class LlamaDecoderLayer : public Module {
 public:
  LlamaDecoderLayer(const LlamaDims& dims, const std::string& activation, int64_t layer, const RotaryEmbedding& rope,
                    WeightLoader& w, const std::string& p)
      : Module(dims.prefix + "DecoderLayer") {
    input_layernorm_ = &add_module("input_layernorm", rms_norm(dims, w, p + "input_layernorm"));
    self_attn_ = &add_module("self_attn", std::make_unique<LlamaAttention>(dims, layer, rope, w, p + "self_attn."));
    post_attention_layernorm_ =
        &add_module("post_attention_layernorm", rms_norm(dims, w, p + "post_attention_layernorm"));
    mlp_ = &add_module("mlp", std::make_unique<LlamaMLP>(dims, activation, w, p + "mlp."));
  }

 protected:
  Value forward(Inputs& inputs, ForwardContext& ctx) override {
    return pre_norm_block(*this, inputs, *input_layernorm_, *self_attn_, *post_attention_layernorm_, *mlp_, ctx);
  }

 private:
  Module* input_layernorm_;
  Module* self_attn_;
  Module* post_attention_layernorm_;
  Module* mlp_;
};

class LlamaModel : public Module {
 public:
  LlamaModel(const ModelConfig& config, const LlamaDims& dims, WeightLoader& w) : Module(dims.prefix + "Model") {
    embed_tokens_ = &add_module("embed_tokens",
                                std::make_unique<Embedding>(w.take("model.embed_tokens.weight", {dims.vocab, dims.d})));
    layers_ = &add_module("layers", std::make_unique<ModuleList>());
    // The rotary module is created first (the layers keep a reference for
    // out-of-band calls) but registered last, where Hugging Face has it.
    auto rotary = std::make_unique<RotaryEmbedding>(dims.prefix + "RotaryEmbedding", dims.head_dim, config.rope_theta,
                                                    config.rope_style);
    for (int64_t i = 0; i < config.num_layers; ++i)
      layers_->append(std::make_unique<LlamaDecoderLayer>(dims, config.activation, i, *rotary, w,
                                                          "model.layers." + std::to_string(i) + "."));
    norm_ = &add_module("norm", rms_norm(dims, w, "model.norm"));
    rotary_emb_ = &add_module("rotary_emb", std::move(rotary));
  }
  ModuleList& layers() { return *layers_; }
  Module& embed_tokens() { return *embed_tokens_; }
  Module& norm() { return *norm_; }

 protected:
  Value forward(Inputs& inputs, ForwardContext& ctx) override {
    const at::Tensor& ids = single_tensor_input(*this, inputs);
    const int64_t t = ids.size(-1);
    ForwardContext local = ctx;
    if (!local.position_ids.defined())
      local.position_ids = make_position_ids({}, ctx.cache != nullptr ? ctx.cache->length() : 0, t, ids.device());
    at::Tensor x = call_hidden(*embed_tokens_, ids, local);
    Value tables = (*rotary_emb_)(Inputs({Value(x), Value(local.position_ids)}), local);
    if (!tables.is_sequence() || tables.items().size() != 2 || !tables[0].is_tensor() || !tables[1].is_tensor())
      throw Error("the output of '" + rotary_emb_->path() + "' must be a (cos, sin) tuple, got " + tables.repr(),
                  "module '" + rotary_emb_->path() + "'");
    local.rope_cos = tables[0].as_tensor();
    local.rope_sin = tables[1].as_tensor();
    for (std::size_t i = 0; i < layers_->size(); ++i) x = call_hidden((*layers_)[i], x, local);
    x = call_hidden(*norm_, x, local);
    if (ctx.cache != nullptr) ctx.cache->advance(t);
    return Value::tuple({Value(x)});
  }

 private:
  Module* embed_tokens_;
  ModuleList* layers_;
  Module* norm_;
  Module* rotary_emb_;
};

class LlamaForCausalLM : public CausalLM {
 public:
  LlamaForCausalLM(const ModelConfig& config, const LlamaDims& dims, WeightLoader& w)
      : CausalLM(dims.prefix + "ForCausalLM", config) {
    auto& base = add_module("model", std::make_unique<LlamaModel>(config, dims, w));
    at::Tensor head;
    if (config.tie_word_embeddings) {
      w.discard("lm_head.weight");
      head = base.embed_tokens().parameter("weight");
    } else {
      head = w.take("lm_head.weight", {dims.vocab, dims.d});
    }
    auto& lm_head = add_module("lm_head", std::make_unique<Linear>(head));
    set_structure(&base, &base.layers(), &base.embed_tokens(), &base.norm(), &lm_head);
  }
};

}  // namespace

std::string llama_family_prefix(const std::string& model_type) {
  if (model_type == "mistral") return "Mistral";
  if (model_type == "qwen2") return "Qwen2";
  return "Llama";
}

std::unique_ptr<CausalLM> build_llama(const ModelConfig& config, WeightLoader& weights) {
  LlamaDims dims;
  dims.prefix = llama_family_prefix(config.model_type);
  dims.d = config.hidden_size;
  dims.heads = config.num_heads;
  dims.kv_heads = config.num_kv_heads > 0 ? config.num_kv_heads : config.num_heads;
  dims.head_dim = config.head_dim > 0 ? config.head_dim : config.hidden_size / config.num_heads;
  dims.ff = config.intermediate_size;
  dims.vocab = config.vocab_size;
  dims.eps = config.norm_eps;
  dims.qkv_bias = config.attention_qkv_bias;
  dims.out_bias = config.attention_out_bias;
  dims.mlp_bias = config.mlp_bias;
  return std::make_unique<LlamaForCausalLM>(config, dims, weights);
}

}  // namespace nnsight
