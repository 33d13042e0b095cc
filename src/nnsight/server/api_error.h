#pragma once
// ApiError: an nnsight::Error with the HTTP status and machine-readable code
// the server answers with (docs/server.md, "Errors").

#include <string>
#include <utility>

#include "nnsight/base/error.h"

namespace nnsight::server {

class ApiError : public Error {
 public:
  ApiError(int status, std::string code, const Error& e)
      : Error(e.message(), e.where(), e.hint()), status_(status), code_(std::move(code)) {}
  ApiError(int status, std::string code, std::string what, std::string where = {}, std::string hint = {})
      : Error(std::move(what), std::move(where), std::move(hint)), status_(status), code_(std::move(code)) {}

  int status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

}  // namespace nnsight::server
