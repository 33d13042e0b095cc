#include "nnsight/runtime/tokenizers/tokenizer_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "nnsight/base/error.h"

namespace nnsight::tokenizer_files {

using json = nlohmann::json;

std::string read(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error("cannot read " + what + ": the path is a folder", "file " + path, "pass the file itself");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + what, "file " + path, "check that the file exists and is readable");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error("error while reading " + what, "file " + path);
  return std::move(buffer).str();
}

json read_json(const std::string& path, const std::string& what) {
  std::string text = read(path, what);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(what + " is not valid JSON: " + e.what(), "file " + path, "re-download or regenerate the file");
  }
}

bool is_file(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

std::string folder_of(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

namespace {

/// "bos_token" may be a string or an object with "content".
std::string token_content(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return {};
  const json& v = j.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v.at("content").is_string()) return v.at("content").get<std::string>();
  return {};
}

void merge_names(SpecialTokenConfig& c, const json& j) {
  auto take = [&](std::string& field, const char* key) {
    std::string v = token_content(j, key);
    if (!v.empty()) field = v;
  };
  take(c.bos, "bos_token");
  take(c.eos, "eos_token");
  take(c.pad, "pad_token");
  take(c.unk, "unk_token");
}

}  // namespace

SpecialTokenConfig read_special_token_config(const std::string& folder) {
  SpecialTokenConfig c;
  std::string map_path = folder + "/special_tokens_map.json";
  std::string config_path = folder + "/tokenizer_config.json";
  if (is_file(map_path)) merge_names(c, read_json(map_path, "special tokens map"));
  if (!is_file(config_path)) return c;
  json config = read_json(config_path, "tokenizer config");
  merge_names(c, config);
  try {
    if (config.contains("add_bos_token") && config.at("add_bos_token").is_boolean())
      c.add_bos = config.at("add_bos_token").get<bool>();
    if (config.contains("added_tokens_decoder") && config.at("added_tokens_decoder").is_object()) {
      for (const auto& [key, value] : config.at("added_tokens_decoder").items()) {
        AddedToken t;
        t.id = std::stoll(key);
        t.content = value.at("content").get<std::string>();
        t.special = value.value("special", true);
        t.lstrip = value.value("lstrip", false);
        t.rstrip = value.value("rstrip", false);
        c.added.push_back(std::move(t));
      }
    }
  } catch (const std::exception& e) {
    throw Error(std::string("unexpected tokenizer config content: ") + e.what(), "file " + config_path,
                "re-download or regenerate the file");
  }
  return c;
}

}  // namespace nnsight::tokenizer_files
