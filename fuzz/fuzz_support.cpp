#include "fuzz_support.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "nnsight/runtime/loaders/mapped_file.h"
#include "nnsight/runtime/tokenizers/text_stream.h"
#include "nnsight/runtime/tokenizers/tokenizer.h"

namespace nnsight::fuzz {

namespace fs = std::filesystem;

void finding(const std::string& what) {
  std::fprintf(stderr, "\n==== nnsight fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

const std::string& scratch_dir() {
  // Never destroyed: the atexit cleanup below runs after static destructors registered later.
  static const std::string* const dir = [] {
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path d = base / ("nnsight-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return new std::string(d.string());
  }();
  static const bool cleanup_registered = [] {
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(*dir, ec);
    });
    return true;
  }();
  (void)cleanup_registered;
  return *dir;
}

std::string write_scratch(const std::string& name, std::string_view bytes) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) finding("cannot write scratch file " + path);
  return path;
}

void remove_scratch(const std::string& name) {
  std::error_code ec;
  fs::remove(scratch_dir() + "/" + name, ec);
}

std::string models_dir() {
  if (const char* env = std::getenv("NNSIGHT_MODELS_DIR"); env != nullptr && *env != '\0') return env;
  return NNSIGHT_MODELS_DIR;
}

void check_view(const at::Tensor& t, const MappedFile& file, const std::string& name) {
  if (!t.defined()) finding("tensor " + name + " is undefined");
  const auto* p = static_cast<const uint8_t*>(t.data_ptr());
  const std::size_t n = t.numel() * t.element_size();
  const uint8_t* b = file.data();
  const bool inside_start = b != nullptr && p >= b && p < b + file.size();
  if (inside_start && !file.contains(p, n))
    finding("tensor " + name + " (" + std::to_string(n) + " bytes) runs past the end of its file mapping");
  if (!t.is_contiguous()) return;  // transposed views: their storage was checked as the original
  touch_bytes(p, n);
}

void touch_bytes(const void* data, std::size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  unsigned sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += p[i];
  volatile unsigned sink = sum;
  (void)sink;
}

void exercise_tokenizer(const Tokenizer& tok) {
  static const std::vector<std::string> kTexts = {"",
                                                  "Hello world",
                                                  " Once upon a time,  there was\n\n a cat.",
                                                  "\xff\xfe\x80 broken utf-8 \xe2\x82",
                                                  "<|endoftext|>x<s></s>",
                                                  "h\xc3\xa9llo \xf0\x9f\x91\x8b 123 ...",
                                                  "    ",
                                                  "\t\r\n"};
  must_succeed("using a loaded tokenizer", [&] {
    const int64_t n = tok.vocab_size();
    if (n <= 0) finding("loaded tokenizer has vocab_size " + std::to_string(n));
    for (const auto& text : kTexts) {
      for (bool bos : {false, true}) {
        const std::vector<int64_t> ids = tok.encode(text, bos);
        for (int64_t id : ids)
          if (id < 0 || id >= n) finding("encode produced id " + std::to_string(id) + " outside the vocabulary");
        for (bool skip : {false, true}) {
          const std::string whole = tok.decode(ids, skip);
          TextStream stream(tok, skip);
          std::string streamed;
          for (int64_t id : ids) streamed += stream.push(id);
          streamed += stream.flush();
          if (streamed != whole) finding("streamed decode differs from decode");
        }
      }
    }
    for (int64_t id = 0; id < std::min<int64_t>(n, 2048); ++id) {
      (void)tok.token_bytes(id);
      (void)tok.token_string(id);
      (void)tok.is_special(id);
    }
    for (int64_t id : {tok.bos_id(), tok.eos_id(), tok.pad_id()})
      if (id < -1 || id >= n) finding("special token id " + std::to_string(id) + " outside the vocabulary");
  });
}

}  // namespace nnsight::fuzz
