#pragma once
/// @file
/// The models a server hosts, by name: `--model NAME=PATH` loads a
/// LanguageModel once; GET /v1/models describes each (architecture, sizes,
/// module tree).

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "nnsight/api/language_model.h"

namespace nnsight::server {

/// One hosted model. Runs on it are serialised by its job queue worker.
struct ServedModel {
  std::string name;                      ///< the name clients use ("model" in requests)
  std::string path;                      ///< where it was loaded from
  std::unique_ptr<LanguageModel> model;  ///< the loaded model with its tokenizer
  /// {"name", "architecture", "model_type", "config": {...}, "modules": [{"path", "type", "parameters"}]}.
  nlohmann::json info;
};

/// A model spec "NAME=PATH" split and checked (the name as check_name).
std::pair<std::string, std::string> parse_model_spec(const std::string& spec);

/// Loads `path` (load_model) and describes it.
std::shared_ptr<ServedModel> load_served_model(const std::string& name, const std::string& path,
                                               const std::string& tokenizer_path = {});
/// Wraps an already loaded model (tests share one across servers).
std::shared_ptr<ServedModel> serve_model(const std::string& name, std::unique_ptr<LanguageModel> model,
                                         const std::string& path = {});

}  // namespace nnsight::server
