// Every error path of the GGUF reader (gguf.cpp) and of the GGUF model loader
// (gguf_model.cpp) that gguf_test.cpp does not already reach: each test builds a
// precisely malformed file and checks that the message names the file, the key or
// tensor, and the specific problem.
#include <gtest/gtest.h>

#include <limits>

#include "loaders/loader_test_util.h"
#include "nnsight/runtime/loaders/gguf.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

using test::expect_error;
using test::GgufBuilder;

constexpr uint32_t kU8 = 0, kU32 = 4, kF32 = 6, kBool = 7, kString = 8, kArray = 9, kU64 = 10;
constexpr uint32_t kGgmlF32 = 0, kGgmlQ8_0 = 8;

// Offset of the value of metadata key `key` in a GGUF file (the key is matched with its length prefix, so
// "llama.attention.head_count" does not match "llama.attention.head_count_kv").
std::size_t kv_value_offset(const std::vector<uint8_t>& bytes, const std::string& key) {
  return test::find_bytes(bytes, test::raw_string<uint64_t>(key.size()) + key) + 8 + key.size() + 4;
}

std::vector<uint8_t> stories_gguf() { return test::read_bytes(test::model_path("stories260K/stories260K.gguf")); }

TEST(GgufErrors, CountsLargerThanTheFileAreRejectedBeforeAllocating) {
  test::TempDir dir;
  GgufBuilder b;
  b.kv_str("general.architecture", "llama");
  auto bytes = b.bytes();
  test::patch<uint64_t>(bytes, 8, uint64_t{1} << 40);  // tensor count
  const std::string p = dir.file("tensors.gguf");
  test::write_bytes(p, bytes);
  expect_error([&] { GgufFile::open(p); }, {p, "tensor or metadata count exceeds the file size"});

  bytes = b.bytes();
  test::patch<uint64_t>(bytes, 16, std::numeric_limits<uint64_t>::max());  // metadata count
  test::write_bytes(p, bytes);
  expect_error([&] { GgufFile::open(p); }, {p, "tensor or metadata count exceeds the file size"});
}

TEST(GgufErrors, AlignmentMustBeAPowerOfTwoUint32) {
  test::TempDir dir;
  for (uint32_t a : {0u, 48u}) {
    GgufBuilder b;
    b.kv<uint32_t>("general.alignment", kU32, a);
    const std::string p = dir.write("align" + std::to_string(a) + ".gguf", b.bytes());
    expect_error([&] { GgufFile::open(p); }, {p, "general.alignment must be a power-of-two uint32"});
  }
  GgufBuilder b;
  b.kv<uint64_t>("general.alignment", kU64, 32);  // right value, wrong type
  const std::string p = dir.write("align64.gguf", b.bytes());
  expect_error([&] { GgufFile::open(p); }, {p, "general.alignment must be a power-of-two uint32"});
}

TEST(GgufErrors, TensorTableProblemsNameTheTensor) {
  test::TempDir dir;
  {
    GgufBuilder b;
    b.tensor("five.weight", {1, 1, 1, 1, 1}, kGgmlF32, std::vector<uint8_t>(4));
    const std::string p = dir.write("dims.gguf", b.bytes());
    expect_error([&] { GgufFile::open(p); }, {p, "tensor 'five.weight' has 5 dimensions (at most 4)"});
  }
  {
    GgufBuilder b;
    b.tensor("big.weight", {uint64_t{1} << 63}, kGgmlF32, {});
    const std::string p = dir.write("dim.gguf", b.bytes());
    expect_error([&] { GgufFile::open(p); }, {p, "tensor 'big.weight' has an impossible dimension"});
  }
  {
    GgufBuilder b;
    b.f32_tensor("twice.weight", {2});
    b.f32_tensor("twice.weight", {2});
    const std::string p = dir.write("twice.gguf", b.bytes());
    expect_error([&] { GgufFile::open(p); }, {p, "tensor 'twice.weight' appears twice"});
  }
  {
    GgufBuilder b;  // 2^62 x 2^62 elements: the element count itself overflows 64 bits
    b.tensor("huge.weight", {uint64_t{1} << 62, uint64_t{1} << 62}, kGgmlF32, {});
    const std::string p = dir.write("numel.gguf", b.bytes());
    expect_error([&] { GgufFile::open(p); }, {p, "tensor 'huge.weight' has too many elements"});
  }
  {
    // Zero elements, but PyTorch's shape [2^62, 2^62, 0] overflows before reaching the 0 (LibTorch would
    // throw a c10::Error when making the tensor).
    GgufBuilder b;
    b.tensor("empty.weight", {0, uint64_t{1} << 62, uint64_t{1} << 62}, kGgmlF32, {});
    const std::string p = dir.write("zeroinner.gguf", b.bytes());
    expect_error([&] { GgufFile::open(p); }, {p, "tensor 'empty.weight' has too many elements"});
  }
  {
    GgufBuilder b;  // the 0 outermost ([0, 2^62, 2^62]): an empty tensor
    b.tensor("empty.weight", {uint64_t{1} << 62, uint64_t{1} << 62, 0}, kGgmlF32, {});
    b.tensor("empty.q8", {32, uint64_t{1} << 62, 0}, kGgmlQ8_0, {});
    b.tensor("empty.f16", {uint64_t{1} << 62, 0}, 1, {});
    auto g = GgufFile::open(dir.write("zeroouter.gguf", b.bytes()));
    EXPECT_EQ(g->tensor("empty.weight").numel(), 0);
    EXPECT_EQ(g->tensor("empty.q8").numel(), 0);
    EXPECT_EQ(g->tensor("empty.f16").size(1), int64_t{1} << 62);
  }
  {
    GgufBuilder b;
    b.tensor("far.weight", {2}, kGgmlF32, std::vector<uint8_t>(8), uint64_t{1} << 40);
    const std::string p = dir.write("offset.gguf", b.bytes());
    expect_error([&] { GgufFile::open(p); }, {p, "tensor 'far.weight' starts beyond the end of the file"});
  }
  {
    GgufBuilder b;  // Q8_0 packs rows in blocks of 32 values
    b.tensor("q.weight", {31}, kGgmlQ8_0, std::vector<uint8_t>(34));
    const std::string p = dir.write("block.gguf", b.bytes());
    expect_error([&] { GgufFile::open(p); },
                 {p, "tensor 'q.weight' has a row length not divisible by the Q8_0 block size"});
  }
}

// An array value of `levels` nested arrays, the innermost holding one uint8.
std::vector<uint8_t> nested_array(int levels) {
  std::vector<uint8_t> v;
  for (int i = 0; i < levels; ++i) {
    GgufBuilder::put<uint32_t>(v, i + 1 < levels ? kArray : kU8);  // element type
    GgufBuilder::put<uint64_t>(v, 1);                              // length
  }
  v.push_back(7);
  return v;
}

TEST(GgufErrors, MetadataValueProblemsNameTheKey) {
  test::TempDir dir;
  {
    GgufBuilder b;  // three levels of arrays are read (inner ones skipped), four are refused
    b.kv_raw("ok.nested", kArray, nested_array(3));
    auto g = GgufFile::open(dir.write("nested3.gguf", b.bytes()));
    EXPECT_EQ(g->value("ok.nested").array_size, 1u);
    b.kv_raw("deep.nested", kArray, nested_array(4));
    const std::string p = dir.write("nested4.gguf", b.bytes());
    expect_error([&] { GgufFile::open(p); }, {p, "metadata 'deep.nested' nests arrays too deeply"});
  }
  {
    GgufBuilder b;
    std::vector<uint8_t> v;
    GgufBuilder::put<uint32_t>(v, kU8);
    GgufBuilder::put<uint64_t>(v, uint64_t{1} << 40);
    b.kv_raw("tokenizer.ggml.scores", kArray, v);
    const std::string p = dir.write("array.gguf", b.bytes());
    expect_error([&] { GgufFile::open(p); }, {p, "metadata array 'tokenizer.ggml.scores' is longer than the file"});
  }
  {
    GgufBuilder b;
    b.kv<uint32_t>("general.odd", 13, 0);
    const std::string p = dir.write("type.gguf", b.bytes());
    expect_error([&] { GgufFile::open(p); }, {p, "metadata 'general.odd' has unknown value type 13"});
  }
  {
    GgufBuilder b;  // an unknown element type is found when the first element is read
    std::vector<uint8_t> v;
    GgufBuilder::put<uint32_t>(v, 99);
    GgufBuilder::put<uint64_t>(v, 1);
    GgufBuilder::put<uint32_t>(v, 0);
    b.kv_raw("general.list", kArray, v);
    const std::string p = dir.write("elemtype.gguf", b.bytes());
    expect_error([&] { GgufFile::open(p); }, {p, "metadata 'general.list' has unknown value type 99"});
  }
  {
    GgufBuilder b;  // truncated inside a key's string value
    b.kv_str("general.name", "abcdef");
    auto bytes = b.bytes();
    bytes.resize(bytes.size() - 3);
    const std::string p = dir.file("cut.gguf");
    test::write_bytes(p, bytes);
    expect_error([&] { GgufFile::open(p); }, {p, "file ends while reading general.name at byte"});
  }
}

TEST(GgufErrors, TypedAccessorsNameKeyAndTypes) {
  test::TempDir dir;
  GgufBuilder b;
  b.kv_str("s", "x");
  b.kv<uint8_t>("flag", kBool, 1);
  b.kv<float>("f", kF32, 1.5f);
  std::vector<uint8_t> strings;
  GgufBuilder::put<uint32_t>(strings, kString);
  GgufBuilder::put<uint64_t>(strings, 1);
  GgufBuilder::put_str(strings, "a");
  b.kv_raw("names", kArray, strings);
  const std::string p = dir.write("typed.gguf", b.bytes());
  auto g = GgufFile::open(p);
  expect_error([&] { g->get_float("s"); }, {p, "metadata key 's' is string, expected a number"});
  expect_error([&] { g->get_bool("f"); }, {p, "metadata key 'f' is float32, expected a bool"});
  expect_error([&] { g->get_float_array("flag"); }, {p, "metadata key 'flag' is bool, expected an array of numbers"});
  expect_error([&] { g->get_float_array("names"); }, {p, "'names' is array of string, expected an array of numbers"});
  expect_error([&] { g->get_string("f", "default"); }, {p, "'f' is float32, expected a string"});
  expect_error([&] { g->get_float("absent"); }, {p, "metadata key 'absent' is missing"});
  expect_error([&] { g->tensor_info("absent.weight"); }, {p, "tensor 'absent.weight' is not in the file"});
}

// The model loader on patched copies of stories260K.gguf: each problem is reported with the file and the
// key or tensor concerned.
TEST(GgufErrors, ModelLoaderNamesMissingAndMistypedKeys) {
  REQUIRE_MODEL("stories260K/stories260K.gguf");
  test::TempDir dir;
  const std::string p = dir.file("m.gguf");
  {
    auto bytes = stories_gguf();
    bytes[kv_value_offset(bytes, "llama.block_count") - 5] = 'x';  // last letter of the key
    test::write_bytes(p, bytes);
    expect_error([&] { read_gguf_model(p); }, {p, "metadata key 'llama.block_count' is missing"});
  }
  {
    auto bytes = stories_gguf();
    test::patch<uint32_t>(bytes, kv_value_offset(bytes, "llama.context_length") - 4, kF32);
    test::write_bytes(p, bytes);
    expect_error([&] { read_gguf_model(p); },
                 {p, "metadata key 'llama.context_length' is float32, expected an integer"});
  }
  {
    auto bytes = stories_gguf();
    const std::size_t at = test::find_bytes(bytes, "token_embd.weight");
    bytes[at + 9] = 'x';  // "token_embx.weight": the vocabulary size comes from the embedding
    test::write_bytes(p, bytes);
    expect_error([&] { read_gguf_model(p); }, {p, "tensor 'token_embd.weight' is not in the file"});
  }
}

TEST(GgufErrors, ModelLoaderValidatesTheConfig) {
  REQUIRE_MODEL("stories260K/stories260K.gguf");
  test::TempDir dir;
  const std::string p = dir.file("m.gguf");
  auto bytes = stories_gguf();
  test::patch<uint32_t>(bytes, kv_value_offset(bytes, "llama.attention.head_count"), 0);
  test::write_bytes(p, bytes);
  expect_error([&] { read_gguf_model(p); }, {"model config from " + p, "num_heads must be positive but is 0"});

  bytes = stories_gguf();
  test::patch<uint32_t>(bytes, kv_value_offset(bytes, "tokenizer.ggml.bos_token_id"), 600);
  test::write_bytes(p, bytes);
  expect_error([&] { read_gguf_model(p); }, {p, "bos_token_id 600 is outside the vocabulary"});

  bytes = stories_gguf();
  test::patch<float>(bytes, kv_value_offset(bytes, "llama.attention.layer_norm_rms_epsilon"), -1.f);
  test::write_bytes(p, bytes);
  expect_error([&] { read_gguf_model(p); }, {p, "norm epsilon must be positive"});
}

TEST(GgufErrors, ModelLoaderRejectsUnknownTensorNames) {
  REQUIRE_MODEL("stories260K/stories260K.gguf");
  test::TempDir dir;
  const std::string p = dir.file("m.gguf");
  auto bytes = stories_gguf();
  bytes[test::find_bytes(bytes, "blk.0.attn_q.weight") + 11] = 'x';
  test::write_bytes(p, bytes);
  expect_error([&] { read_gguf_model(p); },
               {p, "tensor blk.0.attn_x.weight", "unexpected tensor 'blk.0.attn_x.weight' for architecture llama",
                "only plain llama, qwen2 and gpt2"});
}

// A minimal GPT-2 GGUF whose Conv1D weight `blk.0.attn_qkv.weight` has ggml dimensions `qkv_ne`.
GgufBuilder tiny_gpt2(const std::vector<uint64_t>& qkv_ne) {
  GgufBuilder b;
  b.kv_str("general.architecture", "gpt2");
  b.kv<uint32_t>("gpt2.embedding_length", kU32, 2);
  b.kv<uint32_t>("gpt2.block_count", kU32, 1);
  b.kv<uint32_t>("gpt2.attention.head_count", kU32, 1);
  b.kv<uint32_t>("gpt2.feed_forward_length", kU32, 8);
  b.kv<uint32_t>("gpt2.context_length", kU32, 4);
  b.kv<uint32_t>("tokenizer.ggml.bos_token_id", kU32, 0);
  b.kv<uint32_t>("tokenizer.ggml.eos_token_id", kU32, 0);
  b.f32_tensor("token_embd.weight", {2, 5});
  b.f32_tensor("blk.0.attn_qkv.weight", qkv_ne);
  return b;
}

TEST(GgufErrors, Conv1dWeightMustBe2D) {
  test::TempDir dir;
  ModelFiles ok = read_gguf_model(dir.write("ok.gguf", tiny_gpt2({2, 6}).bytes()));
  EXPECT_EQ(ok.weights.peek("transformer.h.0.attn.c_attn.weight").sizes(), at::IntArrayRef({2, 6}));
  const std::string p = dir.write("flat.gguf", tiny_gpt2({12}).bytes());
  expect_error([&] { read_gguf_model(p); }, {p, "tensor blk.0.attn_qkv.weight", "tensor is not 2-D"});
}

// Tensor names are matched by hand-written parsing: std::regex recursed once per character and a corrupt file's
// megabyte-long name overflowed the stack (a segmentation fault instead of an error).
TEST(GgufErrors, OddTensorNamesAreUnexpectedNotFatal) {
  test::TempDir dir;
  for (const std::string& name :
       {std::string(1 << 20, 'a') + ".weight", std::string("blk.0.") + std::string(1 << 20, '7'),
        std::string("blk..attn_qkv.weight"), std::string("blk.0.attn_qkv.scale"), std::string("blk.0.Attn_qkv.weight"),
        std::string(".weight"), std::string("blk.1x.attn_qkv.weight"), std::string("token_embd")}) {
    SCOPED_TRACE(name.substr(0, 40));
    GgufBuilder b = tiny_gpt2({2, 6});
    b.f32_tensor(name, {2});
    const std::string p = dir.write("odd.gguf", b.bytes());
    expect_error([&] { read_gguf_model(p); }, {p, "unexpected tensor '" + name.substr(0, 40)});
  }
  GgufBuilder b = tiny_gpt2({2, 6});
  b.f32_tensor("blk.0.attn_qkv.bias", {6});
  b.f32_tensor("output_norm.weight", {2});
  ModelFiles mf = read_gguf_model(dir.write("names.gguf", b.bytes()));
  EXPECT_TRUE(mf.weights.contains("transformer.h.0.attn.c_attn.bias"));
  EXPECT_TRUE(mf.weights.contains("transformer.ln_f.weight"));
}

}  // namespace
}  // namespace nnsight
