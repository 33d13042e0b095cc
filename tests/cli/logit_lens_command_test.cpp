// `nnsight logit-lens`: the heatmap file it writes (rows, labels, values) and
// its errors. The rendering itself is tested in heatmap_render_test.cpp, and
// what a browser shows in tests/cli/logit_lens_screenshot.py.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "cli/run_program.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

test::ProgramResult lens(const std::string& args) {
  return test::run_program(std::string(NNSIGHT_CLI_PATH) + " logit-lens " + args);
}

std::string stories_args(const std::string& prompt) {
  return "--model " + test::quoted(test::model_path("stories260K-hf")) + " --tokenizer " +
         test::quoted(test::model_path("stories260K/tok512.bin")) + " --prompt " + test::quoted(prompt);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(CliLogitLens, LayerRangeRowsAndTheOutputRowMatchRunC) {
  REQUIRE_MODEL("stories260K-hf");
  REQUIRE_MODEL("stories260K/reference.json");
  const std::string out = testing::TempDir() + "/lens_range.svg";
  const test::ProgramResult r =
      lens(stories_args("Lily went to the park") + " --layers 1:3 --out " + test::quoted(out));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("3 rows (layers 1..2 and the output) x 9 tokens"), std::string::npos) << r.out;
  const std::string svg = read_file(out);
  EXPECT_NE(svg.find("data-rows=\"3\" data-columns=\"9\""), std::string::npos);
  EXPECT_EQ(svg.find(">layer 0<"), std::string::npos);
  EXPECT_NE(svg.find(">layer 1<"), std::string::npos);
  EXPECT_NE(svg.find(">layer 2<"), std::string::npos);
  EXPECT_NE(svg.find(">output<"), std::string::npos);
  EXPECT_NE(svg.find("&lt;s&gt;</text>"), std::string::npos) << "BOS is labelled by name";

  // The output row (row 2): run.c's top token and probability at every position.
  std::ifstream in(test::model_path("stories260K/reference.json"));
  const auto positions = nlohmann::json::parse(in)["prompts"][1]["positions"];
  for (std::size_t t = 0; t < positions.size(); ++t) {
    const at::Tensor probs = at::tensor(positions[t]["logits"].get<std::vector<double>>(), at::kDouble).softmax(-1);
    const std::regex cell("data-row=\"2\" data-column=\"" + std::to_string(t) +
                          "\"><title>output, position [^\\n]*\\n1\\. &#39;([^\\n]*)&#39;  ([0-9.]+)\\n");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(svg, m, cell)) << t;
    std::string expected = positions[t]["argmax_piece"];
    EXPECT_EQ(m[1].str(), expected) << t;
    EXPECT_NEAR(std::stod(m[2].str()), probs.max().item<double>(), 2e-4) << t;
  }
}

TEST(CliLogitLens, WorksOnGpt2ModulePaths) {
  REQUIRE_MODEL("fake-gpt2-random");
  const std::string out = testing::TempDir() + "/lens_gpt2.html";
  const test::ProgramResult r = lens("--model " + test::quoted(test::model_path("fake-gpt2-random")) +
                                     " --prompt 'Hello <world> & friends' --out " + test::quoted(out));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string html = read_file(out);
  EXPECT_NE(html.find("GPT2LMHeadModel (1 layers)"), std::string::npos);
  EXPECT_NE(html.find("data-rows=\"2\""), std::string::npos);
  EXPECT_NE(html.find("prompt: Hello &lt;world&gt; &amp; friends"), std::string::npos);
}

TEST(CliLogitLens, UserMistakesAreErrorsWithStatus1) {
  REQUIRE_MODEL("stories260K-hf");
  const std::string base = stories_args("Once upon a time");
  struct Case {
    std::string args, message;
  };
  for (const Case& c : {Case{" --out x.png", "cannot tell the output format"},
                        Case{" --out " + testing::TempDir() + "/x.svg --layers 7:9", "selects no layer"},
                        Case{" --out " + testing::TempDir() + "/x.svg --layers 5", "is out of range"},
                        Case{" --out " + testing::TempDir() + "/x.svg --layers a:b", "is not a layer range"},
                        Case{" --out /nonexistent-folder/x.html", "cannot open the output file"}}) {
    const test::ProgramResult r = lens(base + c.args);
    EXPECT_EQ(r.status, 1) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
  }
  const test::ProgramResult missing =
      lens("--model " + test::quoted(test::model_path("stories260K-hf")) + " --prompt x");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("--out"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace nnsight
