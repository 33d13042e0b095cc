#include "nnsight/runtime/loaders/llama2c.h"

#include <cstring>
#include <limits>

#include "nnsight/base/error.h"
#include "nnsight/runtime/loaders/mapped_file.h"

namespace nnsight {
namespace {

constexpr uint32_t kVersionedMagic = 0x616b3432;  // "ak42": llama2.c's newer export versions
constexpr std::size_t kHeaderBytes = 7 * sizeof(int32_t);

struct Header {
  int64_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
  bool shared_classifier;
};

Header read_header(const MappedFile& f) {
  const std::string where = "file " + f.path();
  if (f.size() >= 4) {
    uint32_t magic = 0;
    std::memcpy(&magic, f.data(), 4);
    if (magic == kVersionedMagic)
      throw Error("this is a versioned llama2.c export (magic \"ak42\"), not the legacy float32 format", where,
                  "export the model with llama2.c's export.py --version 0");
  }
  if (f.size() < kHeaderBytes)
    throw Error("file is too short for a llama2.c header (" + std::to_string(f.size()) + " bytes, need " +
                    std::to_string(kHeaderBytes) + ")",
                where, "the file is empty or truncated");
  int32_t h[7];
  std::memcpy(h, f.data(), sizeof h);
  Header r{h[0], h[1], h[2], h[3], h[4], h[5] < 0 ? -int64_t{h[5]} : h[5], h[6], h[5] > 0};
  const char* names[] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  const int64_t vals[] = {r.dim, r.hidden_dim, r.n_layers, r.n_heads, r.n_kv_heads, r.vocab_size, r.seq_len};
  for (int i = 0; i < 7; ++i)
    if (vals[i] <= 0)
      throw Error(std::string("header field ") + names[i] + " is " + std::to_string(vals[i]) + ", not positive", where,
                  "this is not a llama2.c checkpoint, or it is corrupt");
  if (r.dim % r.n_heads != 0 || r.n_heads % r.n_kv_heads != 0 || (r.dim / r.n_heads) % 2 != 0)
    throw Error("header is inconsistent: dim " + std::to_string(r.dim) + ", n_heads " + std::to_string(r.n_heads) +
                    ", n_kv_heads " + std::to_string(r.n_kv_heads),
                where, "this is not a llama2.c checkpoint, or it is corrupt");
  return r;
}

}  // namespace

ModelFiles read_llama2c_file(const std::string& path) {
  auto file = MappedFile::open(path);
  const Header h = read_header(*file);
  const std::string where = "file " + path;
  const int64_t head_dim = h.dim / h.n_heads, kv_dim = h.n_kv_heads * head_dim, L = h.n_layers;

  // The tensors in file order. Per-layer tensors are stored stacked over layers.
  struct Part {
    std::string name;  // "%" is replaced by the layer index; "" = skipped
    std::vector<int64_t> shape;
    bool per_layer;
  };
  std::vector<Part> parts = {
      {"model.embed_tokens.weight", {h.vocab_size, h.dim}, false},
      {"model.layers.%.input_layernorm.weight", {h.dim}, true},
      {"model.layers.%.self_attn.q_proj.weight", {h.dim, h.dim}, true},
      {"model.layers.%.self_attn.k_proj.weight", {kv_dim, h.dim}, true},
      {"model.layers.%.self_attn.v_proj.weight", {kv_dim, h.dim}, true},
      {"model.layers.%.self_attn.o_proj.weight", {h.dim, h.dim}, true},
      {"model.layers.%.post_attention_layernorm.weight", {h.dim}, true},
      {"model.layers.%.mlp.gate_proj.weight", {h.hidden_dim, h.dim}, true},  // w1
      {"model.layers.%.mlp.down_proj.weight", {h.dim, h.hidden_dim}, true},  // w2
      {"model.layers.%.mlp.up_proj.weight", {h.hidden_dim, h.dim}, true},    // w3
      {"model.norm.weight", {h.dim}, false},
      {"", {h.seq_len, head_dim / 2}, false},  // freq_cis_real (recomputed by the model)
      {"", {h.seq_len, head_dim / 2}, false},  // freq_cis_imag
  };
  if (!h.shared_classifier) parts.push_back({"lm_head.weight", {h.vocab_size, h.dim}, false});

  // Expected size, computed without overflow (header fields are < 2^31, products of three fit in 128 bits).
  unsigned __int128 expected = kHeaderBytes;
  for (const auto& p : parts) {
    unsigned __int128 n = p.per_layer ? L : 1;
    for (int64_t d : p.shape) n *= static_cast<uint64_t>(d);
    expected += n * sizeof(float);
  }
  if (expected != file->size()) {
    const bool huge = expected > std::numeric_limits<uint64_t>::max();
    throw Error("file size does not match its header: expected " +
                    (huge ? std::string("more than 2^64") : std::to_string(static_cast<uint64_t>(expected))) +
                    " bytes, found " + std::to_string(file->size()),
                where, "the file is truncated or not a llama2.c (version 0) checkpoint");
  }

  ModelFiles mf;
  mf.source = path;
  ModelConfig& c = mf.config;
  c.arch = Architecture::Llama;
  c.model_type = "llama";
  c.vocab_size = h.vocab_size;
  c.hidden_size = h.dim;
  c.num_layers = h.n_layers;
  c.num_heads = h.n_heads;
  c.num_kv_heads = h.n_kv_heads;
  c.head_dim = head_dim;
  c.intermediate_size = h.hidden_dim;
  c.max_positions = h.seq_len;
  c.norm_eps = 1e-5;  // llama2.c's rmsnorm constant
  c.rope_theta = 10000.0;
  c.rope_style = RopeStyle::Interleaved;
  c.tie_word_embeddings = h.shared_classifier;
  c.activation = "silu";
  c.bos_token_id = 1;  // llama2.c's tokenizer convention
  c.eos_token_ids = {2};
  c.validate(path);

  std::size_t offset = kHeaderBytes;
  for (const auto& p : parts) {
    std::size_t numel = 1;
    for (int64_t d : p.shape) numel *= static_cast<std::size_t>(d);
    const int64_t reps = p.per_layer ? L : 1;
    for (int64_t l = 0; l < reps; ++l) {
      if (!p.name.empty()) {
        std::string name = p.name;
        if (auto pos = name.find('%'); pos != std::string::npos) name.replace(pos, 1, std::to_string(l));
        mf.weights.add(name, view_mapped(file, offset, p.shape, at::kFloat), path);
      }
      offset += numel * sizeof(float);
    }
  }
  return mf;
}

}  // namespace nnsight
