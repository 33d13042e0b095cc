#pragma once
/// @file
/// nnsight serve: an HTTP server that runs graph documents on hosted models
/// (docs/server.md has the protocol).
///
/// ```
///   POST /v1/traces        a trace request (JSON, or multipart "request" + "tensors");
///                          202 {"id", "status"} or, with ?wait=1, the finished job
///   GET  /v1/jobs/{id}     status, logs, result or error
///   GET  /v1/models        names, architectures, module trees
///   GET  /healthz          liveness (no API key needed)
/// ```
///
/// ```
///   Server server(models, {.port = 0, .keys = ApiKeys::load("keys.txt")});
///   int port = server.start();      // background thread; serve() blocks instead
///   ...
///   server.stop();
/// ```
///
/// Requests are validated (format::DecodeLimits, body size, names, keys)
/// before they are queued; each model runs one job at a time (JobQueue). Every
/// request writes one JSON log line.

#include <chrono>
#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "nnsight/format/decode_limits.h"
#include "nnsight/server/api_keys.h"
#include "nnsight/server/job_queue.h"
#include "nnsight/server/served_model.h"

namespace nnsight::server {

/// Where a Server listens and the limits it enforces.
struct ServerOptions {
  std::string host = "127.0.0.1";  ///< address to listen on
  int port = 8080;                 ///< 0: any free port (start() / bind() return it)
  /// Per request: nodes, tensor bytes, new tokens, nesting.
  format::DecodeLimits limits;
  std::size_t max_body_bytes = 256u << 20;  ///< larger request bodies are refused
  /// Wall time per job, queue sizes, retention.
  JobQueueOptions jobs;
  /// How long ?wait=1 blocks before answering 202 with the job still pending.
  std::chrono::milliseconds max_wait{120'000};
  ApiKeys keys;                 ///< who may use the server; none = everyone
  std::ostream* log = nullptr;  ///< one JSON line per request is written here; null: no log
  int http_threads = 8;         ///< threads answering HTTP requests (jobs run on the JobQueue's workers)
};

/// The HTTP server (see the file comment); nothing listens before bind() or start().
class Server {
 public:
  /// Hosts `models` (their jobs start running on their workers right away).
  Server(std::vector<std::shared_ptr<ServedModel>> models, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds the listening socket; returns the port. Throws Error when it cannot.
  int bind();
  /// Serves (after bind()) until stop() is called from another thread.
  void serve();
  /// bind(), then serve() on a background thread; returns the port.
  int start();
  /// Stops listening and waits for the background thread; running jobs are cancelled when the Server is destroyed.
  void stop();
  int port() const;  ///< the bound port; -1 before bind()

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nnsight::server
