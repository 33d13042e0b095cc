// read_gguf_model (declared in gguf.h): GGUF metadata -> ModelConfig, GGUF tensor names -> Hugging Face names.
#include <ATen/ops/empty.h>

#include <span>
#include <string_view>

#include "nnsight/base/error.h"
#include "nnsight/runtime/loaders/gguf.h"

namespace nnsight {
namespace {

struct NameRule {
  const char* gguf;  // name after "blk.N." for per-layer tensors, full name otherwise (without .weight/.bias)
  const char* hf;    // "%" = layer index
  bool conv1d;       // GPT-2 Conv1D weight: HF layout is [in, out], the transpose of GGUF's
};

constexpr NameRule kLlamaRules[] = {
    {"token_embd", "model.embed_tokens", false},
    {"output_norm", "model.norm", false},
    {"output", "lm_head", false},
    {"attn_norm", "model.layers.%.input_layernorm", false},
    {"attn_q", "model.layers.%.self_attn.q_proj", false},
    {"attn_k", "model.layers.%.self_attn.k_proj", false},
    {"attn_v", "model.layers.%.self_attn.v_proj", false},
    {"attn_output", "model.layers.%.self_attn.o_proj", false},
    {"ffn_norm", "model.layers.%.post_attention_layernorm", false},
    {"ffn_gate", "model.layers.%.mlp.gate_proj", false},
    {"ffn_up", "model.layers.%.mlp.up_proj", false},
    {"ffn_down", "model.layers.%.mlp.down_proj", false},
};

constexpr NameRule kGpt2Rules[] = {
    {"token_embd", "transformer.wte", false},
    {"position_embd", "transformer.wpe", false},
    {"output_norm", "transformer.ln_f", false},
    {"output", "lm_head", false},
    {"attn_norm", "transformer.h.%.ln_1", false},
    {"attn_qkv", "transformer.h.%.attn.c_attn", true},
    {"attn_output", "transformer.h.%.attn.c_proj", true},
    {"ffn_norm", "transformer.h.%.ln_2", false},
    {"ffn_up", "transformer.h.%.mlp.c_fc", true},
    {"ffn_down", "transformer.h.%.mlp.c_proj", true},
};

// The HF name of a GGUF tensor name ("[blk.N.]base.weight|bias"), or "" if no rule matches. Sets `conv1d` for
// Conv1D weights. Parsed by hand: std::regex recurses once per character and overflows the stack on the
// megabyte-long names a corrupt file can hold.
std::string hf_name(const std::string& gguf, bool gpt2, bool& conv1d) {
  conv1d = false;
  std::string_view rest = gguf, layer;
  if (rest.starts_with("blk.")) {
    const std::size_t digits = rest.find_first_not_of("0123456789", 4);
    if (digits == 4 || digits == std::string_view::npos || rest[digits] != '.') return {};
    layer = rest.substr(4, digits - 4);
    rest.remove_prefix(digits + 1);
  }
  const std::size_t dot = rest.rfind('.');
  if (dot == 0 || dot == std::string_view::npos) return {};
  const std::string_view base = rest.substr(0, dot), suffix = rest.substr(dot + 1);
  if (suffix != "weight" && suffix != "bias") return {};
  if (base.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string_view::npos) return {};
  const bool per_layer = !layer.empty();
  for (const NameRule& r : gpt2 ? std::span<const NameRule>(kGpt2Rules) : std::span<const NameRule>(kLlamaRules)) {
    std::string hf = r.hf;
    const auto pct = hf.find('%');
    if (base != r.gguf || per_layer != (pct != std::string::npos)) continue;
    if (per_layer) hf.replace(pct, 1, layer);
    conv1d = r.conv1d && suffix == "weight";
    return hf + "." + std::string(suffix);
  }
  return {};
}

ModelConfig config_from_gguf(const GgufFile& g) {
  const std::string arch = g.get_string("general.architecture");
  const std::string p = arch + ".";
  ModelConfig c;
  c.model_type = arch;
  if (arch == "gpt2") {
    c.arch = Architecture::GPT2;
    c.norm_eps = g.get_float(p + "attention.layer_norm_epsilon", 1e-5);
    c.activation = "gelu_new";
    c.attention_qkv_bias = c.attention_out_bias = c.mlp_bias = true;
  } else if (arch == "llama" || arch == "qwen2") {
    c.arch = Architecture::Llama;
    c.norm_eps = g.get_float(p + "attention.layer_norm_rms_epsilon", 1e-5);
    c.rope_theta = g.get_float(p + "rope.freq_base", 10000.0);
    c.activation = "silu";
    // llama.cpp's converter undoes HF's q/k permutation for llama; qwen2 uses NeoX (rotate-half) RoPE unpermuted.
    c.rope_style = arch == "llama" ? RopeStyle::Interleaved : RopeStyle::RotateHalf;
    c.attention_qkv_bias = g.has_tensor("blk.0.attn_q.bias");
    c.attention_out_bias = g.has_tensor("blk.0.attn_output.bias");
    c.mlp_bias = g.has_tensor("blk.0.ffn_up.bias");
  } else {
    throw Error("unsupported GGUF architecture '" + arch + "'", "file " + g.path() + ", key general.architecture",
                "supported architectures: llama, qwen2, gpt2");
  }
  c.hidden_size = g.get_int(p + "embedding_length");
  c.num_layers = g.get_int(p + "block_count");
  c.num_heads = g.get_int(p + "attention.head_count");
  c.num_kv_heads = g.get_int(p + "attention.head_count_kv", c.num_heads);
  c.head_dim = c.num_heads > 0 ? c.hidden_size / c.num_heads : 0;
  if (c.arch == Architecture::Llama && g.has(p + "attention.key_length"))
    c.head_dim = g.get_int(p + "attention.key_length");
  c.intermediate_size = g.get_int(p + "feed_forward_length");
  c.max_positions = g.get_int(p + "context_length");
  // The embedding's shape is the most reliable vocabulary size (the token list may be absent).
  const GgufTensorInfo& emb = g.tensor_info("token_embd.weight");
  c.vocab_size = emb.ne.size() == 2 ? emb.ne[1] : 0;
  c.tie_word_embeddings = !g.has_tensor("output.weight") || g.same_data("output.weight", "token_embd.weight");
  c.bos_token_id = g.get_int("tokenizer.ggml.bos_token_id", -1);
  if (g.has("tokenizer.ggml.eos_token_id")) c.eos_token_ids = {g.get_int("tokenizer.ggml.eos_token_id")};
  c.pad_token_id = g.get_int("tokenizer.ggml.padding_token_id", -1);
  if (c.pad_token_id >= c.vocab_size) c.pad_token_id = -1;  // llama.cpp writes 2^32-1 for "none"
  return c;
}

}  // namespace

ModelFiles read_gguf_model(const std::string& path) {
  ModelFiles mf;
  mf.source = path;
  mf.gguf = GgufFile::open(path);
  const GgufFile& g = *mf.gguf;
  mf.config = config_from_gguf(g);
  mf.config.validate(path);
  const bool gpt2 = mf.config.arch == Architecture::GPT2;
  for (const GgufTensorInfo& info : g.tensors()) {
    bool conv1d = false;
    std::string name = hf_name(info.name, gpt2, conv1d);
    if (name.empty())
      throw Error("unexpected tensor '" + info.name + "' for architecture " + mf.config.model_type,
                  "file " + path + ", tensor " + info.name,
                  "this model variant is not supported (only plain llama, qwen2 and gpt2 layouts are)");
    if (name == "lm_head.weight" && mf.config.tie_word_embeddings) continue;  // identical to the embedding
    at::Tensor t = g.tensor(info.name);
    if (conv1d) {
      if (t.dim() != 2)
        throw Error("tensor is not 2-D", "file " + path + ", tensor " + info.name, "the GGUF file is corrupt");
      t = t.t();  // a view: HF's Conv1D stores [in, out]
    }
    mf.weights.add(name, std::move(t), path);
  }
  return mf;
}

}  // namespace nnsight
