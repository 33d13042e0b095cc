#include "nnsight/runtime/tokenizers/gpt2_bpe_files.h"

#include <unordered_map>

#include "nnsight/base/error.h"
#include "nnsight/runtime/tokenizers/tokenizer_files.h"

namespace nnsight {
namespace {

std::vector<std::pair<std::string, std::string>> parse_merges(const std::string& text, const std::string& path) {
  std::vector<std::pair<std::string, std::string>> merges;
  std::size_t line_no = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    auto space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      throw Error("malformed merge rule '" + std::string(line) + "' (expected two tokens separated by one space)",
                  "file " + path + ", line " + std::to_string(line_no), "re-download the merges file");
    merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
  }
  return merges;
}

}  // namespace

ByteLevelBpeData read_gpt2_bpe_data(const std::string& vocab_path, const std::string& merges_path) {
  nlohmann::json vocab = tokenizer_files::read_json(vocab_path, "BPE vocabulary");
  if (!vocab.is_object() || vocab.empty())
    throw Error("BPE vocabulary is not a JSON object of token -> id", "file " + vocab_path,
                "pass vocab.json / encoder.json");
  ByteLevelBpeData d;
  std::unordered_map<std::string, int64_t> ids;
  try {
    int64_t size = 0;
    const auto limit = static_cast<int64_t>(vocab.size()) + kMaxTokenIdGap;
    for (const auto& [piece, id] : vocab.items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= limit)
        throw Error("token '" + piece.substr(0, 64) + "' has id " + id.dump().substr(0, 32) +
                        ", not an integer in [0, " + std::to_string(limit) + ")",
                    "file " + vocab_path, "pass vocab.json / encoder.json");
      size = std::max<int64_t>(size, id.get<int64_t>() + 1);
    }
    d.tokens.resize(size);
    for (const auto& [piece, id] : vocab.items()) {
      auto i = id.get<int64_t>();
      d.tokens[i] = piece;
      ids.try_emplace(piece, i);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("BPE vocabulary has a non-integer id: ") + e.what(), "file " + vocab_path,
                "pass vocab.json / encoder.json");
  }
  d.merges = parse_merges(tokenizer_files::read(merges_path, "BPE merges"), merges_path);

  auto config = tokenizer_files::read_special_token_config(tokenizer_files::folder_of(vocab_path));
  d.added_tokens = config.added;
  auto known = [&](const std::string& name) {
    auto it = ids.find(name);
    return name.empty() || it == ids.end() ? int64_t{-1} : it->second;
  };
  int64_t eot = known("<|endoftext|>");
  if (eot >= 0) {
    bool listed = false;
    for (const auto& a : d.added_tokens) listed = listed || a.content == "<|endoftext|>";
    if (!listed) d.added_tokens.push_back({"<|endoftext|>", eot, true, false, false});
  }
  d.bos_id = config.bos.empty() ? eot : known(config.bos);
  d.eos_id = config.eos.empty() ? eot : known(config.eos);
  d.pad_id = known(config.pad);
  d.unk_id = known(config.unk);
  d.add_bos = config.add_bos.value_or(false);
  return d;
}

std::unique_ptr<ByteLevelBpeTokenizer> load_gpt2_bpe_files(const std::string& vocab_path,
                                                           const std::string& merges_path) {
  return std::make_unique<ByteLevelBpeTokenizer>(read_gpt2_bpe_data(vocab_path, merges_path), vocab_path);
}

}  // namespace nnsight
