#pragma once
// A one-line progress indicator for the terminal: "generating: 12/64 tokens,
// 48.3 tokens/s" or "running graph: 3.4 s", redrawn in place on stderr and
// erased when done. Silent when stderr is not a terminal (pipes, files, CI),
// so scripted output never changes.
//
//   Progress progress(Progress::terminal(), "generating", 64);
//   generate(..., [&](int64_t, int64_t id) { progress.advance(); });
//   progress.finish();

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <utility>

namespace nnsight::cli {

class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    /// Redraw the line as it changes. Off when the command's own output goes
    /// to the same terminal (streamed text would be overwritten): then only
    /// finish()'s summary line is written.
    bool live = true;
    /// At most one redraw per interval.
    std::chrono::milliseconds interval{100};
    /// without_status() erases the line first: the caller's output goes to
    /// the same terminal (stdout is one).
    bool erase_before_output = true;
  };

  /// std::cerr when stderr is a terminal, else nullptr (silent).
  static std::ostream* terminal();
  /// True when stdout is a terminal (and so probably the same one as stderr).
  static bool stdout_is_terminal();

  /// `out` nullptr makes every call a no-op. `total` > 0 is the expected count.
  /// The second form sets erase_before_output from stdout_is_terminal().
  Progress(std::ostream* out, std::string label, int64_t total, Options options);
  Progress(std::ostream* out, std::string label, int64_t total = 0, bool live = true)
      : Progress(out, std::move(label), total, opts(live)) {}
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Counts n more tokens (redraws at most once per interval).
  void advance(int64_t n = 1);
  /// Shows the elapsed time from a background thread, first after `delay`
  /// (short runs show nothing), then every interval, until finish().
  void start_ticker(std::chrono::milliseconds delay = std::chrono::milliseconds(1000));
  /// Runs `write` (output to stdout) with the status line erased when stdout
  /// shares the terminal (Options::erase_before_output); it is redrawn later.
  void without_status(const std::function<void()>& write);
  /// Erases the line; when tokens were counted, writes a summary line
  /// ("generating: 64 tokens in 1.31 s, 48.9 tokens/s"). Idempotent.
  void finish();

  /// The status text as drawn ("generating: 3/10 tokens, 2.0 tokens/s").
  std::string status() const;

 private:
  static Options opts(bool live) {
    Options o;
    o.live = live;
    o.erase_before_output = stdout_is_terminal();
    return o;
  }
  void draw_locked(bool force);
  void erase_locked();

  std::ostream* out_;
  std::string label_;
  int64_t total_;
  Options options_;
  Clock::time_point start_;
  Clock::time_point last_draw_{};
  int64_t count_ = 0;
  bool drawn_ = false;
  bool finished_ = false;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::thread ticker_;
};

}  // namespace nnsight::cli
