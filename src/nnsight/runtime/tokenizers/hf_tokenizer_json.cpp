#include "nnsight/runtime/tokenizers/hf_tokenizer_json.h"

#include <initializer_list>
#include <unordered_map>

#include "nnsight/base/error.h"
#include "nnsight/runtime/tokenizers/byte_level_bpe.h"
#include "nnsight/runtime/tokenizers/sentencepiece_bpe.h"

namespace nnsight {
namespace {

using json = nlohmann::json;

/// The first component of type `type` in a pipeline stage that may be a single
/// component or a Sequence of them; nullptr when absent.
const json* find_component(const json& stage, const std::string& type) {
  if (!stage.is_object()) return nullptr;
  if (stage.value("type", "") == type) return &stage;
  for (const char* list : {"pretokenizers", "normalizers", "decoders", "processors"}) {
    if (!stage.contains(list) || !stage.at(list).is_array()) continue;
    for (const auto& child : stage.at(list))
      if (const json* found = find_component(child, type)) return found;
  }
  return nullptr;
}

/// The parts of tokenizer.json both BPE flavours share.
struct CommonParts {
  std::vector<std::string> tokens;
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<AddedToken> added;
  const json* vocab = nullptr;                         // model.vocab, for looking up special token names
  std::unordered_map<std::string, int64_t> added_ids;  // added tokens by content
  int64_t bos = -1, eos = -1, pad = -1, unk = -1;
  bool add_bos = false;
};

void read_vocab_and_merges(const json& model, CommonParts& p) {
  const json& vocab = model.at("vocab");
  if (!vocab.is_object()) throw std::runtime_error("model.vocab is not an object");
  p.vocab = &vocab;
  std::vector<std::pair<const std::string*, int64_t>> entries;
  entries.reserve(vocab.size());
  int64_t size = 0;
  const auto limit = static_cast<int64_t>(vocab.size()) + kMaxTokenIdGap;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer())
      throw std::runtime_error("the id of token '" + it.key().substr(0, 64) + "' is not an integer");
    auto id = it.value().get<int64_t>();
    if (id < 0 || id >= limit)
      throw std::runtime_error("token '" + it.key().substr(0, 64) + "' has id " + std::to_string(id) +
                               ", outside [0, " + std::to_string(limit) + ")");
    entries.emplace_back(&it.key(), id);
    size = std::max(size, id + 1);
  }
  p.tokens.resize(size);
  for (const auto& [piece, id] : entries) p.tokens[id] = *piece;
  if (!model.contains("merges")) return;
  for (const auto& m : model.at("merges")) {
    if (m.is_string()) {
      const auto& s = m.get_ref<const std::string&>();
      auto space = s.find(' ');
      if (space == std::string::npos) throw std::runtime_error("merge '" + s + "' is not two tokens");
      p.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2) {
      p.merges.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
    } else {
      throw std::runtime_error("a merge is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
}

void read_added_tokens(const json& j, CommonParts& p) {
  if (!j.contains("added_tokens") || !j.at("added_tokens").is_array()) return;
  for (const auto& t : j.at("added_tokens")) {
    AddedToken a;
    if (!t.at("id").is_number_integer()) throw std::runtime_error("an added token's id is not an integer");
    a.id = t.at("id").get<int64_t>();
    a.content = t.at("content").get<std::string>();
    a.special = t.value("special", false);
    a.lstrip = t.value("lstrip", false);
    a.rstrip = t.value("rstrip", false);
    p.added_ids[a.content] = a.id;
    p.added.push_back(std::move(a));
  }
}

int64_t first_known(const CommonParts& p, std::initializer_list<std::string> names) {
  for (const auto& name : names) {
    if (name.empty()) continue;
    auto it = p.added_ids.find(name);
    if (it != p.added_ids.end()) return it->second;
    auto v = p.vocab->find(name);
    if (v != p.vocab->end()) return v->get<int64_t>();
  }
  return -1;
}

/// BOS/EOS/pad/unk and whether BOS is added, from the side files, the
/// post-processor template, then well-known names.
void resolve_special_ids(const json& j, const tokenizer_files::SpecialTokenConfig& config, CommonParts& p) {
  std::string template_bos;
  bool template_adds = false;
  if (j.contains("post_processor"))
    if (const json* tp = find_component(j.at("post_processor"), "TemplateProcessing")) {
      const json& single = tp->value("single", json::array());
      if (single.is_array() && !single.empty() && single.at(0).contains("SpecialToken")) {
        template_bos = single.at(0).at("SpecialToken").value("id", "");
        template_adds = true;
      }
    }
  p.bos = first_known(p, {config.bos, template_bos, "<s>", "<|begin_of_text|>", "<bos>", "<|endoftext|>"});
  p.eos = first_known(p, {config.eos, "</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>"});
  p.pad = first_known(p, {config.pad});
  if (p.unk < 0) p.unk = first_known(p, {config.unk});
  p.add_bos = config.add_bos.value_or(template_adds);
}

std::unique_ptr<Tokenizer> make_byte_level(const json& j, CommonParts p, const std::string& source) {
  ByteLevelBpeData d;
  const json& pre = j.contains("pre_tokenizer") ? j.at("pre_tokenizer") : json();
  if (const json* bl = find_component(pre, "ByteLevel")) {
    d.add_prefix_space = bl->value("add_prefix_space", false);
    if (!bl->value("use_regex", true)) d.pattern.clear();
  }
  if (const json* split = find_component(pre, "Split"))
    if (split->contains("pattern") && split->at("pattern").contains("Regex"))
      d.pattern = split->at("pattern").at("Regex").get<std::string>();
  d.ignore_merges = j.at("model").value("ignore_merges", false);
  d.tokens = std::move(p.tokens);
  d.merges = std::move(p.merges);
  d.added_tokens = std::move(p.added);
  d.bos_id = p.bos;
  d.eos_id = p.eos;
  d.pad_id = p.pad;
  d.unk_id = p.unk;
  d.add_bos = p.add_bos;
  return std::make_unique<ByteLevelBpeTokenizer>(std::move(d), source);
}

std::unique_ptr<Tokenizer> make_sentencepiece(const json& j, CommonParts p, const std::string& source) {
  SentencePieceBpeData d;
  const json null;
  const json& norm = j.contains("normalizer") ? j.at("normalizer") : null;
  const json& pre = j.contains("pre_tokenizer") ? j.at("pre_tokenizer") : null;
  const json& dec = j.contains("decoder") ? j.at("decoder") : null;
  d.add_space_prefix = false;
  if (const json* prepend = find_component(norm, "Prepend")) {
    d.space_symbol = prepend->value("prepend", d.space_symbol);
    d.add_space_prefix = true;
  }
  if (const json* replace = find_component(norm, "Replace")) d.space_symbol = replace->value("content", d.space_symbol);
  bool strip = false;
  if (const json* meta = find_component(pre, "Metaspace")) {
    d.space_symbol = meta->value("replacement", d.space_symbol);
    std::string scheme = meta->value("prepend_scheme", meta->value("add_prefix_space", true) ? "always" : "never");
    d.add_space_prefix = scheme != "never";
    d.prefix_first_only = scheme == "first";
    d.split_on_space = meta->value("split", true);
  }
  if (const json* meta = find_component(dec, "Metaspace"))
    strip = meta->value("prepend_scheme", meta->value("add_prefix_space", true) ? "always" : "never") != "never";
  if (const json* s = find_component(dec, "Strip")) strip = strip || s->value("start", 0) > 0;
  d.strip_leading_space = strip;
  d.byte_fallback = j.at("model").value("byte_fallback", false);
  d.tokens = std::move(p.tokens);
  d.merges = std::move(p.merges);
  d.added_tokens = std::move(p.added);
  d.unk_id = p.unk;
  d.bos_id = p.bos;
  d.eos_id = p.eos;
  d.pad_id = p.pad;
  d.add_bos = p.add_bos;
  return std::make_unique<SentencePieceBpeTokenizer>(std::move(d), source);
}

}  // namespace

std::unique_ptr<Tokenizer> hf_tokenizer_from_json(const json& j, const std::string& source,
                                                  const tokenizer_files::SpecialTokenConfig& config) {
  const std::string where = "file " + source;
  if (!j.is_object() || !j.contains("model") || !j.at("model").is_object())
    throw Error("not a Hugging Face tokenizer.json (no \"model\" object)", where,
                "pass a tokenizer.json saved by Hugging Face tokenizers");
  const json& model = j.at("model");
  std::string type = model.value("type", model.contains("merges") ? "BPE" : "");
  if (type != "BPE")
    throw Error("unsupported tokenizer model type '" + type + "'", where,
                "only BPE tokenizers (GPT-2, Llama, Mistral, Qwen style) are supported");
  CommonParts p;
  try {
    read_vocab_and_merges(model, p);
    read_added_tokens(j, p);
    for (const auto& a : config.added)
      if (!p.added_ids.contains(a.content)) {
        p.added_ids[a.content] = a.id;
        p.added.push_back(a);
      }
    if (model.contains("unk_token") && model.at("unk_token").is_string())
      p.unk = first_known(p, {model.at("unk_token").get<std::string>()});
    resolve_special_ids(j, config, p);
  } catch (const json::exception& e) {
    throw Error(std::string("unexpected tokenizer.json content: ") + e.what(), where, "re-download the tokenizer file");
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const Error*>(&e)) throw;
    throw Error(std::string("unexpected tokenizer.json content: ") + e.what(), where, "re-download the tokenizer file");
  }

  auto has = [&](const char* stage, const char* component) {
    return j.contains(stage) && find_component(j.at(stage), component) != nullptr;
  };
  if (has("pre_tokenizer", "ByteLevel") || has("decoder", "ByteLevel")) return make_byte_level(j, std::move(p), source);
  if (model.value("byte_fallback", false) || has("pre_tokenizer", "Metaspace") || has("normalizer", "Prepend") ||
      has("decoder", "Metaspace"))
    return make_sentencepiece(j, std::move(p), source);
  throw Error(
      "unsupported tokenizer.json: neither byte-level (ByteLevel) nor SentencePiece-style (Metaspace, "
      "byte_fallback) BPE",
      where, "only GPT-2 style and Llama style BPE tokenizers are supported");
}

std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& path) {
  json j = tokenizer_files::read_json(path, "tokenizer.json");
  auto config = tokenizer_files::read_special_token_config(tokenizer_files::folder_of(path));
  return hf_tokenizer_from_json(j, path, config);
}

}  // namespace nnsight
