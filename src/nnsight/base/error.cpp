#include "nnsight/base/error.h"

namespace nnsight {

Error::Error(std::string what, std::string where, std::string hint)
    : std::runtime_error(format(what, where, hint)),
      what_(std::move(what)),
      where_(std::move(where)),
      hint_(std::move(hint)) {}

std::string Error::format(const std::string& what, const std::string& where, const std::string& hint) {
  std::string out = what;
  if (!where.empty()) {
    // Each location line is indented under the message, compiler style.
    std::size_t start = 0;
    while (start <= where.size()) {
      std::size_t end = where.find('\n', start);
      if (end == std::string::npos) end = where.size();
      out += "\n  " + where.substr(start, end - start);
      start = end + 1;
    }
  }
  if (!hint.empty()) out += "\n  hint: " + hint;
  return out;
}

Error Error::with_context(const std::string& where_line) const {
  return Error(what_, where_.empty() ? where_line : where_ + "\n" + where_line, hint_);
}

std::string format_location(const std::source_location& loc) {
  std::string file = loc.file_name();
  for (const char* marker : {"/examples/", "/tests/", "/src/", "/apps/", "/bench/"}) {
    auto pos = file.rfind(marker);
    if (pos != std::string::npos) {
      file = file.substr(pos + 1);
      break;
    }
  }
  return file + ":" + std::to_string(loc.line());
}

}  // namespace nnsight
