// server_load_bench: `nnsight serve` under concurrent load (issue 5).
//
//   server_load_bench [--clients 8] [--requests 100] [--models DIR] [--nnsight PATH] [--rss-after 100]
//                     [--save-requests DIR]
//
// Starts the real CLI (`nnsight serve --model stories=DIR/stories260K-hf`, an
// API key file, a free loopback port) as a child process, waits for /healthz,
// then runs --clients threads, each sending --requests `POST /v1/traces?wait=1`
// requests over one keep-alive connection, alternating two realistic graphs
// recorded with the C++ tracing API and encoded with format::to_json:
//   * activation patching: two invokes; the clean run's layer-2 residual at the
//     last position replaces the corrupt run's; logits at the last position of
//     both runs are saved;
//   * logit lens: for every layer, lm_head(norm(residual)) at the last
//     position, softmaxed; the argmax and its probability are saved.
// Reports failures (must be 0), throughput, latency percentiles, the server's
// VmRSS after the first --rss-after requests and after all of them (their
// ratio is the acceptance figure, target <= 1.1), and checks the results:
// every response to the same request carries identical values, equal to the
// C++ API's run of the graph and to run_document on its JSON.
// Exit status 0 only when everything passes.
#include <ATen/ops/equal.h>
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "nnsight/api/document_runner.h"
#include "nnsight/api/nnsight.h"
#include "nnsight/base/backend.h"
#include "nnsight/format/graph_json.h"
#include "nnsight/format/value_json.h"
#include "serve_process.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace nnsight;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kRssRatioTarget = 1.1;
constexpr const char* kApiKey = "bench-key-0123456789abcdef";
constexpr const char* kClean = "Lily went to the park";
constexpr const char* kCorrupt = "Once upon a time";
constexpr const char* kLensPrompt = "Once upon a time, there was a little";
constexpr int kPatchLayer = 2;

/// One request kind: its body, and the C++ API's values by output name.
struct Workload {
  std::string name;
  std::string body;
  std::map<std::string, int32_t> outputs;      ///< output name -> save node id
  std::map<std::string, at::Tensor> expected;  ///< output name -> the C++ API's value
};

/// The Trace node of a stand-alone trace's graph.
int32_t trace_node(const graph::Graph& g) {
  for (int32_t i = 0; i < g.size(); ++i)
    if (g.node(i).kind == graph::NodeKind::Trace) return i;
  throw Error("the recorded graph has no trace node", "server_load_bench");
}

/// The Save node that keeps `saved` (a Saved handle is its target's proxy;
/// requests name outputs by Save node id).
int32_t save_node(const Saved& saved) {
  const graph::Graph& g = saved.graph();
  for (int32_t i = 0; i < g.size(); ++i)
    if (g.node(i).kind == graph::NodeKind::Save && g.node(i).args.at(0).as_ref() == saved.index()) return i;
  throw Error("no save node keeps node " + std::to_string(saved.index()), "server_load_bench");
}

/// The request body of a recorded trace: model, graph (with the invokes'
/// prompts), named outputs.
std::string request_body(const Traced& traced, std::vector<Value> invokes,
                         const std::map<std::string, int32_t>& outputs) {
  format::GraphDocument doc;
  doc.graph = traced.graph;
  if (!invokes.empty()) doc.traces[trace_node(*traced.graph)].invokes = std::move(invokes);
  json out = json::object();
  for (const auto& [name, id] : outputs) out[name] = id;
  return json{{"model", "stories"}, {"graph", format::to_json(doc)}, {"outputs", out}}.dump();
}

Workload patching(LanguageModel& model) {
  Saved clean_logits, patched_logits;
  const std::string layer = "model.layers." + std::to_string(kPatchLayer);
  Traced traced = model.trace([&](Tracer& tracer) {
    Proxy clean;
    tracer.invoke(kClean, [&] {
      clean = model[layer].output()[0];
      clean_logits = model["lm_head"].output()[{Slice(), -1}].save();
    });
    tracer.invoke(kCorrupt, [&] {
      Proxy h = model[layer].output()[0];
      h.set({Slice(), -1}, clean[{Slice(), -1}]);
      patched_logits = model["lm_head"].output()[{Slice(), -1}].save();
    });
  });
  Workload w{
      "patching", "", {{"clean_logits", save_node(clean_logits)}, {"patched_logits", save_node(patched_logits)}}, {}};
  w.expected = {{"clean_logits", clean_logits.tensor()}, {"patched_logits", patched_logits.tensor()}};
  w.body = request_body(traced, {Value(kClean), Value(kCorrupt)}, w.outputs);
  return w;
}

Workload logit_lens(LanguageModel& model) {
  const int64_t layers = model.config().num_layers;
  std::vector<Saved> tokens(layers), probs(layers);
  Traced traced = model.trace(kLensPrompt, [&] {
    for (int64_t l = 0; l < layers; ++l) {
      Proxy h = model["model.layers." + std::to_string(l)].output()[0];
      Proxy p = model["lm_head"](model["model.norm"](h))[{Slice(), -1}].softmax(-1);
      tokens[l] = p.argmax(-1).save();
      probs[l] = p.max(-1)[0].save();
    }
  });
  Workload w{"logit_lens", "", {}, {}};
  for (int64_t l = 0; l < layers; ++l) {
    const std::string k = std::to_string(l);
    w.outputs["token_" + k] = save_node(tokens[l]);
    w.outputs["prob_" + k] = save_node(probs[l]);
    w.expected["token_" + k] = tokens[l].tensor();
    w.expected["prob_" + k] = probs[l].tensor();
  }
  w.body = request_body(traced, {}, w.outputs);
  return w;
}

bool same_tensor(const at::Tensor& a, const at::Tensor& b) {
  return a.defined() && b.defined() && a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && at::equal(a, b);
}

/// "" when the result's outputs equal the workload's C++ API values exactly, else what differs.
std::string check_outputs(const Workload& w, const json& outputs) {
  for (const auto& [name, expected] : w.expected) {
    if (!outputs.contains(name)) return "output '" + name + "' is missing";
    format::ValueDecoder decoder(format::DecodeLimits{}, nullptr);
    const Value v = decoder.decode(outputs[name]["value"], format::JsonPath());
    if (!v.is_tensor() || !same_tensor(v.as_tensor(), expected)) return "output '" + name + "' differs";
  }
  return "";
}

/// "" when run_document on the request's graph gives the C++ API's values.
std::string check_run_document(LanguageModel& model, const Workload& w) {
  const json request = json::parse(w.body);
  const format::GraphDocument doc = format::document_from_json(request["graph"]);
  const DocumentResult r = run_document(model, doc);
  for (const auto& [name, id] : w.outputs) {
    auto it = r.saved.find(id);
    if (it == r.saved.end() || !it->second.is_tensor() || !same_tensor(it->second.as_tensor(), w.expected.at(name)))
      return "run_document differs at output '" + name + "'";
  }
  return "";
}

/// Nearest-rank percentile of a sorted sample.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

/// What one request left.
struct Sample {
  int workload = 0;
  double ms = 0;
  int status = 0;    ///< HTTP status; 0: no response
  std::string body;  ///< the response body, or the transport error
};

/// Runs the load: `clients` threads x `requests` each; calls `at_first` once
/// when the first `first` requests have all finished (the others wait for it).
std::vector<Sample> run_load(int port, const std::vector<Workload>& work, int clients, int requests, int first,
                             const std::function<void()>& at_first) {
  std::vector<Sample> samples(static_cast<std::size_t>(clients) * requests);
  std::atomic<int> tickets{0};
  std::mutex m;
  std::condition_variable cv;
  int first_done = 0;
  bool released = first <= 0;
  if (released) at_first();
  auto client_fn = [&](int c) {
    httplib::Client client("127.0.0.1", port);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);  // as curl and Python's http.client behave: no Nagle wait for the body
    client.set_read_timeout(300, 0);
    client.set_bearer_token_auth(kApiKey);
    for (int i = 0; i < requests; ++i) {
      const int ticket = tickets.fetch_add(1);
      if (ticket >= first) {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return released; });
      }
      Sample& s = samples[static_cast<std::size_t>(c) * requests + i];
      s.workload = (c + i) % static_cast<int>(work.size());
      const auto t0 = Clock::now();
      auto r = client.Post("/v1/traces?wait=1", work[s.workload].body, "application/json");
      s.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (r) {
        s.status = r->status;
        s.body = std::move(r->body);
      } else {
        s.body = "transport error: " + httplib::to_string(r.error());
      }
      if (ticket < first) {
        std::lock_guard lock(m);
        if (++first_done == first) {
          at_first();
          released = true;
          cv.notify_all();
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) threads.emplace_back(client_fn, c);
  for (auto& t : threads) t.join();
  return samples;
}

double mib(long kib) { return static_cast<double>(kib) / 1024.0; }

}  // namespace

int main(int argc, char** argv) {
  int clients = 8, requests = 100, rss_after = 100;
  std::string models = NNSIGHT_MODELS_DIR, cli = NNSIGHT_CLI_PATH, save_requests;
  CLI::App app("nnsight serve under concurrent load: failures, throughput, latency, RSS growth");
  app.add_option("--clients", clients, "Concurrent client threads")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--requests", requests, "Requests per client")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--models", models, "Folder with stories260K-hf/ and stories260K/tok512.bin")->capture_default_str();
  app.add_option("--nnsight", cli, "The nnsight binary")->capture_default_str();
  app.add_option("--rss-after", rss_after, "Requests after which the baseline RSS is read")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--save-requests", save_requests, "Also write the request bodies to DIR/<kind>.json (for curl)");
  CLI11_PARSE(app, argc, argv);
  const int total = clients * requests;
  rss_after = std::min(rss_after, total);

  const fs::path model_dir = fs::path(models) / "stories260K-hf",
                 tokenizer = fs::path(models) / "stories260K/tok512.bin";
  if (!fs::exists(model_dir) || !fs::exists(tokenizer) || !fs::exists(cli)) {
    std::cerr << "server_load_bench: need " << model_dir << ", " << tokenizer << " and " << cli << "\n";
    return 2;
  }
  init_backend(1);

  // The requests and their expected values, from the C++ API.
  LoadOptions load;
  load.tokenizer_path = tokenizer.string();
  LanguageModel model = LanguageModel::load(model_dir.string(), load);
  const std::vector<Workload> work = {patching(model), logit_lens(model)};
  bool ok = true;
  for (const Workload& w : work) {
    const std::string problem = check_run_document(model, w);
    std::printf("request %-10s %6zu bytes, %2zu outputs; run_document == C++ API: %s\n", w.name.c_str(), w.body.size(),
                w.outputs.size(), problem.empty() ? "yes" : problem.c_str());
    ok = ok && problem.empty();
    if (!save_requests.empty()) {
      fs::create_directories(save_requests);
      std::ofstream(fs::path(save_requests) / (w.name + ".json")) << w.body;
    }
  }

  // The server.
  const fs::path tmp = fs::temp_directory_path() / ("server_load_bench." + std::to_string(getpid()));
  fs::create_directories(tmp);
  {
    std::ofstream keys(tmp / "keys");
    keys << "# server_load_bench\nbench " << kApiKey << "\n";
  }
  std::vector<std::string> args = {"--model",        "stories=" + model_dir.string(),
                                   "--tokenizer",    "stories=" + tokenizer.string(),
                                   "--host",         "127.0.0.1",
                                   "--port",         "0",
                                   "--api-keys",     (tmp / "keys").string(),
                                   "--http-threads", std::to_string(std::max(8, clients + 2))};
  bench::ServeProcess serve(cli, args, (tmp / "serve.log").string());
  try {
    serve.wait_ready(std::chrono::seconds(120));
  } catch (const std::exception& e) {
    std::cerr << "server_load_bench: " << e.what() << "\n";
    return 1;
  }
  const long rss_start = serve.rss_kib();
  {  // Auth is on: no key, no trace.
    httplib::Client anonymous("127.0.0.1", serve.port());
    auto r = anonymous.Post("/v1/traces?wait=1", work[0].body, "application/json");
    const bool refused = r && r->status == 401;
    std::printf("request without API key: %s\n", refused ? "401 (as expected)" : "NOT refused");
    ok = ok && refused;
  }

  long rss_first = -1;
  const auto t0 = Clock::now();
  std::vector<Sample> samples =
      run_load(serve.port(), work, clients, requests, rss_after, [&] { rss_first = serve.rss_kib(); });
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const long rss_all = serve.rss_kib(), rss_peak = serve.peak_rss_kib();
  const int exit_status = serve.stop();
  const bool clean_exit = WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0;
  std::printf("server stopped by SIGTERM: %s\n", clean_exit ? "exit 0" : "NOT a clean exit");
  ok = ok && clean_exit;

  // Failures, then the values of every response.
  int failures = 0;
  std::vector<double> ms, run_ms;
  std::vector<const json*> first_outputs(work.size(), nullptr);
  std::vector<json> parsed(samples.size());
  int identical = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    ms.push_back(s.ms);
    if (s.status != 200) {
      ++failures;
      std::printf("FAILURE %zu (%s): status %d: %s\n", i, work[s.workload].name.c_str(), s.status, s.body.c_str());
      continue;
    }
    parsed[i] = json::parse(s.body, nullptr, false);
    const json& job = parsed[i];
    if (job.is_discarded() || job.value("status", "") != "done" || !job.contains("result")) {
      ++failures;
      std::printf("FAILURE %zu (%s): status 200 without a finished job: %s\n", i, work[s.workload].name.c_str(),
                  s.body.c_str());
      continue;
    }
    run_ms.push_back(job.value("run_ms", 0.0));
    const json& outputs = job["result"]["outputs"];
    const json*& first = first_outputs[s.workload];
    if (first == nullptr) {
      first = &outputs;
      const std::string problem = check_outputs(work[s.workload], outputs);
      std::printf("response %-10s == C++ API: %s\n", work[s.workload].name.c_str(),
                  problem.empty() ? "yes" : problem.c_str());
      ok = ok && problem.empty();
    } else if (outputs == *first) {
      ++identical;
    } else {
      ++failures;
      std::printf("FAILURE %zu (%s): saved values differ from the first response's\n", i,
                  work[s.workload].name.c_str());
    }
  }
  std::sort(ms.begin(), ms.end());
  std::sort(run_ms.begin(), run_ms.end());

  const double ratio = rss_first > 0 ? static_cast<double>(rss_all) / static_cast<double>(rss_first) : 0.0;
  const bool rss_ok = rss_first > 0 && rss_all > 0 && ratio <= kRssRatioTarget;
  const bool pass = ok && failures == 0 && rss_ok;
  std::printf("\n%d requests (%d clients x %d), %zu kinds alternating; %d identical to the first of their kind\n",
              total, clients, requests, work.size(), identical);
  std::printf("failures        %d\n", failures);
  std::printf("throughput      %.1f requests/s (%.2f s)\n", total / seconds, seconds);
  std::printf("latency ms      p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", percentile(ms, 50), percentile(ms, 90),
              percentile(ms, 99), ms.empty() ? 0.0 : ms.back());
  std::printf("server run ms   p50 %.1f  p90 %.1f  (one worker per model: the rest is queueing)\n",
              percentile(run_ms, 50), percentile(run_ms, 90));
  std::printf("server RSS MiB  start %.1f  after %d %.1f  after %d %.1f  peak %.1f\n", mib(rss_start), rss_after,
              mib(rss_first), total, mib(rss_all), mib(rss_peak));
  std::printf("server_load: %d failures, %.1f req/s, p50 %.1f ms, p99 %.1f ms, RSS ratio %.3f (target <= %.1f): %s\n",
              failures, total / seconds, percentile(ms, 50), percentile(ms, 99), ratio, kRssRatioTarget,
              pass ? "PASS" : "FAIL");
  if (pass)
    fs::remove_all(tmp);
  else
    std::printf("server log: %s\n", (tmp / "serve.log").c_str());
  return pass ? 0 : 1;
}
