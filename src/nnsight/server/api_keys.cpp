// API keys file and checks.

#include "nnsight/server/api_keys.h"

#include <fstream>
#include <sstream>

#include "nnsight/base/error.h"

namespace nnsight::server {

namespace {

constexpr std::size_t kMinKeyLength = 16;

/// Equal strings, in time that depends only on the lengths.
bool same(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

ApiKeys ApiKeys::from(std::vector<std::pair<std::string, std::string>> keys) {
  ApiKeys out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto& [name, key] = keys[i];
    if (key.size() < kMinKeyLength)
      throw Error(
          "API key " + std::to_string(i + 1) + " is shorter than " + std::to_string(kMinKeyLength) + " characters", "",
          "use long random keys, e.g. `openssl rand -hex 24`");
    for (const auto& [other_name, other_key] : out.keys_)
      if (other_key == key) throw Error("API key " + std::to_string(i + 1) + " is listed twice");
    out.keys_.emplace_back(name.empty() ? "key" + std::to_string(i + 1) : name, key);
  }
  return out;
}

ApiKeys ApiKeys::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read the API keys file", path, "give --api-keys a file with one key per line");
  std::vector<std::pair<std::string, std::string>> keys;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::istringstream words(line);
    std::string a, b, extra;
    words >> a >> b >> extra;
    if (a.empty() || a[0] == '#') continue;
    if (!extra.empty())
      throw Error("a line of the API keys file has more than two words", path + ", line " + std::to_string(number),
                  "write KEY or NAME KEY per line");
    if (b.empty())
      keys.emplace_back("", a);
    else
      keys.emplace_back(a, b);
  }
  try {
    return from(std::move(keys));
  } catch (const Error& e) {
    throw e.with_context(path);
  }
}

std::optional<std::string> ApiKeys::check(std::string_view key) const {
  std::optional<std::string> found;
  for (const auto& [name, k] : keys_)
    if (same(k, key) && !found) found = name;  // no early exit: every key is compared
  return found;
}

std::string key_from_headers(const std::string& authorization, const std::string& x_api_key) {
  constexpr std::string_view bearer = "Bearer ";
  if (authorization.size() > bearer.size() && authorization.compare(0, bearer.size(), bearer) == 0)
    return authorization.substr(bearer.size());
  return x_api_key;
}

}  // namespace nnsight::server
