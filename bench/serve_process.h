#pragma once
// The real `nnsight serve` binary as a child process on a loopback port, for
// benchmarks that measure the server from outside (server_load_bench): start
// it, learn its port from its "listening on" line, wait for /healthz, read its
// resident memory, stop it with SIGTERM.
//
//   ServeProcess serve(cli_path, {"--model", "stories=...", "--port", "0"}, "/tmp/serve.log");
//   serve.wait_ready(std::chrono::seconds(60));       // throws std::runtime_error with the log's tail
//   int port = serve.port();
//   long kib = serve.rss_kib();                       // VmRSS of /proc/<pid>/status

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace nnsight::bench {

class ServeProcess {
 public:
  /// Starts `cli serve <args...>` with stdout to /dev/null and stderr (its
  /// "listening on" line and one JSON line per request) to `log_path`.
  ServeProcess(const std::string& cli, const std::vector<std::string>& args, std::string log_path)
      : log_path_(std::move(log_path)) {
    // Everything the child needs is allocated before fork (the parent has
    // threads: between fork and exec the child may not allocate).
    std::vector<std::string> argv_s = {cli, "serve"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Child: only async-signal-safe calls until exec.
      const int err = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int null = open("/dev/null", O_RDWR);
      if (err < 0 || null < 0) _exit(126);
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~ServeProcess() { stop(); }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  pid_t pid() const { return pid_; }
  int port() const { return port_; }

  /// Waits until the log names the port and GET /healthz answers "ok".
  /// Throws std::runtime_error (with the log's tail) when the server exits or
  /// `timeout` passes first.
  void wait_ready(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("nnsight serve exited (status " + std::to_string(status) + "):\n" + log_tail());
      }
      if (port_ <= 0) port_ = port_from_log();
      if (port_ > 0) {
        httplib::Client client("127.0.0.1", port_);
        client.set_connection_timeout(1, 0);
        if (auto r = client.Get("/healthz"); r && r->status == 200) {
          const auto j = nlohmann::json::parse(r->body, nullptr, false);
          if (!j.is_discarded() && j.value("status", "") == "ok") return;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("nnsight serve did not become ready:\n" + log_tail());
  }

  /// Resident set size (VmRSS) in KiB, or -1 when unreadable.
  long rss_kib() const { return status_field_kib("VmRSS:"); }
  /// Peak resident set size (VmHWM) in KiB, or -1.
  long peak_rss_kib() const { return status_field_kib("VmHWM:"); }

  /// SIGTERM, then SIGKILL after 30 s; idempotent. Returns the exit status
  /// (as waitpid gives it), or -1 when already stopped.
  int stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 300; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  /// The last `lines` lines of the server's stderr.
  std::string log_tail(int lines = 20) const {
    std::ifstream in(log_path_);
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);) all.push_back(line);
    std::string out;
    for (std::size_t i = all.size() > static_cast<std::size_t>(lines) ? all.size() - lines : 0; i < all.size(); ++i)
      out += all[i] + "\n";
    return out;
  }

 private:
  int port_from_log() const {
    std::ifstream in(log_path_);
    const std::string marker = "listening on http://";
    for (std::string line; std::getline(in, line);) {
      const auto at = line.find(marker);
      if (at == std::string::npos) continue;
      const auto colon = line.rfind(':');
      if (colon == std::string::npos || colon < at + marker.size()) continue;
      return std::atoi(line.c_str() + colon + 1);
    }
    return -1;
  }

  long status_field_kib(const std::string& field) const {
    if (pid_ <= 0) return -1;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + field.size());
    return -1;
  }

  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = -1;
};

}  // namespace nnsight::bench
