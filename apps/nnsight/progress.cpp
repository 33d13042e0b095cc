// Progress: drawing with "\r" + erase-line, throttled, from the caller's
// thread (tokens) or a ticker thread (elapsed time).

#include "progress.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace nnsight::cli {
namespace {

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

std::ostream* Progress::terminal() { return isatty(STDERR_FILENO) ? &std::cerr : nullptr; }

bool Progress::stdout_is_terminal() { return isatty(STDOUT_FILENO) != 0; }

Progress::Progress(std::ostream* out, std::string label, int64_t total, Options options)
    : out_(out), label_(std::move(label)), total_(total), options_(options), start_(Clock::now()) {}

Progress::~Progress() { finish(); }

std::string Progress::status() const {
  const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  if (count_ == 0) return label_ + ": " + fixed(seconds, 1) + " s";
  std::string s = label_ + ": " + std::to_string(count_);
  if (total_ > 0) s += "/" + std::to_string(total_);
  s += " tokens";
  if (seconds > 0) s += ", " + fixed(static_cast<double>(count_) / seconds, 1) + " tokens/s";
  return s;
}

void Progress::draw_locked(bool force) {
  if (out_ == nullptr || !options_.live || finished_) return;
  const Clock::time_point now = Clock::now();
  if (!force && drawn_ && now - last_draw_ < options_.interval) return;
  *out_ << "\r\033[K" << status() << std::flush;
  drawn_ = true;
  last_draw_ = now;
}

void Progress::erase_locked() {
  if (out_ != nullptr && drawn_) *out_ << "\r\033[K" << std::flush;
  drawn_ = false;
}

void Progress::advance(int64_t n) {
  if (out_ == nullptr) return;
  std::lock_guard lock(mutex_);
  count_ += n;
  draw_locked(false);
}

void Progress::start_ticker(std::chrono::milliseconds delay) {
  if (out_ == nullptr || !options_.live || ticker_.joinable()) return;
  ticker_ = std::thread([this, delay] {
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, delay, [this] { return finished_; })) return;
    while (!finished_) {
      draw_locked(true);
      wake_.wait_for(lock, options_.interval * 2, [this] { return finished_; });
    }
  });
}

void Progress::without_status(const std::function<void()>& write) {
  std::lock_guard lock(mutex_);
  if (options_.erase_before_output) erase_locked();
  write();
}

void Progress::finish() {
  {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    erase_locked();
    if (out_ != nullptr && count_ > 0) {
      const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
      *out_ << label_ << ": " << count_ << " tokens in " << fixed(seconds, 2) << " s";
      if (seconds > 0) *out_ << ", " << fixed(static_cast<double>(count_) / seconds, 1) << " tokens/s";
      *out_ << "\n" << std::flush;
    }
  }
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

}  // namespace nnsight::cli
