// End-to-end tests of the `nnsight` executable: output on stdout, errors on
// stderr with exit status 1.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/run_program.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

using Result = test::ProgramResult;

Result run(const std::string& args) { return test::run_program(std::string(NNSIGHT_CLI_PATH) + " " + args); }

std::string q(const std::string& s) { return test::quoted(s); }

TEST(CliGenerate, GreedyTextMatchesRunC) {
  REQUIRE_MODEL("stories260K/reference.json");
  std::ifstream in(test::model_path("stories260K/reference.json"));
  const auto ref = nlohmann::json::parse(in);
  const auto& p = ref["prompts"][0];
  const std::string expected = p["greedy_n64"]["stdout_text"];
  // token_ids holds BOS + 64 positions; the prompt (with BOS) is forced.
  const int64_t new_tokens = static_cast<int64_t>(p["greedy_n64"]["token_ids"].size() - p["prompt_token_ids"].size());
  for (const std::string model : {"stories260K/stories260K.bin", "stories260K/stories260K.gguf"}) {
    Result r = run("generate --model " + q(test::model_path(model)) + " --tokenizer " +
                   q(test::model_path("stories260K/tok512.bin")) + " --prompt " + q(p["prompt"]) +
                   " --max-new-tokens " + std::to_string(new_tokens));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, expected) << model;
  }
}

TEST(CliGenerate, SeededSamplingIsReproducible) {
  REQUIRE_MODEL("stories260K/stories260K.gguf");
  const std::string args = "generate --model " + q(test::model_path("stories260K/stories260K.gguf")) +
                           " --prompt 'Lily' -n 20 --temperature 0.9 --top-k 40 --top-p 0.95 --seed ";
  Result a = run(args + "3"), b = run(args + "3"), c = run(args + "4");
  EXPECT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
  EXPECT_EQ(a.out.rfind("Lily", 0), 0u) << "output starts with the prompt";
}

TEST(CliInspect, PrintsHuggingFacePathsTypesAndShapes) {
  REQUIRE_MODEL("stories260K-hf");
  Result r = run("inspect --model " + q(test::model_path("stories260K-hf")));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("LlamaForCausalLM"), std::string::npos);
  EXPECT_NE(r.out.find("260032 parameters"), std::string::npos) << r.out;
  for (const char* line :
       {"model.layers.4.self_attn.k_proj", "model.layers.0.mlp.act_fn", "lm_head", "weight [172, 64]", "LlamaRMSNorm"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line;
}

TEST(CliErrors, MissingModelGoesToStderrWithStatus1) {
  Result r = run("generate --model /nonexistent/model.gguf --prompt x");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hint:"), std::string::npos) << r.err;
}

TEST(CliErrors, MissingTokenizerSaysWhatToPass) {
  REQUIRE_MODEL("stories260K-hf");
  Result r = run("generate --model " + q(test::model_path("stories260K-hf")) + " --prompt x");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.err;
}

TEST(CliErrors, BadOptionValue) {
  Result r = run("generate --model x --prompt y --dtype fp16");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("dtype"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace nnsight
