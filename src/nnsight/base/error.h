#pragma once
/// @file
/// nnsight::Error: the one exception type users see.
///
/// Every user-facing failure says three things: what went wrong, where (a file
/// and tensor, a module path, a graph node, the user's source line) and what to
/// do about it. Library code throws Error; front ends print what() and exit or
/// answer with a 4xx. LibTorch's c10::Error is caught at node/module boundaries
/// and re-thrown as Error with the location added.

#include <source_location>
#include <stdexcept>
#include <string>

namespace nnsight {

/// The exception for every user-facing failure: what went wrong, where, and a hint (see the file comment).
/// what() is the three parts formatted for printing.
class Error : public std::runtime_error {
 public:
  /// @param what  one sentence saying what went wrong
  /// @param where where it happened: "file model.safetensors, tensor wte.weight"
  /// @param hint  what the user can do about it (may be empty)
  Error(std::string what, std::string where = {}, std::string hint = {});

  const std::string& message() const { return what_; }  ///< what went wrong (without where and hint)
  const std::string& where() const { return where_; }   ///< where it happened (may be several lines)
  const std::string& hint() const { return hint_; }     ///< what to do about it; may be empty

  /// A copy with one more location line (outermost last), e.g. the user's
  /// source line added by the tracing API to an error raised in a node.
  Error with_context(const std::string& where_line) const;

 private:
  static std::string format(const std::string& what, const std::string& where, const std::string& hint);
  std::string what_;
  std::string where_;
  std::string hint_;
};

/// "file.cpp:42" for a std::source_location, with the path shortened to
/// the part after the last "/src/", "/examples/" or "/tests/" when present.
std::string format_location(const std::source_location& loc);

}  // namespace nnsight
