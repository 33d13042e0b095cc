#pragma once
// stories260K (Hugging Face layout, llama2.c tokenizer) loaded once per test
// binary, for the tests of the tracing API and above. Tests must not change
// it (edits go to copies: model.edit(...)).

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "nnsight/api/language_model.h"
#include "support/test_support.h"

namespace nnsight::test {

/// The shared model; null when the files are absent (tests then REQUIRE_STORIES).
inline LanguageModel* stories() {
  static std::unique_ptr<LanguageModel> lm = []() -> std::unique_ptr<LanguageModel> {
    if (!std::filesystem::exists(model_path("stories260K-hf")) ||
        !std::filesystem::exists(model_path("stories260K/tok512.bin")))
      return nullptr;
    LoadOptions options;
    options.tokenizer_path = model_path("stories260K/tok512.bin");
    return std::make_unique<LanguageModel>(LanguageModel::load(model_path("stories260K-hf"), options));
  }();
  return lm.get();
}

#define REQUIRE_STORIES()                  \
  REQUIRE_MODEL("stories260K-hf");         \
  REQUIRE_MODEL("stories260K/tok512.bin"); \
  ASSERT_NE(::nnsight::test::stories(), nullptr)

/// A fixture whose tests run on the shared stories260K (skipped, or failed under CI=true, without it).
class StoriesTest : public ::testing::Test {
 protected:
  void SetUp() override { REQUIRE_STORIES(); }
  static LanguageModel& model() { return *stories(); }
};

}  // namespace nnsight::test
