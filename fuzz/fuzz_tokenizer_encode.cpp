// Fuzz target: encode/decode of arbitrary bytes with the real tokenizers of
// ../shared/models (loaded once): GPT-2 byte-level BPE from tokenizer.json and
// from encoder.json + vocab.bpe, llama2.c tok512.bin (SentencePiece BPE by
// score) and the GGUF vocabularies.
//
// Input: a selector byte (tokenizer), a flags byte, then the text. Byte-level
// BPE is lossless: decode(encode(text)) == text when special tokens are kept.
// (SentencePiece is not: as in run.c, llama.cpp and Hugging Face, a space
// symbol missing from the vocabulary falls back to bytes and decodes as "▁".)
// Always: ids are in the vocabulary, streamed decoding equals decoding, and
// ids read from the text's bytes decode or are rejected with nnsight::Error.

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fuzz_support.h"
#include "nnsight/runtime/gguf_tokenizer.h"
#include "nnsight/runtime/loaders/gguf.h"
#include "nnsight/runtime/tokenizers/byte_level_bpe.h"
#include "nnsight/runtime/tokenizers/text_stream.h"
#include "nnsight/runtime/tokenizers/tokenizer_loader.h"

using namespace nnsight;

namespace {

std::vector<std::unique_ptr<Tokenizer>> load_all() {
  const std::string m = fuzz::models_dir();
  std::vector<std::unique_ptr<Tokenizer>> out;
  try {
    out.push_back(load_tokenizer(m + "/fake-gpt2-random/tokenizer.json"));
    out.push_back(load_tokenizer(m + "/gpt2-tokenizer/encoder.json"));
    out.push_back(load_tokenizer(m + "/stories260K/tok512.bin"));
    for (const char* gguf : {"/stories260K/stories260K.gguf", "/gpt2-tokenizer/ggml-vocab-gpt-2.gguf"}) {
      auto g = GgufFile::open(m + gguf);
      out.push_back(tokenizer_from_gguf(*g, m + gguf));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_tokenizer_encode: cannot load the tokenizers of %s: %s\n", m.c_str(), e.what());
    std::exit(1);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::unique_ptr<Tokenizer>> tokenizers = load_all();
  if (size < 2) return 0;
  const Tokenizer& tok = *tokenizers[data[0] % tokenizers.size()];
  const bool add_bos = (data[1] & 1) != 0, skip_special = (data[1] & 2) != 0;
  const std::string_view text = fuzz::bytes_of(data + 2, size - 2);

  fuzz::must_succeed("encode/decode", [&] {
    std::vector<int64_t> ids = tok.encode(text, add_bos);
    for (int64_t id : ids)
      if (id < 0 || id >= tok.vocab_size()) fuzz::finding("encode produced id " + std::to_string(id));
    if (dynamic_cast<const ByteLevelBpeTokenizer*>(&tok) != nullptr &&
        tok.decode(tok.encode(text, false), false) != text)
      fuzz::finding("decode(encode(text)) != text with " + tok.source());
    const std::string whole = tok.decode(ids, skip_special);
    TextStream stream(tok, skip_special);
    std::string streamed;
    for (int64_t id : ids) streamed += stream.push(id);
    if (streamed + stream.flush() != whole) fuzz::finding("streamed decode differs from decode");
  });

  // The text's bytes as token ids (2 bytes each, some past the vocabulary): decode or Error.
  std::vector<int64_t> ids;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2)
    ids.push_back((static_cast<uint8_t>(text[i]) << 8 | static_cast<uint8_t>(text[i + 1])) - 8);
  fuzz::only_errors([&] { (void)tok.decode(ids, skip_special); });
  return 0;
}
