#pragma once
/// @file
/// A hosted model's module tree on the client: the paths, types and parameter
/// shapes a server describes (GET /v1/models), without weights, so traces can
/// be recorded against it exactly as against a local model. Parameters are
/// meta tensors (shape and dtype only). Calling a skeleton module is an error:
/// module calls inside a trace are recorded and run on the server.

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "nnsight/runtime/module.h"

namespace nnsight::remote {

/// Builds the tree from one entry of GET /v1/models' "models" list
/// ({"name", "architecture", "config": {..., "dtype"}, "modules": [{"path",
/// "type", "parameters": {name: shape}}]}). Throws Error naming the field
/// when the description is malformed.
std::unique_ptr<Module> build_skeleton(const nlohmann::json& description);

}  // namespace nnsight::remote
