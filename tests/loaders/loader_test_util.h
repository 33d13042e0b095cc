#pragma once
// Helpers for the loader tests: a self-deleting temp directory, raw file I/O and byte patching
// for building corrupted copies, builders for synthetic safetensors/GGUF files, and a matcher for
// nnsight::Error messages.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "nnsight/base/error.h"

namespace nnsight::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nnsight-loaders-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }
  /// Writes `bytes` to file(name) and returns that path.
  std::string write(const std::string& name, const std::vector<uint8_t>& bytes) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::string TempDir::write(const std::string& name, const std::vector<uint8_t>& bytes) const {
  const std::string p = file(name);
  write_bytes(p, bytes);
  return p;
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

/// Runs `fn`, expects an nnsight::Error whose full text contains every one of `needles`.
inline void expect_error(const std::function<void()>& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "expected nnsight::Error containing '" << (needles.empty() ? "" : needles[0]) << "'";
  } catch (const Error& e) {
    const std::string text = e.what();
    for (const auto& n : needles) EXPECT_NE(text.find(n), std::string::npos) << "missing '" << n << "' in: " << text;
  }
}

/// Offset of the first occurrence of `needle` in `bytes` (fails the test if absent).
inline std::size_t find_bytes(const std::vector<uint8_t>& bytes, const std::string& needle) {
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  EXPECT_NE(it, bytes.end()) << "'" << needle << "' not found";
  return static_cast<std::size_t>(it - bytes.begin());
}

/// Writes `value` over the bytes at `offset` of `bytes` (fails the test if it does not fit).
template <class T>
void patch(std::vector<uint8_t>& bytes, std::size_t offset, T value) {
  ASSERT_LE(offset + sizeof(T), bytes.size());
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

/// The raw little-endian bytes of `value` as a string (to build needles for find_bytes).
template <class T>
std::string raw_string(T value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
}

/// A safetensors file from a raw header string followed by `data_bytes` zero bytes.
inline std::vector<uint8_t> safetensors_bytes(const std::string& header, std::size_t data_bytes) {
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

/// Builds GGUF v3 files byte by byte (metadata, tensor table, aligned data), so that
/// tests can write both well-formed files and precisely malformed ones.
class GgufBuilder {
 public:
  template <class T>
  static void put(std::vector<uint8_t>& b, T v) {
    auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
  }
  static void put_str(std::vector<uint8_t>& b, const std::string& s) {
    put<uint64_t>(b, s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
  /// A scalar entry of GGUF value type `type` holding `v`.
  template <class T>
  void kv(const std::string& key, uint32_t type, T v) {
    std::vector<uint8_t> b;
    put<T>(b, v);
    kv_raw(key, type, b);
  }
  void kv_str(const std::string& key, const std::string& v) {
    std::vector<uint8_t> b;
    put_str(b, v);
    kv_raw(key, 8, b);
  }
  /// A string-array entry.
  void kv_str_array(const std::string& key, const std::vector<std::string>& v) {
    std::vector<uint8_t> b;
    put<uint32_t>(b, 8);
    put<uint64_t>(b, v.size());
    for (const auto& s : v) put_str(b, s);
    kv_raw(key, 9, b);
  }
  /// An array entry of GGUF element type `elem_type`.
  template <class T>
  void kv_array(const std::string& key, uint32_t elem_type, const std::vector<T>& v) {
    std::vector<uint8_t> b;
    put<uint32_t>(b, elem_type);
    put<uint64_t>(b, v.size());
    for (T x : v) put<T>(b, x);
    kv_raw(key, 9, b);
  }
  /// An entry whose value bytes (after the type) are given verbatim.
  void kv_raw(const std::string& key, uint32_t type, const std::vector<uint8_t>& value) {
    put_str(kv_, key);
    put<uint32_t>(kv_, type);
    kv_.insert(kv_.end(), value.begin(), value.end());
    ++n_kv_;
  }
  /// A tensor-table entry; the data is appended at the next aligned offset unless `offset` is given.
  void tensor(const std::string& name, const std::vector<uint64_t>& ne, uint32_t type, const std::vector<uint8_t>& data,
              std::optional<uint64_t> offset = std::nullopt) {
    put_str(info_, name);
    put<uint32_t>(info_, static_cast<uint32_t>(ne.size()));
    for (auto d : ne) put<uint64_t>(info_, d);
    put<uint32_t>(info_, type);
    while (data_.size() % alignment_) data_.push_back(0);
    put<uint64_t>(info_, offset.value_or(data_.size()));
    data_.insert(data_.end(), data.begin(), data.end());
    ++n_tensors_;
  }
  /// A float32 tensor of `n` zeros with ggml dimensions `ne`.
  void f32_tensor(const std::string& name, const std::vector<uint64_t>& ne) {
    uint64_t n = 1;
    for (auto d : ne) n *= d;
    tensor(name, ne, 0, std::vector<uint8_t>(n * 4, 0));
  }
  void set_alignment(uint32_t a) {
    alignment_ = a;
    kv<uint32_t>("general.alignment", 4, a);
  }
  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> b;
    put<uint32_t>(b, 0x46554747);
    put<uint32_t>(b, 3);
    put<uint64_t>(b, n_tensors_);
    put<uint64_t>(b, n_kv_);
    b.insert(b.end(), kv_.begin(), kv_.end());
    b.insert(b.end(), info_.begin(), info_.end());
    while (b.size() % alignment_) b.push_back(0);
    b.insert(b.end(), data_.begin(), data_.end());
    return b;
  }

 private:
  std::vector<uint8_t> kv_, info_, data_;
  uint64_t n_kv_ = 0, n_tensors_ = 0;
  uint32_t alignment_ = 32;
};

}  // namespace nnsight::test
