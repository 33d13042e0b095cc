// The HTTP front end: routes, authentication, request validation, logging.

#include "nnsight/server/server.h"

#include <httplib.h>

#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "nnsight/base/error.h"
#include "nnsight/format/tensor_blob.h"
#include "nnsight/server/api_error.h"
#include "nnsight/server/results.h"
#include "nnsight/server/trace_request.h"

namespace nnsight::server {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

/// What the log line of the request being handled on this thread reports
/// (httplib runs pre-routing, the handler and the logger on one thread).
struct RequestInfo {
  Clock::time_point start;
  std::string key;
  std::string model;
  std::string job;
  std::string error;
};
thread_local RequestInfo current;

constexpr const char* kJson = "application/json";

void send(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), kJson);
}

void send_error(httplib::Response& res, const ApiError& e, const format::GraphDocument* doc = nullptr) {
  current.error = e.code();
  send(res, e.status(), {{"error", error_to_json(e.code(), e, doc)}});
}

const char* code_for_status(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    default: return status >= 500 ? "internal_error" : "bad_request";
  }
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

/// A decoding failure as the 4xx it answers with.
ApiError classify(const Error& e) {
  const std::string& m = e.message();
  if (contains(m, "is not valid JSON")) return ApiError(400, "invalid_json", e);
  if (contains(m, "limit") || contains(m, "nested deeper")) return ApiError(413, "limit_exceeded", e);
  if (contains(m, "is not allowed")) return ApiError(400, "invalid_name", e);
  if (e.where().rfind("graph JSON", 0) == 0) return ApiError(400, "invalid_graph", e);
  return ApiError(400, "invalid_request", e);
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  JobQueue queue;
  httplib::Server http;
  std::thread thread;
  std::mutex log_mutex;
  int port = -1;

  Impl(std::vector<std::shared_ptr<ServedModel>> models, ServerOptions o)
      : options(std::move(o)), queue(std::move(models), options.jobs) {
    const int threads = options.http_threads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    http.set_payload_max_length(options.max_body_bytes);
    // httplib writes a response's headers and body separately: with Nagle on,
    // the body waits for the client's (delayed, ~40 ms) ACK of the headers on
    // every keep-alive request.
    http.set_tcp_nodelay(true);
    http.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return authenticate(req, res); });
    http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      const char* code = code_for_status(res.status);
      current.error = code;
      std::string message = "the request failed with HTTP status " + std::to_string(res.status);
      if (res.status == 404) message = "no such endpoint";
      if (res.status == 405) message = "this endpoint does not take this method";
      if (res.status == 413) message = "the request body is larger than the server accepts";
      res.set_content(json{{"error", {{"code", code}, {"message", message}}}}.dump(), kJson);
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) { log(req, res); });

    http.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      json names = json::array();
      for (const auto& m : queue.models()) names.push_back(m->name);
      send(res, 200, {{"status", "ok"}, {"models", names}, {"pending_jobs", queue.pending()}});
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      json models = json::array();
      for (const auto& m : queue.models()) models.push_back(m->info);
      send(res, 200, {{"models", models}});
    });
    http.Post("/v1/traces", [this](const httplib::Request& req, httplib::Response& res) { post_trace(req, res); });
    http.Get(R"(/v1/jobs/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string id = req.matches[1];
      auto job = queue.find(id);
      if (!job || job->owner() != current.key)
        return send_error(res, ApiError(404, "unknown_job", "no job with this id", "GET /v1/jobs/{id}",
                                        "jobs are kept for a while after they finish; ids are those POST "
                                        "/v1/traces returned to the same API key"));
      current.job = job->id();
      current.model = job->model();
      send(res, 200, job->to_json());
    });
  }

  httplib::Server::HandlerResponse authenticate(const httplib::Request& req, httplib::Response& res) {
    current = RequestInfo{};
    current.start = Clock::now();
    if (!options.keys.enabled() || req.path == "/healthz") return httplib::Server::HandlerResponse::Unhandled;
    const std::string key = key_from_headers(req.get_header_value("Authorization"), req.get_header_value("X-API-Key"));
    if (key.empty()) {
      send_error(res, ApiError(401, "unauthorized", "the request has no API key", "headers",
                               "send `Authorization: Bearer KEY` or `X-API-Key: KEY`"));
    } else if (auto name = options.keys.check(key)) {
      current.key = *name;
      return httplib::Server::HandlerResponse::Unhandled;
    } else {
      send_error(res, ApiError(401, "unauthorized", "the API key is not valid", "headers",
                               "check the key with the server's operator"));
    }
    res.set_header("WWW-Authenticate", "Bearer");
    return httplib::Server::HandlerResponse::Handled;
  }

  /// The request of a POST: JSON body, or multipart parts "request" and "tensors" (safetensors).
  TraceRequest read_request(const httplib::Request& req) {
    std::string_view text = req.body;
    std::string request_part;
    format::TensorBlob tensors;
    bool has_tensors = false;
    if (req.is_multipart_form_data()) {
      if (!req.has_file("request"))
        throw ApiError(400, "invalid_request", "the multipart body has no \"request\" part", "request body",
                       "send the request JSON as part \"request\" and attached tensors as part \"tensors\"");
      request_part = req.get_file_value("request").content;  // get_file_value returns a copy
      text = request_part;
      if (req.has_file("tensors")) {
        has_tensors = true;
        try {
          tensors = format::TensorBlob::from_bytes(req.get_file_value("tensors").content, options.limits);
        } catch (const Error& e) {
          throw contains(e.message(), "limit") ? ApiError(413, "limit_exceeded", e)
                                               : ApiError(400, "invalid_tensors", e.with_context("part \"tensors\""));
        }
      }
    }
    json j;
    try {
      j = parse_request_json(text, options.limits);
    } catch (const Error& e) {
      throw classify(e);
    }
    try {
      TraceRequest request = parse_trace_request(j, options.limits, has_tensors ? &tensors : nullptr);
      if (request.model.empty()) {
        if (queue.models().size() != 1)
          throw ApiError(400, "invalid_request", "the request names no model", "request at model",
                         "add \"model\": NAME (GET /v1/models lists them)");
        request.model = queue.models().front()->name;
      }
      return request;
    } catch (const ApiError&) {
      throw;
    } catch (const Error& e) {
      throw classify(e);
    }
  }

  void post_trace(const httplib::Request& req, httplib::Response& res) {
    try {
      TraceRequest request = read_request(req);
      current.model = request.model;
      auto job = queue.submit(std::move(request), current.key);
      current.job = job->id();
      res.set_header("Location", "/v1/jobs/" + job->id());
      const bool wait = req.has_param("wait") && req.get_param_value("wait") != "0";
      if (!wait || !queue.wait(job, options.max_wait)) return send(res, 202, job->to_json());
      const json body = job->to_json();
      if (job->status() == JobStatus::Failed) {
        current.error = body["error"].value("code", "");
        return send(res, job->error_status(), body);
      }
      send(res, 200, body);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, "internal_error", e.what()));
    }
  }

  void log(const httplib::Request& req, const httplib::Response& res) {
    if (options.log == nullptr) return;
    json line = {{"time", utc_now()},
                 {"method", req.method},
                 {"path", req.path.substr(0, 200)},
                 {"status", res.status},
                 {"ms", std::chrono::duration<double, std::milli>(Clock::now() - current.start).count()},
                 {"remote", req.remote_addr},
                 {"bytes_in", req.body.size()},
                 {"bytes_out", res.body.size()}};
    if (!current.key.empty()) line["key"] = current.key;
    if (!current.model.empty()) line["model"] = current.model;
    if (!current.job.empty()) line["job"] = current.job;
    if (!current.error.empty()) line["error"] = current.error;
    const std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace);
    std::lock_guard lock(log_mutex);
    *options.log << text << "\n" << std::flush;
  }
};

Server::Server(std::vector<std::shared_ptr<ServedModel>> models, ServerOptions options) {
  if (models.empty()) throw Error("a server needs at least one model", "", "pass --model NAME=PATH");
  impl_ = std::make_unique<Impl>(std::move(models), std::move(options));
}

Server::~Server() { stop(); }

int Server::bind() {
  Impl& s = *impl_;
  if (s.options.port == 0) {
    s.port = s.http.bind_to_any_port(s.options.host);
  } else if (s.http.bind_to_port(s.options.host, s.options.port)) {
    s.port = s.options.port;
  } else {
    s.port = -1;
  }
  if (s.port <= 0)
    throw Error("cannot listen on " + s.options.host + ":" + std::to_string(s.options.port), "--host / --port",
                "choose a free port (0 picks one) and an address of this machine");
  return s.port;
}

void Server::serve() { impl_->http.listen_after_bind(); }

int Server::start() {
  const int p = bind();
  impl_->thread = std::thread([this] { serve(); });
  // stop() is a no-op until the accept loop runs: wait for it.
  while (!impl_->http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return p;
}

void Server::stop() {
  if (!impl_) return;
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int Server::port() const { return impl_->port; }

}  // namespace nnsight::server
