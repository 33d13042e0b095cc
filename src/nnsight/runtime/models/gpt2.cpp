#include "nnsight/runtime/models/gpt2.h"

#include <ATen/TensorOperators.h>

#include <cmath>

#include "nnsight/runtime/forward_context.h"
#include "nnsight/runtime/generation/kv_cache.h"
#include "nnsight/runtime/models/activations.h"
#include "nnsight/runtime/models/attention.h"
#include "nnsight/runtime/models/embedding.h"
#include "nnsight/runtime/models/module_support.h"
#include "nnsight/runtime/models/norms.h"
#include "nnsight/runtime/models/projections.h"
#include "nnsight/runtime/models/weight_loader.h"

namespace nnsight {
namespace {

struct Gpt2Dims {
  int64_t d, heads, head_dim, ff, vocab, positions;
  double eps;
};

class GPT2Attention : public Module {
 public:
  GPT2Attention(const Gpt2Dims& dims, int64_t layer, WeightLoader& w, const std::string& p)
      : Module("GPT2Attention"), heads_(dims.heads), head_dim_(dims.head_dim), layer_(layer) {
    c_attn_ = &add_module("c_attn",
                          std::make_unique<Conv1D>(w.take_for_transposed_use(p + "c_attn.weight", {dims.d, 3 * dims.d}),
                                                   w.take(p + "c_attn.bias", {3 * dims.d})));
    c_proj_ =
        &add_module("c_proj", std::make_unique<Conv1D>(w.take_for_transposed_use(p + "c_proj.weight", {dims.d, dims.d}),
                                                       w.take(p + "c_proj.bias", {dims.d})));
    // Buffers saved by older transformers versions; the mask is rebuilt per call.
    w.discard(p + "bias");
    w.discard(p + "masked_bias");
  }

 protected:
  Value forward(Inputs& inputs, ForwardContext& ctx) override {
    const at::Tensor& x = single_tensor_input(*this, inputs);
    at::Tensor qkv = call_hidden(*c_attn_, x, ctx);
    at::Tensor y = guarded(*this, [&] {
      const int64_t b = qkv.size(0), t = qkv.size(1), d = heads_ * head_dim_;
      at::Tensor q = qkv.narrow(-1, 0, d).view({b, t, heads_, head_dim_});
      at::Tensor k = qkv.narrow(-1, d, d).view({b, t, heads_, head_dim_}).transpose(1, 2);
      at::Tensor v = qkv.narrow(-1, 2 * d, d).view({b, t, heads_, head_dim_}).transpose(1, 2);
      if (ctx.cache != nullptr) std::tie(k, v) = ctx.cache->append(layer_, k, v);
      at::Tensor bias = ctx.attention_bias;
      if (!bias.defined() && t > 1) bias = make_attention_bias({}, k.size(2) - t, t, qkv.scalar_type(), qkv.device());
      return grouped_attention(q, k, v, bias, 1.0 / std::sqrt(static_cast<double>(head_dim_)));
    });
    return Value::tuple({Value(call_hidden(*c_proj_, y, ctx)), Value()});
  }

 private:
  int64_t heads_, head_dim_, layer_;
  Module* c_attn_;
  Module* c_proj_;
};

class GPT2MLP : public Module {
 public:
  GPT2MLP(const Gpt2Dims& dims, const std::string& activation, WeightLoader& w, const std::string& p)
      : Module("GPT2MLP") {
    c_fc_ =
        &add_module("c_fc", std::make_unique<Conv1D>(w.take_for_transposed_use(p + "c_fc.weight", {dims.d, dims.ff}),
                                                     w.take(p + "c_fc.bias", {dims.ff})));
    act_ = &add_module("act", make_activation(activation, "GPT-2 config activation_function"));
    c_proj_ = &add_module("c_proj",
                          std::make_unique<Conv1D>(w.take_for_transposed_use(p + "c_proj.weight", {dims.ff, dims.d}),
                                                   w.take(p + "c_proj.bias", {dims.d})));
  }

 protected:
  Value forward(Inputs& inputs, ForwardContext& ctx) override {
    const at::Tensor& x = single_tensor_input(*this, inputs);
    at::Tensor h = call_hidden(*act_, call_hidden(*c_fc_, x, ctx), ctx);
    return Value(call_hidden(*c_proj_, h, ctx));
  }

 private:
  Module* c_fc_;
  Module* act_;
  Module* c_proj_;
};

std::unique_ptr<LayerNorm> layer_norm(const Gpt2Dims& dims, WeightLoader& w, const std::string& name) {
  return std::make_unique<LayerNorm>(w.take(name + ".weight", {dims.d}), w.take(name + ".bias", {dims.d}), dims.eps);
}

class GPT2Block : public Module {
 public:
  GPT2Block(const Gpt2Dims& dims, const std::string& activation, int64_t layer, WeightLoader& w, const std::string& p)
      : Module("GPT2Block") {
    ln_1_ = &add_module("ln_1", layer_norm(dims, w, p + "ln_1"));
    attn_ = &add_module("attn", std::make_unique<GPT2Attention>(dims, layer, w, p + "attn."));
    ln_2_ = &add_module("ln_2", layer_norm(dims, w, p + "ln_2"));
    mlp_ = &add_module("mlp", std::make_unique<GPT2MLP>(dims, activation, w, p + "mlp."));
  }

 protected:
  Value forward(Inputs& inputs, ForwardContext& ctx) override {
    return pre_norm_block(*this, inputs, *ln_1_, *attn_, *ln_2_, *mlp_, ctx);
  }

 private:
  Module* ln_1_;
  Module* attn_;
  Module* ln_2_;
  Module* mlp_;
};

class GPT2Model : public Module {
 public:
  GPT2Model(const ModelConfig& config, const Gpt2Dims& dims, WeightLoader& w, const std::string& p)
      : Module("GPT2Model") {
    wte_ = &add_module("wte", std::make_unique<Embedding>(w.take(p + "wte.weight", {dims.vocab, dims.d})));
    wpe_ = &add_module("wpe", std::make_unique<Embedding>(w.take(p + "wpe.weight", {dims.positions, dims.d})));
    layers_ = &add_module("h", std::make_unique<ModuleList>());
    for (int64_t i = 0; i < config.num_layers; ++i)
      layers_->append(std::make_unique<GPT2Block>(dims, config.activation, i, w, p + "h." + std::to_string(i) + "."));
    ln_f_ = &add_module("ln_f", layer_norm(dims, w, p + "ln_f"));
  }
  ModuleList& layers() { return *layers_; }
  Module& wte() { return *wte_; }
  Module& ln_f() { return *ln_f_; }

 protected:
  Value forward(Inputs& inputs, ForwardContext& ctx) override {
    const at::Tensor& ids = single_tensor_input(*this, inputs);
    const int64_t t = ids.size(-1);
    ForwardContext local = ctx;
    if (!local.position_ids.defined())
      local.position_ids = make_position_ids({}, ctx.cache != nullptr ? ctx.cache->length() : 0, t, ids.device());
    at::Tensor tokens = call_hidden(*wte_, ids, local);
    at::Tensor positions = call_hidden(*wpe_, local.position_ids, local);
    at::Tensor x = guarded(*this, [&] { return tokens + positions; });
    for (std::size_t i = 0; i < layers_->size(); ++i) x = call_hidden((*layers_)[i], x, local);
    x = call_hidden(*ln_f_, x, local);
    if (ctx.cache != nullptr) ctx.cache->advance(t);
    return Value::tuple({Value(x)});
  }

 private:
  Module* wte_;
  Module* wpe_;
  ModuleList* layers_;
  Module* ln_f_;
};

class GPT2LMHeadModel : public CausalLM {
 public:
  GPT2LMHeadModel(const ModelConfig& config, WeightLoader& w) : CausalLM("GPT2LMHeadModel", config) {
    Gpt2Dims dims{};
    dims.d = config.hidden_size;
    dims.heads = config.num_heads;
    dims.head_dim = config.hidden_size / config.num_heads;
    dims.ff = config.intermediate_size > 0 ? config.intermediate_size : 4 * config.hidden_size;
    dims.vocab = config.vocab_size;
    dims.positions = config.max_positions;
    dims.eps = config.norm_eps;
    // GPT2LMHeadModel checkpoints prefix the base model with "transformer."; GPT2Model ones do not.
    const std::string p = w.contains("transformer.wte.weight") || !w.contains("wte.weight") ? "transformer." : "";
    auto& base = add_module("transformer", std::make_unique<GPT2Model>(config, dims, w, p));
    at::Tensor head;
    if (config.tie_word_embeddings) {
      w.discard("lm_head.weight");  // Hugging Face ties regardless of a saved copy
      head = base.wte().parameter("weight");
    } else {
      head = w.take("lm_head.weight", {dims.vocab, dims.d});
    }
    auto& lm_head = add_module("lm_head", std::make_unique<Linear>(head));
    set_structure(&base, &base.layers(), &base.wte(), &base.ln_f(), &lm_head);
  }
};

}  // namespace

std::unique_ptr<CausalLM> build_gpt2(const ModelConfig& config, WeightLoader& weights) {
  return std::make_unique<GPT2LMHeadModel>(config, weights);
}

}  // namespace nnsight
