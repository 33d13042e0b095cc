#pragma once
/// @file
/// Connection: the client side of nnsight serve's HTTP API (docs/server.md):
/// model descriptions, and trace requests run to completion.

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "nnsight/format/tensor_blob.h"

namespace nnsight::remote {

/// Where a server is and how to talk to it.
struct Endpoint {
  std::string url;      ///< "http://127.0.0.1:8080"
  std::string api_key;  ///< sent as "Authorization: Bearer KEY" (none when empty)
  /// How long one request may take, including the job's queueing and run.
  std::chrono::seconds timeout{300};
};

/// Blocking HTTP requests to one server (see the file comment).
class Connection {
 public:
  /// Sends nothing yet; throws Error when `endpoint.url` is not a server address.
  explicit Connection(Endpoint endpoint);

  /// GET `path`; the answer's JSON. Throws Error (with the server's message,
  /// or what failed on the way) for anything but 200.
  nlohmann::json get(const std::string& path) const;
  /// POSTs a trace request (with `blob` as the attached tensors when it is not
  /// empty), waits for the job to end and returns its "result" object. A
  /// failed job throws Error with the server's message, location and hint.
  nlohmann::json run(const nlohmann::json& request, const format::TensorBlob& blob) const;

  /// The server this connection talks to.
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Endpoint endpoint_;
};

}  // namespace nnsight::remote
