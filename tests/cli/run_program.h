#pragma once
// Running a program from a CLI test: its exit status, stdout and stderr.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

namespace nnsight::test {

struct ProgramResult {
  int status = -1;  ///< exit status, -1 when killed by a signal
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

/// Runs `command` through the shell (stderr captured to a temporary file).
inline ProgramResult run_program(const std::string& command) {
  const std::string err_file = testing::TempDir() + "/nnsight_cli_stderr.txt";
  ProgramResult r;
  FILE* pipe = popen((command + " 2>" + err_file).c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe)) r.out += buf.data();
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::ifstream in(err_file);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

/// A shell-quoted argument.
inline std::string quoted(const std::string& s) { return "'" + s + "'"; }

}  // namespace nnsight::test
