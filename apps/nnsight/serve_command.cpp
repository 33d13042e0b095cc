// `nnsight serve`: host models over HTTP for remote graph execution
// (docs/server.md).
#include <pthread.h>
#include <signal.h>
#include <CLI/CLI.hpp>

#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "commands.h"
#include "model_args.h"
#include "nnsight/base/backend.h"
#include "nnsight/base/error.h"
#include "nnsight/server/server.h"

namespace nnsight::cli {
namespace {

struct ServeArgs {
  std::vector<std::string> models;
  std::vector<std::string> tokenizers;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_keys;
  std::size_t max_nodes = 100'000;
  std::size_t max_tensor_bytes = 64u << 20;
  std::size_t max_body_bytes = 256u << 20;
  int64_t max_new_tokens = 1024;
  double wall_time = 60.0;
  std::size_t max_queued = 64;
  int http_threads = 8;
  int threads = 0;
};

void serve(const ServeArgs& args) {
  // SIGINT / SIGTERM are taken by one thread (below) that stops the server;
  // blocking them first makes every thread created later inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  init_backend(args.threads);
  std::map<std::string, std::string> tokenizers;
  for (const std::string& spec : args.tokenizers) {
    auto [name, path] = server::parse_model_spec(spec);
    tokenizers[name] = path;
  }
  std::vector<std::shared_ptr<server::ServedModel>> models;
  for (const std::string& spec : args.models) {
    auto [name, path] = server::parse_model_spec(spec);
    for (const auto& m : models)
      if (m->name == name) throw Error("model name '" + name + "' is given twice", "--model");
    auto tok = tokenizers.find(name);
    models.push_back(server::load_served_model(name, path, tok == tokenizers.end() ? "" : tok->second));
    if (tok != tokenizers.end()) tokenizers.erase(tok);
  }
  if (!tokenizers.empty())
    throw Error("--tokenizer names model '" + tokenizers.begin()->first + "', which no --model defines", "--tokenizer",
                "use the NAME of a --model NAME=PATH");

  server::ServerOptions options;
  options.host = args.host;
  options.port = args.port;
  options.limits.max_nodes = args.max_nodes;
  options.limits.max_tensor_bytes = args.max_tensor_bytes;
  options.limits.max_total_tensor_bytes = std::max(args.max_tensor_bytes, options.limits.max_total_tensor_bytes);
  options.limits.max_new_tokens = args.max_new_tokens;
  options.max_body_bytes = args.max_body_bytes;
  options.jobs.wall_time = std::chrono::milliseconds(static_cast<int64_t>(args.wall_time * 1000));
  options.jobs.max_queued = args.max_queued;
  options.max_wait = options.jobs.wall_time + std::chrono::seconds(60);
  options.http_threads = args.http_threads;
  options.log = &std::cerr;
  if (!args.api_keys.empty()) options.keys = server::ApiKeys::load(args.api_keys);

  server::Server server(std::move(models), std::move(options));
  const int port = server.bind();
  std::cerr << "nnsight serve: listening on http://" << args.host << ":" << port << "\n";
  if (args.api_keys.empty())
    std::cerr << "nnsight serve: warning: no --api-keys, every client may run graphs"
              << (args.host == "127.0.0.1" || args.host == "localhost" ? "" : " (and the address is not loopback)")
              << "\n";
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::cerr << "nnsight serve: stopping\n";
    server.stop();
  });
  server.serve();
  // serve() also returns when listening fails: wake the stopper so it can be joined.
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve models over HTTP: clients send graphs, get saved values back");
  cmd->add_option("--model,-m", args->models, "NAME=PATH of a model to host (repeatable)")->required();
  cmd->add_option("--tokenizer", args->tokenizers, "NAME=PATH: the tokenizer of model NAME (repeatable)");
  cmd->add_option("--host", args->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port,-p", args->port, "Port; 0 = any free port")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--api-keys", args->api_keys, "File of API keys (KEY or NAME KEY per line); none = no auth");
  cmd->add_option("--max-nodes", args->max_nodes, "Nodes per graph")->capture_default_str();
  cmd->add_option("--max-tensor-bytes", args->max_tensor_bytes, "Bytes of one tensor in a request")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", args->max_body_bytes, "Bytes of a request body")->capture_default_str();
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "New tokens of a traced generation")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--wall-time", args->wall_time, "Seconds a job may run")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 86400.0));
  cmd->add_option("--max-queued", args->max_queued, "Jobs waiting per model before 429")->capture_default_str();
  cmd->add_option("--http-threads", args->http_threads, "Connection threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  add_threads_option(*cmd, args->threads);
  cmd->callback([args] { serve(*args); });
}

}  // namespace nnsight::cli
