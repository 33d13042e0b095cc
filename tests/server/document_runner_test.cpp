// run_document: a graph JSON run on stories260K gives exactly what the same
// trace gives through the C++ API; errors name the client's lines; deadlines.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "nnsight/api/document_runner.h"
#include "nnsight/format/graph_json.h"
#include "server/patching_fixture.h"

namespace nnsight {
namespace {

using json = nlohmann::json;

format::GraphDocument decode(const std::string& text) {
  return format::document_from_json(format::parse_graph_text(text));
}

/// A trace on `prompt` whose body is `nodes` (ids from 1); `settings` are extra trace fields.
std::string trace_graph(const std::string& prompt, const json& nodes, const json& settings = json::object()) {
  json trace = {{"kind", "trace"}, {"inputs", {prompt}}, {"end", static_cast<int>(nodes.size()) + 1}};
  trace.update(settings);
  json all = json::array({trace});
  for (const json& n : nodes) all.push_back(n);
  return json{{"format", "nnsight-graph"}, {"version", 1}, {"nodes", all}}.dump();
}

TEST(DocumentRunner, PatchingEqualsTheCppApiExactly) {
  REQUIRE_STORIES();
  LanguageModel& model = *test::stories();
  const test::PatchingReference ref = test::patching_reference(model);
  format::GraphDocument doc = decode(test::patching_graph());
  const DocumentResult r = run_document(model, doc);
  ASSERT_EQ(r.saved.size(), 3u);
  EXPECT_TRUE(at::equal(r.saved.at(5).as_tensor(), ref.clean));
  EXPECT_TRUE(at::equal(r.saved.at(11).as_tensor(), ref.logits));
  EXPECT_TRUE(at::equal(r.saved.at(15).as_tensor(), ref.lens));
  EXPECT_TRUE(r.generated.empty());
  // The patch changed the corrupt run's prediction (it is not a no-op).
  Saved plain;
  model.trace(test::kCorruptPrompt, [&] { plain = model["lm_head"].output().save(); });
  EXPECT_FALSE(at::equal(plain.tensor().select(1, -1), ref.logits.select(1, -1)));
}

TEST(DocumentRunner, GenerationEqualsTracedGenerate) {
  REQUIRE_STORIES();
  LanguageModel& model = *test::stories();
  GenerateOptions options;
  options.max_new_tokens = 4;
  Saved step2;
  Traced traced =
      model.generate(test::kCorruptPrompt, options, [&] { step2 = model["lm_head"].iter(2).output().save(); });

  const json nodes = json::array({
      {{"kind", "entry"}, {"key", "lm_head.output"}, {"iteration", 2}, {"batch_group", 0}},
      {{"kind", "save"}, {"target", 1}},
      {{"kind", "op"}, {"op", "print"}, {"args", {"step", 2}}},
  });
  format::GraphDocument doc = decode(trace_graph(test::kCorruptPrompt, nodes, {{"generate", {{"max_new_tokens", 4}}}}));
  const DocumentResult r = run_document(model, doc);
  EXPECT_TRUE(at::equal(r.saved.at(2).as_tensor(), step2.tensor()));
  ASSERT_EQ(r.generated.size(), 1u);
  const auto& rows = r.generated.at(0).items();
  ASSERT_EQ(rows.size(), 1u);
  std::vector<int64_t> ids;
  for (const Value& v : rows[0].items()) ids.push_back(v.as_int());
  EXPECT_EQ(ids, LanguageModel::tokens_of(traced).at(0));
  ASSERT_EQ(r.logs.size(), 1u);
  EXPECT_NE(r.logs[0].find("step"), std::string::npos) << r.logs[0];
}

TEST(DocumentRunner, ErrorsNameTheNodeAndTheClientLine) {
  REQUIRE_STORIES();
  LanguageModel& model = *test::stories();
  const json nodes = json::array({
      {{"kind", "entry"}, {"key", "model.layers.1.output"}, {"batch_group", 0}},
      {{"kind", "op"}, {"op", "getitem"}, {"args", {{{"ref", 1}}, 7}}, {"loc", {{"file", "client.py"}, {"line", 42}}}},
  });
  format::GraphDocument doc = decode(trace_graph(test::kCorruptPrompt, nodes));
  try {
    run_document(model, doc);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("node 2 (getitem)"), std::string::npos) << what;
    EXPECT_NE(what.find("client.py:42"), std::string::npos) << what;
    EXPECT_EQ(what.find("graph_decode.cpp"), std::string::npos) << what;
  }
  // Without a client location the error names the node's place in the JSON.
  const json no_loc = json::array({
      {{"kind", "entry"}, {"key", "model.layers.1.output"}, {"batch_group", 0}},
      {{"kind", "op"}, {"op", "getitem"}, {"args", {{{"ref", 1}}, 7}}},
  });
  format::GraphDocument doc2 = decode(trace_graph(test::kCorruptPrompt, no_loc));
  try {
    run_document(model, doc2);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("graph JSON nodes[2]"), std::string::npos) << e.what();
  }
}

TEST(DocumentRunner, DeadlineStopsGenerationAndForward) {
  REQUIRE_STORIES();
  LanguageModel& model = *test::stories();
  const json nodes = json::array(
      {{{"kind", "entry"}, {"key", "lm_head.output"}, {"batch_group", 0}}, {{"kind", "save"}, {"target", 1}}});
  for (const bool generate : {true, false}) {
    format::GraphDocument doc = decode(trace_graph(
        test::kCorruptPrompt, nodes, generate ? json{{"generate", {{"max_new_tokens", 40}}}} : json::object()));
    DocumentRunOptions options;
    options.deadline = std::chrono::steady_clock::now();
    try {
      run_document(model, doc, options);
      FAIL() << "expected RunInterrupted";
    } catch (const RunInterrupted& e) {
      EXPECT_TRUE(e.deadline());
      EXPECT_NE(std::string(e.what()).find("wall-time"), std::string::npos) << e.what();
    }
    // The model is intact: the same document runs without a deadline.
    EXPECT_EQ(run_document(model, doc).saved.size(), 1u);
  }
  std::atomic<bool> cancel{true};
  format::GraphDocument doc = decode(trace_graph(test::kCorruptPrompt, nodes));
  DocumentRunOptions options;
  options.cancel = &cancel;
  try {
    run_document(model, doc, options);
    FAIL() << "expected RunInterrupted";
  } catch (const RunInterrupted& e) {
    EXPECT_FALSE(e.deadline());
  }
}

}  // namespace
}  // namespace nnsight
