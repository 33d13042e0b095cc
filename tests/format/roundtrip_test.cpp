// serialize ∘ deserialize is the identity: on the JSON (re-encoding gives the
// same document) and node by node (same index space, edges, contexts and
// entry points); a decoded graph runs to the same saved values.

#include <gtest/gtest.h>

#include "nnsight/format/value_json.h"
#include "sample_graphs.h"

namespace nnsight::format::test {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class RoundTrip : public ::testing::TestWithParam<std::size_t> {};

TEST_P(RoundTrip, JsonAndNodesAreIdentical) {
  Sample s = std::move(sample_graphs()[GetParam()]);
  SCOPED_TRACE(s.name);
  const nlohmann::json j1 = to_json(s.doc);
  // Through text, as a client would send it.
  const GraphDocument back = document_from_json(parse_graph_text(j1.dump()));
  expect_same_graph(*s.doc.graph, *back.graph);
  const nlohmann::json j2 = to_json(back);
  EXPECT_EQ(j1, j2) << j1.dump(1) << "\n---\n" << j2.dump(1);
  // The client's source lines survive (they name this test's builders).
  for (int32_t i = 0; i < back.graph->size(); ++i) {
    EXPECT_TRUE(contains(back.where(i), "tests/format/sample_graphs.h:")) << back.where(i);
    EXPECT_EQ(back.where(i), s.doc.graph->where(i));
  }
  for (const auto& [t, settings] : s.doc.traces) {
    const TraceSettings& d = back.trace(t);
    ASSERT_EQ(d.invokes.size(), settings.invokes.size());
    for (std::size_t k = 0; k < d.invokes.size(); ++k) EXPECT_TRUE(same_value(d.invokes[k], settings.invokes[k]));
    EXPECT_EQ(d.strict_order, settings.strict_order);
    ASSERT_EQ(d.generate.has_value(), settings.generate.has_value());
    if (d.generate) {
      EXPECT_EQ(d.generate->max_new_tokens, settings.generate->max_new_tokens);
      EXPECT_EQ(d.generate->temperature, settings.generate->temperature);
      EXPECT_EQ(d.generate->top_k, settings.generate->top_k);
      EXPECT_EQ(d.generate->top_p, settings.generate->top_p);
      EXPECT_EQ(d.generate->seed, settings.generate->seed);
      EXPECT_EQ(d.generate->stop_at_eos, settings.generate->stop_at_eos);
    }
  }
}

TEST_P(RoundTrip, DecodedGraphRunsToTheSameValues) {
  Sample s = std::move(sample_graphs()[GetParam()]);
  SCOPED_TRACE(s.name);
  if (s.runner == Runner::NotRunnable) GTEST_SKIP() << "round trip only (no runner for it here)";
  auto decoded = graph_from_json(parse_graph_text(to_json(*s.doc.graph).dump()));
  const RunResult expected = run_sample(*s.doc.graph, s.runner);
  const RunResult actual = run_sample(*decoded, s.runner);
  EXPECT_FALSE(expected.saved.empty() && expected.log.empty());
  ASSERT_EQ(actual.saved.size(), expected.saved.size());
  for (const auto& [i, v] : expected.saved) {
    ASSERT_TRUE(actual.saved.count(i)) << "node " << i;
    EXPECT_TRUE(same_value(actual.saved.at(i), v))
        << "node " << i << ": " << actual.saved.at(i).repr() << " vs " << v.repr();
  }
  EXPECT_EQ(actual.log, expected.log);
  EXPECT_TRUE(same_value(actual.output, expected.output));
}

INSTANTIATE_TEST_SUITE_P(Samples, RoundTrip, ::testing::Range<std::size_t>(0, sample_graphs().size()),
                         [](const auto& info) { return sample_graphs()[info.param].name; });

TEST(RoundTripValues, EveryConstantKeepsKindAndBits) {
  for (const Arg& a : every_constant()) {
    const nlohmann::json j = value_to_json(a.value);
    ValueDecoder decoder(DecodeLimits{}, nullptr);
    const Value back = decoder.decode(nlohmann::json::parse(j.dump()), JsonPath());
    EXPECT_TRUE(same_value(back, a.value)) << a.value.repr() << " -> " << j.dump();
  }
  // The sign of zero and float vs int survive.
  ValueDecoder decoder(DecodeLimits{}, nullptr);
  EXPECT_TRUE(std::signbit(decoder.decode(nlohmann::json::parse(value_to_json(-0.0).dump()), {}).as_double()));
  EXPECT_EQ(decoder.decode(nlohmann::json::parse(value_to_json(2.0).dump()), {}).kind(), Value::Kind::Float);
}

TEST(RoundTripValues, KnownEncodings) {
  EXPECT_EQ(value_to_json(Value::tuple({1, "a"})).dump(), R"({"tuple":[1,"a"]})");
  EXPECT_EQ(value_to_json(Slice{std::nullopt, -1, std::nullopt}).dump(), R"({"slice":[null,-1,null]})");
  EXPECT_EQ(value_to_json(std::numeric_limits<double>::infinity()).dump(), R"({"float":"inf"})");
  EXPECT_EQ(value_to_json(Value::ref(3)).dump(), R"({"ref":3})");
  EXPECT_EQ(value_to_json(at::full({1, 2}, 0.5)).dump(),
            R"({"tensor":{"data":[0.5,0.5],"dtype":"float32","shape":[1,2]}})");
}

TEST(Encode, ApplyNodeIsAnErrorNamingNodeAndLine) {
  auto g = Graph::create();
  int line = 0;
  {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    line = __LINE__ + 1;
    apply([](std::vector<Value>& args, const Dict&) { return args[0]; }, {h}, "set_input").save();
  }
  try {
    to_json(*g);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "node 2 (set_input)")) << e.what();
    EXPECT_TRUE(contains(e.what(), "cannot be serialised")) << e.what();
    EXPECT_TRUE(contains(e.what(), "tests/format/roundtrip_test.cpp:" + std::to_string(line))) << e.what();
  }
}

TEST(Encode, OpenGraphAndBadTensorsAreErrors) {
  auto g = Graph::create();
  TraceScope trace(g);
  EXPECT_THROW(to_json(*g), Error);
  trace.close();
  EXPECT_NO_THROW(to_json(*g));
  g->add_op("print", {Value(at::Tensor())});
  try {
    to_json(*g);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "undefined tensor")) << e.what();
    EXPECT_TRUE(contains(e.what(), "in node 1 (print)")) << e.what();
  }
}

TEST(Encode, NodeIdsAreArrayPositionsAndTraceFieldsArePresent) {
  Sample s = std::move(sample_graphs().back());  // invokes_and_settings
  const nlohmann::json j = to_json(s.doc);
  EXPECT_EQ(j["format"], "nnsight-graph");
  EXPECT_EQ(j["version"], 1);
  for (std::size_t i = 0; i < j["nodes"].size(); ++i) EXPECT_EQ(j["nodes"][i]["id"], i);
  const auto& trace = j["nodes"][0];
  EXPECT_EQ(trace["kind"], "trace");
  EXPECT_EQ(trace["end"], s.doc.graph->size());
  EXPECT_EQ(trace["invokes"][0], "Once upon a time");
  EXPECT_EQ(trace["strict_order"], false);
  EXPECT_EQ(trace["generate"]["max_new_tokens"], 3);
  EXPECT_EQ(j["nodes"][1]["batch_group"], 0);
  EXPECT_EQ(j["nodes"][1]["iteration"], 0);
  const auto& cache_entry = j["nodes"][j["nodes"].size() - 2];
  EXPECT_EQ(cache_entry["iteration"], nlohmann::json::parse(R"({"slice":[null,null,null]})"));
  EXPECT_EQ(cache_entry["batch_group"], 1 << 24);
}

}  // namespace
}  // namespace nnsight::format::test
