#include "nnsight/runtime/loaders/hf_config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "nnsight/base/error.h"

namespace nnsight {
namespace {

using json = nlohmann::json;

// Typed field access with messages naming the file and key. A JSON null counts as absent (HF writes
// e.g. "n_inner": null to mean "use the default").
class Fields {
 public:
  Fields(const json& j, const std::string& source) : j_(j), source_(source) {}

  const json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  bool has(const char* key) const { return find(key) != nullptr; }

  int64_t get_int(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) throw Error(std::string("required field '") + key + "' is missing", where(key), hint());
    return as_int(key, *v);
  }
  int64_t get_int(const char* key, int64_t def) const { return has(key) ? get_int(key) : def; }

  double get_double(const char* key, double def) const {
    const json* v = find(key);
    if (v == nullptr) return def;
    if (!v->is_number()) throw Error(std::string("field '") + key + "' is not a number", where(key), hint());
    return v->get<double>();
  }

  bool get_bool(const char* key, bool def) const {
    const json* v = find(key);
    if (v == nullptr) return def;
    if (!v->is_boolean()) throw Error(std::string("field '") + key + "' is not true/false", where(key), hint());
    return v->get<bool>();
  }

  std::string get_string(const char* key, const std::string& def) const {
    const json* v = find(key);
    if (v == nullptr) return def;
    if (!v->is_string()) throw Error(std::string("field '") + key + "' is not a string", where(key), hint());
    return v->get<std::string>();
  }

  /// An int, a list of ints, or absent (empty).
  std::vector<int64_t> get_int_list(const char* key) const {
    const json* v = find(key);
    if (v == nullptr) return {};
    if (!v->is_array()) return {as_int(key, *v)};
    std::vector<int64_t> out;
    for (const auto& e : *v) out.push_back(as_int(key, e));
    return out;
  }

  std::string where(const char* key) const { return "file " + source_ + ", field " + key; }

 private:
  int64_t as_int(const char* key, const json& v) const {
    if (!v.is_number_integer()) throw Error(std::string("field '") + key + "' is not an integer", where(key), hint());
    return v.get<int64_t>();
  }
  static std::string hint() { return "fix config.json or re-download it with the model"; }

  const json& j_;
  const std::string& source_;
};

ModelConfig gpt2_config(const Fields& f) {
  ModelConfig c;
  c.arch = Architecture::GPT2;
  c.model_type = "gpt2";
  // Defaults are those of transformers' GPT2Config.
  c.vocab_size = f.get_int("vocab_size", 50257);
  c.hidden_size = f.get_int("n_embd", 768);
  c.num_layers = f.get_int("n_layer", 12);
  c.num_heads = f.get_int("n_head", 12);
  c.num_kv_heads = c.num_heads;
  c.head_dim = c.num_heads > 0 ? c.hidden_size / c.num_heads : 0;
  c.intermediate_size = f.get_int("n_inner", 4 * c.hidden_size);
  c.max_positions = f.get_int("n_positions", f.get_int("n_ctx", 1024));
  c.norm_eps = f.get_double("layer_norm_epsilon", 1e-5);
  c.activation = f.get_string("activation_function", "gelu_new");
  c.tie_word_embeddings = f.get_bool("tie_word_embeddings", true);
  c.attention_qkv_bias = c.attention_out_bias = c.mlp_bias = true;  // Conv1D layers always have biases
  c.bos_token_id = f.get_int("bos_token_id", 50256);
  c.eos_token_ids = f.has("eos_token_id") ? f.get_int_list("eos_token_id") : std::vector<int64_t>{50256};
  c.pad_token_id = f.get_int("pad_token_id", -1);
  for (const char* variant : {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"})
    if (f.get_bool(variant, false))
      throw Error(std::string("GPT-2 variants with ") + variant + " are not supported", f.where(variant),
                  "use a standard GPT-2 checkpoint");
  return c;
}

// llama, mistral and qwen2 share the Llama field names.
ModelConfig llama_like_config(const Fields& f, const std::string& model_type) {
  ModelConfig c;
  c.arch = Architecture::Llama;
  c.model_type = model_type;
  c.rope_style = RopeStyle::RotateHalf;  // HF checkpoints permute q/k rows for rotate-half RoPE
  c.vocab_size = f.get_int("vocab_size");
  c.hidden_size = f.get_int("hidden_size");
  c.num_layers = f.get_int("num_hidden_layers");
  c.num_heads = f.get_int("num_attention_heads");
  c.num_kv_heads = f.get_int("num_key_value_heads", c.num_heads);
  c.head_dim = f.get_int("head_dim", c.num_heads > 0 ? c.hidden_size / c.num_heads : 0);
  c.intermediate_size = f.get_int("intermediate_size");
  c.max_positions = f.get_int("max_position_embeddings", 2048);
  c.norm_eps = f.get_double("rms_norm_eps", 1e-6);
  c.rope_theta = f.get_double("rope_theta", 10000.0);
  c.activation = f.get_string("hidden_act", "silu");
  c.tie_word_embeddings = f.get_bool("tie_word_embeddings", false);
  if (model_type == "qwen2") {
    c.attention_qkv_bias = true;  // Qwen2 always has q/k/v biases and no o_proj bias
  } else {
    // HF Llama's attention_bias puts biases on q, k, v and o alike.
    c.attention_qkv_bias = c.attention_out_bias = f.get_bool("attention_bias", false);
    c.mlp_bias = f.get_bool("mlp_bias", false);
  }
  // Mistral's sliding_window (and Qwen2's use_sliding_window) only matter for sequences longer than the
  // window (4096+ tokens); we attend to the full context, which is exact below that length.
  if (const json* rs = f.find("rope_scaling")) {
    std::string type;
    if (rs->is_object()) {
      auto t = rs->find("rope_type");
      if (t == rs->end()) t = rs->find("type");
      if (t != rs->end() && t->is_string()) type = t->get<std::string>();
    }
    if (type != "default")
      throw Error("rope_scaling" + (type.empty() ? std::string() : " of type '" + type + "'") + " is not supported",
                  f.where("rope_scaling"), "use a model without RoPE scaling (Llama 1/2, Mistral, Qwen2)");
  }
  c.bos_token_id = f.get_int("bos_token_id", -1);
  c.eos_token_ids = f.get_int_list("eos_token_id");
  c.pad_token_id = f.get_int("pad_token_id", -1);
  return c;
}

}  // namespace

const char* supported_hf_model_types() { return "gpt2, llama, mistral, qwen2"; }

ModelConfig config_from_hf_json(const json& config, const std::string& source) {
  if (!config.is_object())
    throw Error("config is not a JSON object", "file " + source, "config.json must be a JSON object");
  Fields f(config, source);
  const json* mt = f.find("model_type");
  if (mt == nullptr || !mt->is_string())
    throw Error("config has no 'model_type' string", f.where("model_type"),
                std::string("supported model types: ") + supported_hf_model_types());
  const std::string type = mt->get<std::string>();
  ModelConfig c;
  if (type == "gpt2")
    c = gpt2_config(f);
  else if (type == "llama" || type == "mistral" || type == "qwen2")
    c = llama_like_config(f, type);
  else
    throw Error("unsupported model_type '" + type + "'", f.where("model_type"),
                std::string("supported model types: ") + supported_hf_model_types());
  c.validate(source);
  return c;
}

ModelConfig read_hf_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open config file", "file " + path, "a Hugging Face model directory needs config.json");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw Error(std::string("config is not valid JSON: ") + e.what(), "file " + path, "fix or re-download config.json");
  } catch (const std::ios_base::failure& e) {  // the parser reads the stream buffer directly, which throws
    throw Error(std::string("cannot read config file: ") + e.what(), "file " + path,
                "config.json must be a readable regular file");
  }
  return config_from_hf_json(j, path);
}

}  // namespace nnsight
