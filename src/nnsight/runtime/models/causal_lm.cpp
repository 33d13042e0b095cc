#include "nnsight/runtime/models/causal_lm.h"

#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include "nnsight/base/error.h"
#include "nnsight/runtime/forward_context.h"
#include "nnsight/runtime/generation/kv_cache.h"
#include "nnsight/runtime/loaders/weight_store.h"
#include "nnsight/runtime/models/attention.h"
#include "nnsight/runtime/models/gpt2.h"
#include "nnsight/runtime/models/llama.h"
#include "nnsight/runtime/models/module_support.h"
#include "nnsight/runtime/models/weight_loader.h"

namespace nnsight {

CausalLM::CausalLM(std::string type_name, ModelConfig config)
    : Module(std::move(type_name)), config_(std::move(config)) {}

void CausalLM::set_structure(Module* base_model, ModuleList* layers, Module* embed_tokens, Module* final_norm,
                             Module* lm_head) {
  base_model_ = base_model;
  layers_ = layers;
  embed_tokens_ = embed_tokens;
  final_norm_ = final_norm;
  lm_head_ = lm_head;
}

Module& CausalLM::layer(std::size_t i) const {
  if (i >= layers_->size())
    throw Error("layer " + std::to_string(i) + " does not exist", "module '" + layers_->path() + "'",
                "the model has " + std::to_string(layers_->size()) + " layers");
  return (*layers_)[i];
}

at::Tensor CausalLM::logits(const at::Tensor& input_ids, const at::Tensor& attention_mask, KVCache* cache,
                            int64_t logits_to_keep) {
  Inputs inputs({Value(input_ids)});
  if (attention_mask.defined()) inputs.kwargs.set("attention_mask", Value(attention_mask));
  if (logits_to_keep > 0) inputs.kwargs.set("logits_to_keep", Value(logits_to_keep));
  ForwardContext ctx;
  ctx.cache = cache;
  Value out = (*this)(std::move(inputs), ctx);
  return hidden_states_of(out, *this);
}

Value CausalLM::forward(Inputs& inputs, ForwardContext& ctx) {
  // Built only on failure: this runs on every forward (every decode step).
  auto where = [this] { return "model '" + type_name() + "' call"; };
  if (inputs.args.empty() || !inputs.args[0].is_tensor() || !inputs.args[0].as_tensor().defined())
    throw Error("the model expects input_ids as its first argument", where(),
                "pass an int64 tensor of token ids [batch, tokens]");
  const at::Tensor& ids = inputs.args[0].as_tensor();
  if (ids.dim() != 2 || at::isFloatingType(ids.scalar_type()) || ids.scalar_type() == at::kBool || ids.size(1) == 0)
    throw Error("input_ids must be a non-empty integer tensor [batch, tokens], got " + inputs.args[0].repr(), where(),
                "tokenize the prompt and pass the ids as an int64 tensor with a batch dimension");
  at::Tensor mask;
  if (const Value* m = inputs.kwargs.find("attention_mask"); m != nullptr && !m->is_none()) mask = m->as_tensor();
  int64_t keep = 0;
  if (const Value* k = inputs.kwargs.find("logits_to_keep"); k != nullptr && !k->is_none()) keep = k->as_int();

  const int64_t b = ids.size(0), t = ids.size(1);
  const int64_t past = ctx.cache != nullptr ? ctx.cache->length() : 0;
  if (ctx.cache != nullptr && ctx.cache->batch() != b)
    throw Error(
        "the KV cache holds " + std::to_string(ctx.cache->batch()) + " rows but input_ids has " + std::to_string(b),
        where(), "use one cache per batch");
  if (mask.defined() && (mask.dim() != 2 || mask.size(0) != b || mask.size(1) != past + t))
    throw Error("attention_mask has shape " + format_shape(mask.sizes()) + ", expected [" + std::to_string(b) + ", " +
                    std::to_string(past + t) + "] (batch, cached + new tokens)",
                where(), "the mask covers every position seen so far, 1 for real tokens and 0 for padding");

  // Per-call state goes in a copy: the caller's context is left as it was.
  ForwardContext local = ctx;
  guarded(*this, [&] {
    local.position_ids = make_position_ids(mask, past, t, ids.device());
    local.attention_bias = make_attention_bias(mask, past, t, config_.dtype, ids.device());
  });
  local.rope_cos = at::Tensor();
  local.rope_sin = at::Tensor();
  Value base_out = (*base_model_)(Inputs({Value(ids)}), local);
  at::Tensor hidden = hidden_states_of(base_out, *base_model_);
  if (keep > 0 && keep < hidden.size(1)) hidden = hidden.narrow(1, hidden.size(1) - keep, keep);
  return (*lm_head_)(hidden, local);
}

namespace {

void check_config(const ModelConfig& c, const std::string& source) {
  auto require = [&](bool ok, const std::string& what) {
    if (!ok) throw Error("invalid model config: " + what, source, "check the model's config (config.json or metadata)");
  };
  require(c.vocab_size > 0, "vocab_size must be positive");
  require(c.hidden_size > 0, "hidden_size must be positive");
  require(c.num_layers > 0, "num_layers must be positive");
  require(c.num_heads > 0, "num_heads must be positive");
  require(at::isFloatingType(c.dtype) && c.dtype != at::kHalf,
          std::string("dtype ") + c10::toString(c.dtype) + " is not supported on CPU (use float32 or bfloat16)");
  if (c.arch == Architecture::GPT2) {
    require(c.hidden_size % c.num_heads == 0, "hidden_size must be a multiple of num_heads");
    require(c.max_positions > 0, "GPT-2 needs max_positions (n_positions)");
  } else {
    const int64_t kv = c.num_kv_heads > 0 ? c.num_kv_heads : c.num_heads;
    const int64_t head_dim = c.head_dim > 0 ? c.head_dim : c.hidden_size / c.num_heads;
    require(c.head_dim > 0 || c.hidden_size % c.num_heads == 0, "hidden_size must be a multiple of num_heads");
    require(c.num_heads % kv == 0, "num_heads must be a multiple of num_kv_heads");
    require(head_dim % 2 == 0, "head_dim must be even for rotary embeddings");
    require(c.intermediate_size > 0, "intermediate_size must be positive");
  }
}

}  // namespace

std::unique_ptr<CausalLM> build_model(const ModelConfig& config, WeightStore& weights) {
  const std::string source = weights.describe_source();
  check_config(config, source);
  // Weights must be ordinary tensors without autograd history: the trace API
  // differentiates through them later, so never inference tensors.
  c10::InferenceMode not_inference(false);
  at::NoGradGuard no_grad;
  WeightLoader loader(weights, config.dtype);
  std::unique_ptr<CausalLM> model;
  try {
    model = config.arch == Architecture::GPT2 ? build_gpt2(config, loader) : build_llama(config, loader);
  } catch (const c10::Error& e) {
    throw Error(std::string("could not prepare the weights: ") + e.what_without_backtrace(), source);
  }
  loader.check_all_used(to_string(config.arch));
  return model;
}

}  // namespace nnsight
