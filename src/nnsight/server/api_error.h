#pragma once
/// @file
/// ApiError: an nnsight::Error with the HTTP status and machine-readable code
/// the server answers with (docs/server.md, "Errors").

#include <string>
#include <utility>

#include "nnsight/base/error.h"

namespace nnsight::server {

/// An Error the server answers with HTTP `status` and the machine-readable `code`.
class ApiError : public Error {
 public:
  /// `e`'s message, location and hint with a status and code.
  ApiError(int status, std::string code, const Error& e)
      : Error(e.message(), e.where(), e.hint()), status_(status), code_(std::move(code)) {}
  /// A new error (arguments as for nnsight::Error) with a status and code.
  ApiError(int status, std::string code, std::string what, std::string where = {}, std::string hint = {})
      : Error(std::move(what), std::move(where), std::move(hint)), status_(status), code_(std::move(code)) {}

  int status() const { return status_; }             ///< HTTP status, e.g. 400
  const std::string& code() const { return code_; }  ///< e.g. "invalid_graph", "queue_full" (docs/server.md)

 private:
  int status_;
  std::string code_;
};

}  // namespace nnsight::server
