#pragma once
/// @file
/// Hugging Face config.json -> ModelConfig for the supported model types
/// (gpt2, llama, mistral, qwen2).

#include <nlohmann/json_fwd.hpp>

#include <string>

#include "nnsight/runtime/model_config.h"

namespace nnsight {

/// The model types config_from_hf_json accepts, comma separated (for messages).
const char* supported_hf_model_types();

/// Builds a validated ModelConfig from a parsed config.json. `source` is the
/// file path used in messages. Throws nnsight::Error naming `source` for an
/// unknown model_type (listing the supported ones), a missing required field,
/// a field of the wrong type, or an unsupported feature (e.g. rope_scaling).
ModelConfig config_from_hf_json(const nlohmann::json& config, const std::string& source);

/// Reads and parses `path` (a config.json) and calls config_from_hf_json.
ModelConfig read_hf_config(const std::string& path);

}  // namespace nnsight
