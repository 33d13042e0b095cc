#pragma once
/// @file
/// File helpers shared by the tokenizer loaders: reading files and JSON with
/// errors that name the file, and the special-token settings Hugging Face keeps
/// next to the vocabulary (tokenizer_config.json, special_tokens_map.json).

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "nnsight/runtime/tokenizers/special_tokens.h"

namespace nnsight::tokenizer_files {

/// The whole file; throws nnsight::Error naming `path` when it cannot be read.
/// `what` names the file's role ("tokenizer vocabulary").
std::string read(const std::string& path, const std::string& what);

/// The parsed JSON; throws nnsight::Error naming `path` on read or parse errors.
nlohmann::json read_json(const std::string& path, const std::string& what);

/// True if `path` is an existing regular file.
bool is_file(const std::string& path);

/// The folder part of a path ("." when there is none).
std::string folder_of(const std::string& path);

/// Special-token settings found next to a vocabulary (all optional).
struct SpecialTokenConfig {
  /// Token contents ("" = not given).
  ///@{
  std::string bos, eos, pad, unk;
  ///@}
  std::optional<bool> add_bos;    ///< tokenizer_config.json add_bos_token
  std::vector<AddedToken> added;  ///< tokenizer_config.json added_tokens_decoder
};

/// Reads tokenizer_config.json and special_tokens_map.json from `folder` when
/// present (tokenizer_config.json wins). Missing files give empty settings;
/// present but corrupt files throw nnsight::Error naming the file.
SpecialTokenConfig read_special_token_config(const std::string& folder);

}  // namespace nnsight::tokenizer_files
