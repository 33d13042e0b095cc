#pragma once
/// @file
/// API keys: which clients may use a server. A keys file has one key per line,
/// optionally preceded by a name ("alice 3f9c..."); blank lines and lines
/// starting with '#' are ignored. Clients send `Authorization: Bearer KEY` or
/// `X-API-Key: KEY`. Logs and job ownership use the key's name, never the key.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nnsight::server {

/// The keys a server accepts, with their names (see the file comment).
class ApiKeys {
 public:
  /// No keys: every request is allowed (name "").
  ApiKeys() = default;
  /// Reads a keys file; throws Error naming the file and line for a missing
  /// file, keys shorter than 16 characters or duplicates.
  static ApiKeys load(const std::string& path);
  /// (name, key) pairs; names default to "key1", "key2", ...
  static ApiKeys from(std::vector<std::pair<std::string, std::string>> keys);

  /// True when there are keys, i.e. requests must carry one.
  bool enabled() const { return !keys_.empty(); }
  /// The name of `key` when it is a valid key (constant-time comparison), else nullopt.
  std::optional<std::string> check(std::string_view key) const;

 private:
  std::vector<std::pair<std::string, std::string>> keys_;  ///< (name, key)
};

/// The key a request carries in `authorization` ("Bearer KEY") or `x_api_key`; "" when none.
std::string key_from_headers(const std::string& authorization, const std::string& x_api_key);

}  // namespace nnsight::server
