// nnsight serve in-process on loopback: the patching request returns exactly
// the C++ API's values; hostile requests each get a clear 4xx while the
// server keeps serving; API keys; one JSON log line per request.

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "nnsight/format/tensor_blob.h"
#include "nnsight/format/value_json.h"
#include "nnsight/server/server.h"
#include "server/patching_fixture.h"

namespace nnsight {
namespace {

using json = nlohmann::json;

constexpr const char* kKey = "test-key-0123456789abcdef";
constexpr const char* kOtherKey = "other-key-0123456789abcdef";

/// A model handle sharing the test binary's loaded model (ServedModel owns a
/// LanguageModel; this copy shares the module tree and tokenizer).
std::shared_ptr<server::ServedModel> served_stories() {
  LanguageModel& lm = *test::stories();
  auto copy = std::make_unique<LanguageModel>(lm.edit([] {}));
  return server::serve_model("stories", std::move(copy), "stories260K-hf");
}

at::Tensor tensor_of(const json& value) {
  format::ValueDecoder decoder(format::DecodeLimits{}, nullptr);
  return decoder.decode(value, format::JsonPath()).as_tensor();
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_STORIES();
    server::ServerOptions options;
    options.port = 0;
    options.limits.max_nodes = 10'000;
    options.limits.max_tensor_bytes = 1u << 20;
    options.limits.max_new_tokens = 2000;
    options.max_body_bytes = 64u << 20;
    options.jobs.wall_time = std::chrono::milliseconds(wall_time_ms());
    options.jobs.max_finished_bytes = max_finished_bytes();
    options.keys = server::ApiKeys::from({{"alice", kKey}, {"bob", kOtherKey}});
    options.log = &log_;
    server_ = std::make_unique<server::Server>(std::vector{served_stories()}, options);
    port_ = server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(30, 0);
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->stop();
  }
  virtual int wall_time_ms() const { return 20'000; }
  virtual std::size_t max_finished_bytes() const { return 256u << 20; }

  httplib::Headers auth(const char* key = kKey) const { return {{"Authorization", std::string("Bearer ") + key}}; }
  httplib::Result post(const std::string& body, const std::string& query = "?wait=1", const char* key = kKey) {
    return client_->Post(("/v1/traces" + query).c_str(), auth(key), body, "application/json");
  }
  /// Expects an error answer: status and code; returns the error object.
  json expect_error(const httplib::Result& r, int status, const std::string& code) {
    EXPECT_TRUE(r) << "no response";
    if (!r) return {};
    EXPECT_EQ(r->status, status) << r->body;
    const json j = json::parse(r->body);
    EXPECT_TRUE(j.contains("error")) << r->body;
    EXPECT_EQ(j["error"].value("code", ""), code) << r->body;
    EXPECT_FALSE(j["error"].value("message", "").empty()) << r->body;
    return j["error"];
  }
  void expect_patching_result(const json& job) {
    ASSERT_EQ(job["status"], "done") << job.dump();
    const test::PatchingReference ref = test::patching_reference(*test::stories());
    const json& out = job["result"]["outputs"];
    EXPECT_TRUE(at::equal(tensor_of(out["clean"]["value"]), ref.clean));
    EXPECT_EQ(out["clean"]["node"], 5);
    EXPECT_TRUE(at::equal(tensor_of(out["node_11"]["value"]), ref.logits));
    EXPECT_TRUE(at::equal(tensor_of(out["node_15"]["value"]), ref.lens));
  }
  std::string patching_request() const {
    return json{{"model", "stories"}, {"graph", json::parse(test::patching_graph())}, {"outputs", {{"clean", 5}}}}
        .dump();
  }

  std::ostringstream log_;
  std::unique_ptr<server::Server> server_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ServerTest, PatchingOverHttpEqualsTheCppApi) {
  auto r = post(patching_request());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  expect_patching_result(json::parse(r->body));

  // Without wait: 202 with a job id, then poll.
  auto queued = post(patching_request(), "");
  ASSERT_TRUE(queued);
  ASSERT_EQ(queued->status, 202) << queued->body;
  const std::string id = json::parse(queued->body)["id"];
  EXPECT_EQ(queued->get_header_value("Location"), "/v1/jobs/" + id);
  json job;
  for (int i = 0; i < 2000; ++i) {
    auto g = client_->Get(("/v1/jobs/" + id).c_str(), auth());
    ASSERT_TRUE(g);
    ASSERT_EQ(g->status, 200) << g->body;
    job = json::parse(g->body);
    if (job["status"] == "done" || job["status"] == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  expect_patching_result(job);
  // Another key cannot read the job.
  expect_error(client_->Get(("/v1/jobs/" + id).c_str(), auth(kOtherKey)), 404, "unknown_job");
}

TEST_F(ServerTest, MultipartRequestWithAttachedTensors) {
  const at::Tensor steer = at::linspace(-1.0, 1.0, 64);
  format::TensorBlob blob;
  blob.add("steer", steer);
  const json graph = {
      {"format", "nnsight-graph"},
      {"version", 1},
      {"nodes",
       {{{"kind", "trace"}, {"inputs", {test::kCorruptPrompt}}, {"end", 5}},
        {{"kind", "entry"}, {"key", "model.layers.0.output"}, {"batch_group", 0}},
        {{"kind", "op"}, {"op", "getitem"}, {"args", {{{"ref", 1}}, 0}}},
        {{"kind", "op"},
         {"op", "add"},
         {"args", {{{"ref", 2}}, {{"tensor", {{"dtype", "float32"}, {"shape", {64}}, {"blob", "steer"}}}}}}},
        {{"kind", "save"}, {"target", 3}}}}};
  const httplib::MultipartFormDataItems items = {
      {"request", json{{"graph", graph}, {"outputs", {{"steered", 4}}}}.dump(), "", "application/json"},
      {"tensors", blob.to_bytes(), "tensors.safetensors", "application/octet-stream"}};
  auto r = client_->Post("/v1/traces?wait=1", auth(), items);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;

  LanguageModel& model = *test::stories();
  Saved expected;
  model.trace(test::kCorruptPrompt, [&] { expected = (model["model.layers.0"].output()[0] + steer).save(); });
  EXPECT_TRUE(at::equal(tensor_of(json::parse(r->body)["result"]["outputs"]["steered"]["value"]), expected.tensor()));

  // A corrupt blob is a 400 naming the part.
  const httplib::MultipartFormDataItems bad = {
      {"request", json{{"graph", graph}}.dump(), "", "application/json"},
      {"tensors", std::string("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10), "t.safetensors", "application/octet-stream"}};
  expect_error(client_->Post("/v1/traces?wait=1", auth(), bad), 400, "invalid_tensors");
}

TEST_F(ServerTest, ModelsHealthAndLogLines) {
  auto h = client_->Get("/healthz");  // no key needed
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body)["models"], json::array({"stories"}));

  auto m = client_->Get("/v1/models", auth());
  ASSERT_TRUE(m);
  ASSERT_EQ(m->status, 200) << m->body;
  const json model = json::parse(m->body)["models"].at(0);
  EXPECT_EQ(model["name"], "stories");
  EXPECT_EQ(model["architecture"], "LlamaForCausalLM");
  EXPECT_EQ(model["config"]["num_layers"], 5);
  bool found = false;
  for (const json& mod : model["modules"])
    if (mod["path"] == "model.layers.4.self_attn.k_proj") {
      found = true;
      EXPECT_EQ(mod["parameters"]["weight"], json::array({32, 64}));
    }
  EXPECT_TRUE(found);

  expect_error(client_->Get("/v1/nothing", auth()), 404, "not_found");
  server_->stop();  // flushes the log
  std::istringstream lines(log_.str());
  std::vector<json> entries;
  for (std::string line; std::getline(lines, line);) entries.push_back(json::parse(line));
  ASSERT_EQ(entries.size(), 3u) << log_.str();
  // A line is written after its response, so the order may vary.
  std::map<std::string, json> by_path;
  for (const json& e : entries) by_path[e["path"]] = e;
  EXPECT_EQ(by_path["/healthz"]["status"], 200);
  EXPECT_EQ(by_path["/v1/models"]["key"], "alice");
  EXPECT_EQ(by_path["/v1/models"]["status"], 200);
  EXPECT_EQ(by_path["/v1/nothing"]["status"], 404);
  EXPECT_EQ(by_path["/v1/nothing"]["error"], "not_found");
  for (const json& e : entries) EXPECT_TRUE(e.contains("ms") && e.contains("time") && e.contains("method"));
  EXPECT_EQ(log_.str().find(kKey), std::string::npos) << "keys never reach the log";
}

TEST_F(ServerTest, ApiKeys) {
  expect_error(client_->Get("/v1/models"), 401, "unauthorized");
  expect_error(client_->Get("/v1/models", auth("wrong-key-0123456789abcdef")), 401, "unauthorized");
  expect_error(post(patching_request(), "?wait=1", "nope"), 401, "unauthorized");
  auto x = client_->Get("/v1/models", httplib::Headers{{"X-API-Key", kOtherKey}});
  ASSERT_TRUE(x);
  EXPECT_EQ(x->status, 200);
}

TEST_F(ServerTest, HostileRequestsGet4xxAndTheServerKeepsServing) {
  const json graph = json::parse(test::patching_graph());
  auto with_graph = [](const json& g) { return json{{"model", "stories"}, {"graph", g}}.dump(); };

  json e = expect_error(post("{\"model\": \"stories\", \"graph\": {"), 400, "invalid_json");
  EXPECT_NE(e["message"].get<std::string>().find("not valid JSON"), std::string::npos);

  json g = graph;
  g["nodes"][14]["op"] = "softmaxx";
  e = expect_error(post(with_graph(g)), 400, "invalid_graph");
  EXPECT_NE(e["message"].get<std::string>().find("softmaxx"), std::string::npos) << e;
  EXPECT_NE(e["where"].get<std::string>().find("nodes[14]"), std::string::npos) << e;

  g = graph;
  g["nodes"][3]["args"][0] = {{"ref", 9}};
  e = expect_error(post(with_graph(g)), 400, "invalid_graph");
  EXPECT_NE(e["message"].get<std::string>().find("comes after it"), std::string::npos) << e;

  g = graph;
  g["nodes"][4]["args"][0] = {{"ref", 4}};  // a cycle through itself
  e = expect_error(post(with_graph(g)), 400, "invalid_graph");
  EXPECT_NE(e["message"].get<std::string>().find("refers to itself"), std::string::npos) << e;

  g = graph;  // 1.2 MB, over the 1 MiB limit
  g["nodes"][14]["args"][1] = {
      {"tensor", {{"dtype", "float32"}, {"shape", {300'000}}, {"data", std::vector<double>(300'000, 0.5)}}}};
  e = expect_error(post(with_graph(g)), 413, "limit_exceeded");
  EXPECT_NE(e["where"].get<std::string>().find("nodes[14].args[1]"), std::string::npos) << e;

  std::string million = R"({"model": "stories", "graph": {"format": "nnsight-graph", "version": 1, "nodes": [)";
  million.reserve(20u << 20);
  for (int i = 0; i < 1'000'000; ++i) million += i == 0 ? R"({"kind":"stop"})" : R"(,{"kind":"stop"})";
  million += "]}}";
  e = expect_error(post(million), 413, "limit_exceeded");
  EXPECT_NE(e["message"].get<std::string>().find("1000000 nodes"), std::string::npos) << e;

  e = expect_error(post(json{{"model", "../../etc/passwd"}, {"graph", graph}}.dump()), 400, "invalid_name");
  EXPECT_NE(e["message"].get<std::string>().find("model name"), std::string::npos) << e;
  e = expect_error(post(json{{"model", "stories"}, {"graph", graph}, {"outputs", {{"../../x", 5}}}}.dump()), 400,
                   "invalid_name");
  EXPECT_NE(e["message"].get<std::string>().find("output name"), std::string::npos) << e;
  expect_error(post(json{{"model", "gpt5"}, {"graph", graph}}.dump()), 404, "unknown_model");
  expect_error(post(json{{"model", "stories"}, {"graph", graph}, {"outputs", {{"x", 4}}}}.dump()), 400,
               "invalid_request");
  expect_error(client_->Get("/v1/jobs/..%2F..%2Fetc", auth()), 404, "unknown_job");

  // A run-time failure names the node, its op and the client's line.
  g = graph;
  g["nodes"][2]["args"][1] = 5;  // the layer output has one element
  e = expect_error(post(with_graph(g)), 422, "run_failed");
  EXPECT_EQ(e["node"], 2) << e;
  EXPECT_EQ(e["op"], "getitem") << e;
  EXPECT_EQ(e["location"], "patch.py:7") << e;

  // Still serving, with the same values.
  auto r = post(patching_request());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  expect_patching_result(json::parse(r->body));
}

/// A server whose jobs may run 30 ms.
class ShortWallTimeServer : public ServerTest {
 protected:
  int wall_time_ms() const override { return 30; }
};

TEST_F(ShortWallTimeServer, LongGenerationExceedsTheWallTime) {
  json graph = {{"format", "nnsight-graph"},
                {"version", 1},
                {"nodes",
                 {{{"kind", "trace"},
                   {"inputs", {test::kCorruptPrompt}},
                   {"generate", {{"max_new_tokens", 2000}, {"stop_at_eos", false}}},
                   {"end", 3}},
                  {{"kind", "entry"}, {"key", "lm_head.output"}, {"batch_group", 0}},
                  {{"kind", "save"}, {"target", 1}}}}};
  const auto start = std::chrono::steady_clock::now();
  json e = expect_error(post(json{{"model", "stories"}, {"graph", graph}}.dump()), 422, "wall_time_exceeded");
  EXPECT_NE(e["message"].get<std::string>().find("30 ms"), std::string::npos) << e;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  // The next (short) request is served.
  auto r = post(patching_request());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(ShortWallTimeServer, ASessionLoopWithoutModelCallsIsInterrupted) {
  // for i in range(10**15): x = i + 1   -- no model call, so only the per-pass check can stop it.
  json graph = {{"format", "nnsight-graph"},
                {"version", 1},
                {"nodes",
                 {{{"kind", "iterator"}, {"collection", int64_t{1'000'000'000'000'000}}, {"end", 3}},
                  {{"kind", "variable"}},
                  {{"kind", "op"}, {"op", "add"}, {"args", {{{"ref", 1}}, 1}}}}}};
  const auto start = std::chrono::steady_clock::now();
  json e = expect_error(post(json{{"model", "stories"}, {"graph", graph}}.dump()), 422, "wall_time_exceeded");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  auto r = post(patching_request());  // the worker is free again
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

/// A server that keeps at most ~300 KB of finished results (estimated at 32 bytes per element).
class SmallResultMemoryServer : public ServerTest {
 protected:
  std::size_t max_finished_bytes() const override { return 300'000; }
};

TEST_F(SmallResultMemoryServer, OldResultsAreForgottenBeyondTheByteBudget) {
  // Each patching result holds [1, T, 512] logits, a 512-vector and a 64-vector (~115 KB as kept): two fit.
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    auto r = post(patching_request());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;  // a waiting client is answered even if its job is then forgotten
    expect_patching_result(json::parse(r->body));
    ids.push_back(json::parse(r->body)["id"]);
  }
  expect_error(client_->Get(("/v1/jobs/" + ids[0]).c_str(), auth()), 404, "unknown_job");
  auto last = client_->Get(("/v1/jobs/" + ids[3]).c_str(), auth());
  ASSERT_TRUE(last);
  EXPECT_EQ(last->status, 200) << last->body;
}

}  // namespace
}  // namespace nnsight
