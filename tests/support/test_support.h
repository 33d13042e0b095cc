#pragma once
// Helpers shared by all test areas: where the shared test models live, and the
// rule that a missing model is a skip locally but a failure under CI=true.

#include <gtest/gtest.h>

#include <string>

namespace nnsight::test {

/// ../shared/models (or $NNSIGHT_MODELS_DIR).
std::string models_dir();

/// models_dir() + "/" + relative.
std::string model_path(const std::string& relative);

/// True if the file/folder exists. When it does not: under CI=true records a
/// test failure, otherwise a skip is expected: use REQUIRE_MODEL.
bool model_available(const std::string& relative);

}  // namespace nnsight::test

/// Skips (locally) or fails (CI=true) the current test when a model is absent.
#define REQUIRE_MODEL(relative)                                                            \
  do {                                                                                     \
    if (!::nnsight::test::model_available(relative)) {                                     \
      if (::nnsight::test::running_in_ci()) FAIL() << "missing test model " << (relative); \
      GTEST_SKIP() << "missing test model " << (relative);                                 \
    }                                                                                      \
  } while (0)

namespace nnsight::test {
bool running_in_ci();
}
