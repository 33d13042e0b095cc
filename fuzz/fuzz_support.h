#pragma once
// Helpers shared by the libFuzzer targets (docs/fuzzing.md): the one accepted
// failure (nnsight::Error), per-process scratch files for loaders that take a
// path, and checks that a loaded tensor really lies inside its file mapping.

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "nnsight/base/error.h"

namespace nnsight {
class MappedFile;
class Tokenizer;
}  // namespace nnsight

namespace nnsight::fuzz {

/// Reports a finding (what libFuzzer should save as a crash) and aborts.
[[noreturn]] void finding(const std::string& what);

/// Runs `f`; nnsight::Error is the expected rejection of bad input, anything
/// else (std::exception or not) is a finding.
template <class F>
void only_errors(F&& f) {
  try {
    f();
  } catch (const nnsight::Error&) {
  } catch (const std::exception& e) {
    finding(std::string("unexpected exception (not nnsight::Error): ") + e.what());
  } catch (...) {
    finding("unexpected non-std exception");
  }
}

/// Runs `f`, which must not throw at all (checks on successfully loaded data).
template <class F>
void must_succeed(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    finding(std::string(what) + " threw: " + e.what());
  }
}

/// A per-process scratch folder (in /dev/shm when present), removed at exit.
const std::string& scratch_dir();

/// Writes `bytes` to scratch_dir()/name and returns the path.
std::string write_scratch(const std::string& name, std::string_view bytes);

/// Removes scratch_dir()/name if present.
void remove_scratch(const std::string& name);

/// The test models folder ($NNSIGHT_MODELS_DIR, else the configured default).
std::string models_dir();

/// The input as a string_view.
inline std::string_view bytes_of(const uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Checks that `t`'s bytes lie inside `file` when `t` views the mapping, and
/// reads every byte (so a bad view faults here, not later).
void check_view(const at::Tensor& t, const MappedFile& file, const std::string& name);

/// Reads every one of `n` bytes at `data`, so that a view past its memory faults here, not later.
void touch_bytes(const void* data, std::size_t n);

/// Encodes fixed texts, decodes them again (whole and streamed) and reads
/// every token's strings: a tokenizer that loaded must not fail on use.
void exercise_tokenizer(const Tokenizer& tok);

}  // namespace nnsight::fuzz
