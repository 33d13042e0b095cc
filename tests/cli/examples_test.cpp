// The example programs under examples/ run on stories260K and print what
// they claim. Where feasible the test computes the printed values itself by
// another route (the reference residuals of llama2.c's run.c, separate traces
// instead of batched invokes, a hand-written greedy loop instead of generate).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli/run_program.h"
#include "nnsight/api/nnsight.h"
#include "nnsight/runtime/forward_context.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

std::string run_example(const std::string& name) {
  const test::ProgramResult r =
      test::run_program(std::string(NNSIGHT_EXAMPLES_DIR) + "/" + name + " " + test::quoted(test::models_dir()));
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  return r.out;
}

std::unique_ptr<LanguageModel> load_stories() {
  LoadOptions options;
  options.tokenizer_path = test::model_path("stories260K/tok512.bin");
  return std::make_unique<LanguageModel>(LanguageModel::load(test::model_path("stories260K-hf"), options));
}

std::string piece(const LanguageModel& model, int64_t id) { return "'" + model.tokenizer().decode({id}) + "'"; }
std::string token(const LanguageModel& model, int64_t id) { return "'" + model.tokenizer().token_bytes(id) + "'"; }

/// The line of `out` that starts with `prefix` (empty when none).
std::string line_starting(const std::string& out, const std::string& prefix) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) return line;
  return {};
}

/// The numbers after the first word of a table line.
std::vector<double> row_numbers(const std::string& line) {
  std::istringstream in(line);
  std::string label;
  in >> label;
  std::vector<double> values;
  for (double v; in >> v;) values.push_back(v);
  return values;
}

at::Tensor json_vector(const nlohmann::json& values) {
  return at::tensor(values.get<std::vector<double>>(), at::kDouble).to(at::kFloat);
}

TEST(Examples, AttributionPatchingEstimatesMatchTheDerivative) {
  REQUIRE_MODEL("stories260K-hf");
  const std::string out = run_example("attribution_patching");
  EXPECT_NE(out.find("metric = logit('S') - logit('T') at the last position: clean 1.523, corrupt 1.567"),
            std::string::npos)
      << out;
  // Gradient x activation difference is the derivative of patching along the difference: 1% of the
  // patch moves the metric by 1% of the estimate (to the printed precision of the example).
  EXPECT_NE(out.find("strongest cell: layer 3, position 14: estimated change 0.426"), std::string::npos) << out;
  EXPECT_NE(out.find("1% of the difference: 0.42"), std::string::npos) << out;
  // The last layer's output only matters at the last position (position 22).
  EXPECT_NE(out.find("4          0.000   0.000"), std::string::npos) << out;
}

// Every cell of the logit-lens table, from run.c's residual stream (reference.json) through the model's
// own final norm and unembedding called directly, outside any trace.
TEST(Examples, LogitLensMatchesTheReferenceResidualStream) {
  REQUIRE_MODEL("stories260K-hf");
  REQUIRE_MODEL("stories260K/reference.json");
  const std::string out = run_example("logit_lens");
  std::ifstream in(test::model_path("stories260K/reference.json"));
  const auto ref = nlohmann::json::parse(in)["prompts"][1];
  ASSERT_EQ(ref["prompt"], "Lily went to the park");
  ASSERT_NE(out.find("logit lens on \"Lily went to the park\""), std::string::npos) << out;

  auto model = load_stories();
  CausalLM& lm = model->causal_lm();
  const auto& positions = ref["positions"];
  const int64_t layers = model->config().num_layers;
  const std::regex cell("'(.*?)' +(\\d\\.\\d{3})(?= |$)");
  for (int64_t l = 0; l <= layers; ++l) {
    const std::string label = l < layers ? "layer " + std::to_string(l) : "output";
    const std::string line = line_starting(out, label);
    ASSERT_FALSE(line.empty()) << label << "\n" << out;
    std::vector<std::pair<std::string, double>> printed;
    for (auto it = std::sregex_iterator(line.begin() + 8, line.end(), cell); it != std::sregex_iterator(); ++it)
      printed.emplace_back("'" + (*it)[1].str() + "'", std::stod((*it)[2].str()));
    ASSERT_EQ(printed.size(), positions.size()) << line;
    for (std::size_t t = 0; t < positions.size(); ++t) {
      at::Tensor logits;
      if (l < layers) {
        ForwardContext ctx;
        const at::Tensor h = json_vector(positions[t]["resid_post"][static_cast<std::size_t>(l)]).view({1, 1, -1});
        logits = lm.lm_head()(lm.final_norm()(h, ctx).as_tensor(), ctx).as_tensor().view({-1});
      } else {
        logits = json_vector(positions[t]["logits"]);
      }
      const at::Tensor probs = logits.softmax(-1);
      EXPECT_EQ(printed[t].first, token(*model, probs.argmax().item<int64_t>())) << label << " position " << t;
      EXPECT_NEAR(printed[t].second, probs.max().item<double>(), 1.5e-3) << label << " position " << t;
    }
  }
}

// The recovered-metric table, recomputed cell by cell with one trace per patch (the example batches a
// layer's patches as invokes of one trace, reading the clean residual from another invoke).
TEST(Examples, ActivationPatchingTableMatchesOnePatchPerTrace) {
  REQUIRE_MODEL("stories260K-hf");
  const std::string out = run_example("activation_patching");
  auto model = load_stories();
  const std::string clean = "Lily had a cat. Lily loved her";
  const std::string corrupt = "Lily had a dog. Lily loved her";
  const auto positions = static_cast<int64_t>(model->tokenize(clean).size());
  const int64_t layers = model->config().num_layers;

  std::vector<Saved> clean_resid(static_cast<std::size_t>(layers));
  Saved clean_logits, corrupt_logits;
  model->trace(clean, [&] {
    for (int64_t l = 0; l < layers; ++l)
      clean_resid[static_cast<std::size_t>(l)] = (*model)["model.layers"][l].output()[0].save();
    clean_logits = (*model)["lm_head"].output()[{0, -1}].save();
  });
  model->trace(corrupt, [&] { corrupt_logits = (*model)["lm_head"].output()[{0, -1}].save(); });
  const int64_t good = clean_logits.tensor().argmax().item<int64_t>();
  const int64_t bad = corrupt_logits.tensor().argmax().item<int64_t>();
  ASSERT_NE(good, bad);
  auto metric = [&](const at::Tensor& logits) { return (logits[good] - logits[bad]).item<double>(); };
  const double clean_metric = metric(clean_logits.tensor()), corrupt_metric = metric(corrupt_logits.tensor());
  char header[200];
  std::snprintf(header, sizeof header, "metric = logit(%s) - logit(%s) at the last position: clean %.3f, corrupt %.3f",
                piece(*model, good).c_str(), piece(*model, bad).c_str(), clean_metric, corrupt_metric);
  EXPECT_NE(out.find(header), std::string::npos) << header << "\n" << out;

  for (int64_t l = 0; l < layers; ++l) {
    const std::vector<double> printed = row_numbers(line_starting(out, std::to_string(l) + "   "));
    ASSERT_EQ(printed.size(), static_cast<std::size_t>(positions)) << "layer " << l << "\n" << out;
    for (int64_t p = 0; p < positions; ++p) {
      Saved patched;
      model->trace(corrupt, [&] {
        (*model)["model.layers"][l].output()[0].set({0, p}, clean_resid[static_cast<std::size_t>(l)].tensor()[0][p]);
        patched = (*model)["lm_head"].output()[{0, -1}].save();
      });
      const double recovered = (metric(patched.tensor()) - corrupt_metric) / (clean_metric - corrupt_metric);
      EXPECT_NEAR(printed[static_cast<std::size_t>(p)], recovered, 1.5e-3) << "layer " << l << " position " << p;
    }
  }
  // Patching the last layer at the last position restores the clean run exactly; earlier positions of the
  // last layer cannot reach the answer.
  const std::vector<double> last = row_numbers(line_starting(out, std::to_string(layers - 1) + "   "));
  ASSERT_FALSE(last.empty());
  EXPECT_DOUBLE_EQ(last.back(), 1.0);
  EXPECT_DOUBLE_EQ(last.front(), 0.0);
}

/// Greedy decoding by hand: one full forward per new token (no KV cache, no generate), with `steer`
/// (if defined) added to layer `layer`'s output at every position.
std::string greedy_by_hand(LanguageModel& model, const std::string& prompt, int64_t steps, int64_t layer,
                           const at::Tensor& steer) {
  std::vector<int64_t> ids = model.tokenize(prompt);
  std::vector<int64_t> generated;
  for (int64_t s = 0; s < steps; ++s) {
    Saved logits;
    model.trace(at::tensor(ids, at::kLong), [&] {
      if (steer.defined()) model["model.layers"][layer].output()[0].add_(steer);
      logits = model["lm_head"].output()[{0, -1}].save();
    });
    ids.push_back(logits.tensor().argmax().item<int64_t>());
    generated.push_back(ids.back());
  }
  return model.tokenizer().decode(generated);
}

TEST(Examples, SteeringChangesTheGreedyTextAsAHandWrittenLoopDoes) {
  REQUIRE_MODEL("stories260K-hf");
  const std::string out = run_example("steering");
  auto model = load_stories();
  const int64_t layer = 4;
  const std::string prompt = "Once upon a time, there was a little dog.";
  // The steering vector from two separate traces (the example uses two invokes of one trace).
  auto mean_residual = [&](const std::string& text) {
    Saved h;
    model->trace(text, [&] { h = (*model)["model.layers"][layer].output()[0].save(); });
    return h.tensor()[0].mean(0);
  };
  const at::Tensor steer =
      (mean_residual("Lily saw a cat. The cat was soft.") - mean_residual("Lily saw a dog. The dog was soft.")) * 1.5;
  char norm_line[64];
  std::snprintf(norm_line, sizeof norm_line, "norm %.3f", steer.norm().item<double>());
  EXPECT_NE(out.find(norm_line), std::string::npos) << norm_line << "\n" << out;

  const std::string plain = greedy_by_hand(*model, prompt, 32, layer, at::Tensor());
  const std::string steered = greedy_by_hand(*model, prompt, 32, layer, steer);
  EXPECT_NE(plain, steered);
  EXPECT_EQ(plain.find("cat"), std::string::npos) << plain;
  EXPECT_NE(steered.find("The cat was very happy"), std::string::npos) << steered;
  EXPECT_EQ(line_starting(out, "unsteered: "), "unsteered: \"" + plain + "\"") << out;
  EXPECT_EQ(line_starting(out, "steered:   "), "steered:   \"" + steered + "\"") << out;
}

// Each cached module's shape and checksum, from one trace per module saving only that module's output;
// the decoder layers' checksums also from run.c's residual stream.
TEST(Examples, CacheActivationsListsEveryModuleWithItsOutput) {
  REQUIRE_MODEL("stories260K-hf");
  REQUIRE_MODEL("stories260K/reference.json");
  const std::string out = run_example("cache_activations");
  auto model = load_stories();
  std::vector<Module*> modules;  // every module but the never-called container model.layers
  for (Module* m : model->module().modules())
    if (m->path() != "model.layers") modules.push_back(m);
  EXPECT_NE(out.find("every module's output for \"Once upon a time\" (" + std::to_string(modules.size()) + " modules)"),
            std::string::npos)
      << out;

  std::map<std::string, std::pair<std::string, double>> printed;  // path -> (shape, checksum)
  std::istringstream lines(out);
  std::string line;
  std::getline(lines, line);  // the heading
  const std::regex row("(\\S+) +(.*\\S) +(-?\\d+\\.\\d{6})");
  for (std::smatch m; std::getline(lines, line);)
    if (std::regex_match(line, m, row)) printed[m[1].str()] = {m[2].str(), std::stod(m[3].str())};
  ASSERT_EQ(printed.size(), modules.size()) << out;

  std::ifstream in(test::model_path("stories260K/reference.json"));
  const auto ref = nlohmann::json::parse(in)["prompts"][0];
  ASSERT_EQ(ref["prompt"], "Once upon a time");
  for (Module* m : modules) {
    const std::string path = m->path().empty() ? "(root)" : m->path();
    ASSERT_TRUE(printed.count(path)) << path;
    Saved saved;
    model->trace("Once upon a time", [&] { saved = (*model)[m->path()].output().save(); });
    double sum = 0;
    for_each_tensor(saved.value(), [&](const at::Tensor& t) { sum += t.to(at::kDouble).sum().item<double>(); });
    EXPECT_NEAR(printed[path].second, sum, 1e-4 + 1e-6 * std::abs(sum)) << path;
    const Value& v = saved.value();
    const std::string shape = v.is_tensor() ? format_shape(v.as_tensor().sizes()) : printed[path].first;
    EXPECT_EQ(printed[path].first, shape) << path;
  }
  EXPECT_EQ(printed["model.layers.0"].first, "([1, 5, 64])") << out;
  EXPECT_EQ(printed["model.layers.0.self_attn"].first, "([1, 5, 64], None)") << out;
  EXPECT_EQ(printed["lm_head"].first, "[1, 5, 512]");
  for (std::size_t l = 0; l < 5; ++l) {
    double sum = 0;
    for (const auto& pos : ref["positions"])
      for (double x : pos["resid_post"][l]) sum += x;
    EXPECT_NEAR(printed["model.layers." + std::to_string(l)].second, sum, 2e-3) << "layer " << l;
  }
}

}  // namespace
}  // namespace nnsight
