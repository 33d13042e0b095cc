#include "support/test_support.h"

#include <cstdlib>
#include <filesystem>

namespace nnsight::test {

std::string models_dir() {
  if (const char* env = std::getenv("NNSIGHT_MODELS_DIR"); env && *env) return env;
  return NNSIGHT_MODELS_DIR;
}

std::string model_path(const std::string& relative) { return models_dir() + "/" + relative; }

bool model_available(const std::string& relative) { return std::filesystem::exists(model_path(relative)); }

bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace nnsight::test
