// `nnsight trace` end to end on stories260K: each intervention option gives
// exactly the values of the same trace written with the C++ API; user errors
// exit with status 1 and a message on stderr.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli/run_program.h"
#include "nnsight/format/tensor_blob.h"
#include "server/patching_fixture.h"

namespace nnsight {
namespace {

using Result = test::ProgramResult;

constexpr const char* kPrompt = "Once upon a time";

std::string q(const std::string& s) { return test::quoted(s); }

Result trace(const std::string& args) {
  return test::run_program(std::string(NNSIGHT_CLI_PATH) + " trace --model " + q(test::model_path("stories260K-hf")) +
                           " --tokenizer " + q(test::model_path("stories260K/tok512.bin")) + " " + args);
}

std::string temp_path(const std::string& name) {
  const std::string path = testing::TempDir() + "/" + name;
  std::filesystem::remove(path);
  return path;
}

/// Runs the command with --out and returns the file's tensors.
format::TensorBlob trace_to_file(const std::string& args) {
  const std::string out = temp_path("trace_out.safetensors");
  Result r = trace(args + " --out " + q(out));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  if (r.status != 0) return {};
  return format::TensorBlob::load(out);
}

at::Tensor get(const format::TensorBlob& blob, const std::string& name) {
  std::optional<at::Tensor> t = blob.get(name);
  if (!t) {
    std::string names;
    for (const auto& n : blob.names()) names += " '" + n + "'";
    ADD_FAILURE() << "no tensor '" << name << "' in the output; it has" << names;
    return at::zeros({1});
  }
  return *t;
}

TEST(CliTrace, ZeroingAnMlpGivesTheCppApiLogitsExactly) {
  REQUIRE_STORIES();
  LanguageModel& model = *test::stories();
  Saved logits, clean;
  model.trace(kPrompt, [&] {
    model["model.layers.1.mlp"].output().set({Slice()}, 0.0);
    logits = model["lm_head"].output().save();
  });
  model.trace(kPrompt, [&] { clean = model["lm_head"].output().save(); });

  const format::TensorBlob blob =
      trace_to_file("--prompt " + q(kPrompt) + " --save logits=lm_head.output --set 'model.layers.1.mlp.output = 0'");
  ASSERT_EQ(blob.size(), 1u);
  EXPECT_TRUE(at::equal(get(blob, "logits"), logits.tensor()));
  EXPECT_FALSE(at::allclose(logits.tensor(), clean.tensor()));  // the ablation changed something

  // Without --out: a summary with the top-5 tokens at the last position.
  Result r = trace("--prompt " + q(kPrompt) + " --set 'model.layers.1.mlp.output[:, :] = 0' --save lm_head.output");
  ASSERT_EQ(r.status, 0) << r.err;
  const at::Tensor last = logits.tensor()[0][-1];
  const std::string top = model.tokenizer().decode({last.argmax().item<int64_t>()});
  EXPECT_NE(r.out.find("lm_head.output: float32 [1, 5, 512]  mean "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("top-5 at the last position: '" + top + "' "), std::string::npos) << r.out;
}

TEST(CliTrace, WithoutSavesPrintsTheModelOutput) {
  REQUIRE_STORIES();
  Result r = trace("--prompt " + q(kPrompt));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("output: float32 [1, 5, 512]", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("top-5 at the last position: ','"), std::string::npos) << r.out;
}

TEST(CliTrace, ScaleAndSavesInAnyOrderEqualTheCppApi) {
  REQUIRE_STORIES();
  LanguageModel& model = *test::stories();
  Saved hidden, logits;
  model.trace(kPrompt, [&] {
    graph::Proxy mlp = model["model.layers.2.mlp"].output();
    mlp.set({Slice(), -1}, mlp[{Slice(), -1}] * 0.5);
    hidden = model["model.layers.3"].output()[0].save();
    logits = model["lm_head"].output().save();
  });
  // Options in reverse model order: the command records them in the order the model runs.
  const format::TensorBlob blob = trace_to_file("--prompt " + q(kPrompt) +
                                                " --save lm_head.output --save 'model.layers.3.output'"
                                                " --scale 'model.layers.2.mlp.output[:, -1]=0.5'");
  ASSERT_EQ(blob.size(), 2u);
  EXPECT_TRUE(at::equal(get(blob, "lm_head.output"), logits.tensor()));
  EXPECT_TRUE(at::equal(get(blob, "model.layers.3.output[0]"), hidden.tensor()));  // a tuple's items: name[i]
}

TEST(CliTrace, AddingASteeringVectorEqualsTheCppApi) {
  REQUIRE_STORIES();
  LanguageModel& model = *test::stories();
  at::manual_seed(7);
  const at::Tensor vector = at::randn({64});
  format::TensorBlob file;
  file.add("steer", vector);
  const std::string one = temp_path("steer.safetensors");
  file.save(one);
  file.add("other", at::randn({3}));
  const std::string two = temp_path("steer2.safetensors");
  file.save(two);

  Saved logits;
  model.trace(kPrompt, [&] {
    graph::Proxy h = model["model.layers.2"].output()[0];
    h.set({Ellipsis{}}, h + vector);
    logits = model["lm_head"].output().save();
  });
  format::TensorBlob blob =
      trace_to_file("--prompt " + q(kPrompt) + " --save lm_head.output --add 'model.layers.2.output[0]=" + one + "'");
  EXPECT_TRUE(at::equal(get(blob, "lm_head.output"), logits.tensor()));
  blob = trace_to_file("--prompt " + q(kPrompt) + " --save lm_head.output --add 'model.layers.2.output[0]=" + two +
                       ":steer'");
  EXPECT_TRUE(at::equal(get(blob, "lm_head.output"), logits.tensor()));

  Result r = trace("--prompt " + q(kPrompt) + " --add 'model.layers.2.output[0]=" + two + ":other'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("the steering vector " + two +
                       ":other [3] does not broadcast to model.layers.2.output[0] "
                       "[1, 5, 64]"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--add 'model.layers.2.output[0]="), std::string::npos) << r.err;
  r = trace("--prompt " + q(kPrompt) + " --add 'model.layers.2.output[0]=" + two + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("holds 2 tensors"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("FILE:NAME"), std::string::npos) << r.err;
}

TEST(CliTrace, PatchFromEqualsCppApiPatching) {
  REQUIRE_STORIES();
  LanguageModel& model = *test::stories();
  Saved logits;
  model.trace([&](Tracer& tracer) {
    graph::Proxy source;
    tracer.invoke("The dog", [&] { source = model["model.layers.3"].output()[0][{Slice(), -1}]; });
    tracer.invoke("The cat", [&] {
      model["model.layers.3"].output()[0].set({Slice(), -1}, source);
      logits = model["lm_head"].output().save();
    });
  });
  Saved unpatched;
  model.trace("The cat", [&] { unpatched = model["lm_head"].output().save(); });

  const format::TensorBlob blob = trace_to_file(
      "--prompt 'The cat' --save lm_head.output --patch 'model.layers.3.output[0][:, -1]'"
      " --patch-from 'The dog'");
  EXPECT_TRUE(at::equal(get(blob, "lm_head.output"), logits.tensor()));
  EXPECT_FALSE(at::allclose(logits.tensor(), unpatched.tensor()));
}

TEST(CliTrace, GenerateIntervenesAtEveryStepLikeTheCppApi) {
  REQUIRE_STORIES();
  LanguageModel& model = *test::stories();
  GenerateOptions options;
  options.max_new_tokens = 6;
  Saved steps;
  Traced run = model.generate(kPrompt, options, [&](Tracer& tracer) {
    steps = tracer.list().save();
    model["model.layers.0.mlp"].all().output().set({Ellipsis{}}, 0);
    steps.append(model["lm_head"].all().output()[{Slice(), -1}]);
  });
  const std::vector<int64_t> tokens = LanguageModel::tokens_of(run)[0];
  ASSERT_EQ(tokens.size(), 6u);
  const std::vector<int64_t> plain = nnsight::generate(model.causal_lm(), {model.tokenize(kPrompt)}, options)[0];
  EXPECT_NE(tokens, plain);

  const std::string args =
      "--prompt " + q(kPrompt) + " --generate 6 --save 'lm_head.output[:, -1]' --set 'model.layers.0.mlp.output = 0'";
  const format::TensorBlob blob = trace_to_file(args);
  ASSERT_EQ(blob.size(), 7u);  // six steps and the generated tokens
  EXPECT_TRUE(at::equal(get(blob, "generated"), at::tensor(tokens)));
  for (int64_t k = 0; k < 6; ++k)
    EXPECT_TRUE(at::equal(get(blob, "lm_head.output[:, -1].step" + std::to_string(k)), steps.value()[k].as_tensor()))
        << "step " << k;

  // stdout: the prompt and its continuation, then each step's summary.
  Result r = trace(args);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << "no progress output without a terminal: " << r.err;
  std::vector<int64_t> all = model.tokenize(kPrompt);
  all.insert(all.end(), tokens.begin(), tokens.end());
  const std::string text = model.tokenizer().decode(all);
  EXPECT_EQ(r.out.rfind(text + "\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("lm_head.output[:, -1].step5: float32 [1, 512]"), std::string::npos) << r.out;
}

TEST(CliTrace, ProgressGoesToATerminalOnly) {
  REQUIRE_STORIES();
  if (!std::filesystem::exists("/usr/bin/script")) GTEST_SKIP() << "no script(1) to make a terminal";
  // stdout to a file, stderr to a pseudo-terminal (script): the live line and the summary.
  const std::string text = temp_path("progress_text.txt");
  const std::string command = std::string(NNSIGHT_CLI_PATH) + " trace --model " + test::model_path("stories260K-hf") +
                              " --tokenizer " + test::model_path("stories260K/tok512.bin") +
                              " -p Lily --generate 5 > " + text;
  Result r = test::run_program("script -qec " + q(command) + " /dev/null");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("generating: 5 tokens in "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokens/s"), std::string::npos) << r.out;
}

TEST(CliTraceErrors, ParseErrorsShowACaretAndExitWithStatus1) {
  // Syntax is checked before the model is loaded: no model needed.
  Result r = test::run_program(std::string(NNSIGHT_CLI_PATH) +
                               " trace --model /nonexistent -p x --set 'model.layers.1.mlp.output[:, -1 = 0'");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err,
            "nnsight: error: expected ',' or ']'\n"
            "  --set 'model.layers.1.mlp.output[:, -1 = 0'\n"
            "                                         ^\n"
            "  hint: separate index items with commas and close the index with ']'\n");
}

TEST(CliTraceErrors, UnknownModulePathListsCloseMatches) {
  REQUIRE_STORIES();
  Result r = trace("-p x --save 'model.layers.2.mpl.output'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no module named 'mpl' in 'model.layers.2'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hint: did you mean model.layers.2.mlp? children of 'model.layers.2': input_layernorm, "
                       "self_attn, post_attention_layernorm, mlp"),
            std::string::npos)
      << r.err;
  // The caret under "mpl": indentation, "--save '" and "model.layers.2.".
  EXPECT_NE(r.err.find("  --save 'model.layers.2.mpl.output'\n" + std::string(2 + 8 + 15, ' ') + "^\n"),
            std::string::npos)
      << r.err;
}

TEST(CliTraceErrors, EveryUserErrorIsStatus1WithAMessage) {
  REQUIRE_STORIES();
  const std::string steer = temp_path("missing.safetensors");
  const struct {
    std::string args, message;
  } cases[] = {
      {"-p x --patch 'model.layers.3.output[0]'", "--patch needs --patch-from"},
      {"-p x --patch-from y", "--patch-from needs at least one --patch"},
      {"-p x --scale 'lm_head.output'", "expected VALUE=FACTOR"},
      {"-p x --scale 'lm_head.output=big'", "'big' is not a number"},
      {"-p x --add 'lm_head.output=" + steer + "'", steer},
      {"-p x --save a=lm_head.output --save a=model.norm.output", "two --save options have the name 'a'"},
      {"-p x --save model.layers.output", "the model never calls 'model.layers'"},
      {"-p x --save model.layers.2.output --set 'model.layers.1.output[0] = model.layers.3.output[0]'",
       "the value on the right is computed after the value it is written into"},
      {"-p x --set 'model.layers.1.output = 0'", "setitem: argument 1 is a tuple"},
      {"-p x --generate 0", "--generate"},
      {"-p x --save lm_head.output --dtype fp16", "dtype"},
  };
  for (const auto& c : cases) {
    Result r = trace(c.args);
    EXPECT_EQ(r.status, 1) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
  }
  // Run-time errors name the option they come from.
  Result r = trace("-p x --set 'model.layers.1.output = 0'");
  EXPECT_NE(r.err.find("at --set 'model.layers.1.output = 0'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace nnsight
