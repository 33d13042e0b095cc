#include "nnsight/runtime/tokenizers/regex_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "nnsight/base/error.h"

namespace nnsight {

struct RegexSplitter::Code {
  pcre2_code* code = nullptr;
};

namespace {

/// Per-thread match state: match data for one (whole-match) pair and a JIT
/// stack big enough for long whitespace runs under `\s+(?!\S)`.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  MatchState() {
    if (jit_stack) pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~MatchState() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    if (jit_stack) pcre2_jit_stack_free(jit_stack);
  }
};

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

RegexSplitter::RegexSplitter(const std::string& pattern) : code_(std::make_unique<Code>()), pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  // MATCH_INVALID_UTF: invalid bytes in user text never match instead of
  // failing the whole match; split() then hands them over as gap pieces.
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
  if (!code_->code)
    throw Error("invalid pre-tokenizer regex: " + pcre2_message(error),
                "pattern " + pattern + " at offset " + std::to_string(offset));
  jit_ = pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE) == 0;
}

RegexSplitter::~RegexSplitter() { pcre2_code_free(code_->code); }

std::vector<std::string_view> RegexSplitter::split(std::string_view text) const {
  thread_local MatchState state;
  std::vector<std::string_view> pieces;
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t start = 0;
  while (start < text.size()) {
    int rc = pcre2_match(code_->code, subject, text.size(), start, 0, state.data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) {
      pieces.push_back(text.substr(start));
      break;
    }
    if (rc < 0)
      throw Error("pre-tokenizer regex failed: " + pcre2_message(rc),
                  "pattern " + pattern_ + ", text offset " + std::to_string(start),
                  "split very long inputs into smaller chunks");
    PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
    std::size_t begin = ovector[0], end = ovector[1];
    if (begin > start) pieces.push_back(text.substr(start, begin - start));
    if (end == begin) {
      // Empty match (not possible with the GPT-2 pattern): step one byte so the loop ends.
      end = begin + 1;
      pieces.push_back(text.substr(begin, 1));
    } else {
      pieces.push_back(text.substr(begin, end - begin));
    }
    start = end;
  }
  return pieces;
}

}  // namespace nnsight
