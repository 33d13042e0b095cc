#include "nnsight/remote/connection.h"

#include <httplib.h>

#include <thread>

#include "nnsight/base/error.h"

namespace nnsight::remote {
namespace {

using json = nlohmann::json;

std::string where_of(const Endpoint& e, const std::string& path) { return "remote " + e.url + path; }

/// The server's {"error": {...}} as an Error (its "where" names the node and the client's line).
[[noreturn]] void throw_server_error(const Endpoint& e, const std::string& path, int status, const json& error) {
  const std::string message = error.value("message", std::string("request failed"));
  std::string where = where_of(e, path) + " (HTTP " + std::to_string(status) + ", " + error.value("code", "?") + ")";
  if (error.contains("where") && error["where"].is_string() && !error["where"].get<std::string>().empty())
    where = error["where"].get<std::string>() + "\n" + where;
  throw Error(message, where, error.value("hint", std::string()));
}

json parse_answer(const Endpoint& e, const std::string& path, const httplib::Result& r) {
  if (!r)
    throw Error("no answer from the server: " + httplib::to_string(r.error()), where_of(e, path),
                "check that `nnsight serve` runs at " + e.url + " and is reachable");
  json j = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    throw Error("the server's answer is not JSON (HTTP " + std::to_string(r->status) + ")", where_of(e, path),
                "check that " + e.url + " is an nnsight server");
  if (r->status >= 400) {
    if (j.is_object() && j.contains("error") && j["error"].is_object())
      throw_server_error(e, path, r->status, j["error"]);
    throw Error("the server answered HTTP " + std::to_string(r->status), where_of(e, path));
  }
  return j;
}

std::unique_ptr<httplib::Client> client_for(const Endpoint& e) {
  auto client = std::make_unique<httplib::Client>(e.url);
  if (!client->is_valid())
    throw Error("'" + e.url + "' is not a server address", "remote endpoint", "use e.g. http://127.0.0.1:8080");
  const auto seconds = static_cast<time_t>(e.timeout.count());
  client->set_connection_timeout(10, 0);
  client->set_read_timeout(seconds, 0);
  client->set_write_timeout(seconds, 0);
  if (!e.api_key.empty()) client->set_bearer_token_auth(e.api_key);
  return client;
}

}  // namespace

Connection::Connection(Endpoint endpoint) : endpoint_(std::move(endpoint)) { client_for(endpoint_); }

json Connection::get(const std::string& path) const {
  auto client = client_for(endpoint_);
  return parse_answer(endpoint_, path, client->Get(path));
}

json Connection::run(const json& request, const format::TensorBlob& blob) const {
  auto client = client_for(endpoint_);
  const std::string path = "/v1/traces";
  auto post = [&] {
    if (blob.empty()) return client->Post(path + "?wait=1", request.dump(), "application/json");
    const httplib::MultipartFormDataItems parts = {
        {"request", request.dump(), "", "application/json"},
        {"tensors", blob.to_bytes(), "tensors.safetensors", "application/octet-stream"}};
    return client->Post(path + "?wait=1", parts);
  };
  json job = parse_answer(endpoint_, path, post());
  // 202: still pending after the server's wait; poll the job until it ends.
  const auto deadline = std::chrono::steady_clock::now() + endpoint_.timeout;
  while (job.value("status", "") == "queued" || job.value("status", "") == "running") {
    if (std::chrono::steady_clock::now() > deadline)
      throw Error("the job did not finish within " + std::to_string(endpoint_.timeout.count()) + " s",
                  where_of(endpoint_, path), "raise Endpoint::timeout, or the server's --wall-time");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const std::string job_path = "/v1/jobs/" + job.value("id", std::string());
    job = parse_answer(endpoint_, job_path, client->Get(job_path));
  }
  if (job.value("status", "") == "failed" && job.contains("error") && job["error"].is_object())
    throw_server_error(endpoint_, path, 200, job["error"]);
  if (job.value("status", "") != "done" || !job.contains("result") || !job["result"].is_object())
    throw Error("the server's job answer has no result", where_of(endpoint_, path));
  return job["result"];
}

}  // namespace nnsight::remote
