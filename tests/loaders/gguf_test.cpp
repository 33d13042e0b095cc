// GGUF reader: metadata of every type, tensor types (F32/F16/BF16/Q8_0),
// alignment, the real stories260K file, and corrupt or unsupported files.
#include "nnsight/runtime/loaders/gguf.h"

#include <ATen/ops/equal.h>
#include <gtest/gtest.h>

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "loaders/loader_test_util.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

using test::expect_error;

using test::GgufBuilder;

template <class T>
std::vector<uint8_t> raw(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

TEST(Gguf, MetadataOfEveryType) {
  test::TempDir dir;
  GgufBuilder b;
  b.kv<uint8_t>("u8", 0, 200);
  b.kv<int8_t>("i8", 1, -100);
  b.kv<uint16_t>("u16", 2, 60000);
  b.kv<int16_t>("i16", 3, -30000);
  b.kv<uint32_t>("u32", 4, 4000000000u);
  b.kv<int32_t>("i32", 5, -2000000000);
  b.kv<float>("f32", 6, 0.25f);
  b.kv<uint8_t>("flag", 7, 1);
  b.kv_str("name", "tiny");
  b.kv<uint64_t>("u64", 10, 1ull << 40);
  b.kv<int64_t>("i64", 11, -(1ll << 40));
  b.kv<double>("f64", 12, 1e-300);
  b.kv_str_array("tokens", {"a", "bc", ""});
  b.kv_array<float>("scores", 6, {1.5f, -2.f});
  b.kv_array<int32_t>("types", 5, {1, 2, 3});
  test::write_bytes(dir.file("m.gguf"), b.bytes());
  auto g = GgufFile::open(dir.file("m.gguf"));
  EXPECT_EQ(g->version(), 3u);
  EXPECT_EQ(g->get_int("u8"), 200);
  EXPECT_EQ(g->get_int("i8"), -100);
  EXPECT_EQ(g->get_int("u16"), 60000);
  EXPECT_EQ(g->get_int("i16"), -30000);
  EXPECT_EQ(g->get_int("u32"), 4000000000ll);
  EXPECT_EQ(g->get_int("i32"), -2000000000);
  EXPECT_EQ(g->get_int("u64"), 1ll << 40);
  EXPECT_EQ(g->get_int("i64"), -(1ll << 40));
  EXPECT_DOUBLE_EQ(g->get_float("f32"), 0.25);
  EXPECT_DOUBLE_EQ(g->get_float("f64"), 1e-300);
  EXPECT_DOUBLE_EQ(g->get_float("u8"), 200.0);
  EXPECT_TRUE(g->get_bool("flag"));
  EXPECT_EQ(g->get_string("name"), "tiny");
  EXPECT_EQ(g->get_string_array("tokens"), (std::vector<std::string>{"a", "bc", ""}));
  EXPECT_EQ(g->get_float_array("scores"), (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(g->get_int_array("types"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(g->get_int("missing", 7), 7);
  EXPECT_EQ(g->keys().size(), 15u);

  const std::string f = dir.file("m.gguf");
  expect_error([&] { g->get_int("nope"); }, {f, "'nope'", "missing"});
  expect_error([&] { g->get_int("name"); }, {f, "'name'", "string", "expected an integer"});
  expect_error([&] { g->get_string("u8"); }, {"'u8'", "uint8"});
  expect_error([&] { g->get_string_array("scores"); }, {"'scores'", "array of float32"});
  expect_error([&] { g->get_int_array("tokens"); }, {"'tokens'", "array of string"});
  expect_error([&] { g->get_int("name", 3); }, {"'name'"});  // a default does not hide a wrong type
}

TEST(Gguf, TensorTypesAndAlignment) {
  test::TempDir dir;
  GgufBuilder b;
  b.set_alignment(64);
  b.tensor("f32", {3, 2}, 0, raw<float>({0, 1, 2, 3, 4, 5}));
  std::vector<c10::Half> h = {c10::Half(1.5f), c10::Half(-2.f), c10::Half(0.125f)};
  b.tensor("f16", {3}, 1, raw(h));
  std::vector<c10::BFloat16> bf = {c10::BFloat16(3.f), c10::BFloat16(-0.5f)};
  b.tensor("bf16", {2}, 30, raw(bf));
  // Q8_0: two blocks of 32; block 0 scale 0.5, quants 0..31; block 1 scale -2, quants -16..15.
  std::vector<uint8_t> q8;
  for (int blk = 0; blk < 2; ++blk) {
    c10::Half scale(blk == 0 ? 0.5f : -2.f);
    q8.insert(q8.end(), reinterpret_cast<uint8_t*>(&scale.x), reinterpret_cast<uint8_t*>(&scale.x) + 2);
    for (int i = 0; i < 32; ++i) q8.push_back(static_cast<uint8_t>(static_cast<int8_t>(blk == 0 ? i : i - 16)));
  }
  b.tensor("q8", {32, 2}, 8, q8);
  b.tensor("i32", {2}, 26, raw<int32_t>({-5, 9}));
  test::write_bytes(dir.file("t.gguf"), b.bytes());
  auto g = GgufFile::open(dir.file("t.gguf"));
  EXPECT_EQ(g->alignment(), 64u);
  for (const auto& t : g->tensors()) EXPECT_EQ(t.offset % 64, 0u) << t.name;

  at::Tensor f = g->tensor("f32");
  EXPECT_EQ(f.sizes(), at::IntArrayRef({2, 3}));  // ggml ne = [3, 2] is PyTorch [2, 3]
  EXPECT_EQ(f[1][0].item<float>(), 3.f);
  EXPECT_TRUE(g->mapping()->contains(f.data_ptr(), f.nbytes()));

  at::Tensor f16 = g->tensor("f16");
  EXPECT_EQ(f16.scalar_type(), at::kFloat);
  EXPECT_EQ(f16[0].item<float>(), 1.5f);
  EXPECT_EQ(f16[2].item<float>(), 0.125f);
  at::Tensor b16 = g->tensor("bf16");
  EXPECT_EQ(b16.scalar_type(), at::kBFloat16);
  EXPECT_EQ(b16[1].item<float>(), -0.5f);
  at::Tensor q = g->tensor("q8");
  EXPECT_EQ(q.sizes(), at::IntArrayRef({2, 32}));
  EXPECT_EQ(q[0][31].item<float>(), 15.5f);
  EXPECT_EQ(q[1][0].item<float>(), 32.f);
  EXPECT_EQ(q[1][31].item<float>(), -30.f);
  EXPECT_EQ(g->tensor("i32")[0].item<int32_t>(), -5);
  expect_error([&] { g->tensor("zzz"); }, {dir.file("t.gguf"), "zzz"});
}

TEST(Gguf, Stories260KMetadata) {
  REQUIRE_MODEL("stories260K/stories260K.gguf");
  auto g = GgufFile::open(test::model_path("stories260K/stories260K.gguf"));
  EXPECT_EQ(g->get_string("general.architecture"), "llama");
  EXPECT_EQ(g->get_int("llama.block_count"), 5);
  EXPECT_EQ(g->get_string_array("tokenizer.ggml.tokens").size(), 512u);
  EXPECT_EQ(g->get_string_array("tokenizer.ggml.tokens")[1], "<s>");
  EXPECT_EQ(g->get_float_array("tokenizer.ggml.scores").size(), 512u);
  EXPECT_EQ(g->get_int_array("tokenizer.ggml.token_type")[0], 2);
  EXPECT_NEAR(g->get_float("llama.attention.layer_norm_rms_epsilon"), 1e-5, 1e-9);
  EXPECT_EQ(g->tensors().size(), 48u);
  EXPECT_EQ(g->tensor_info("blk.0.attn_k.weight").ne, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(g->tensor("blk.0.attn_k.weight").sizes(), at::IntArrayRef({32, 64}));
  EXPECT_TRUE(g->same_data("output.weight", "token_embd.weight"));  // so the model counts as tied
}

// Offset of the type field of tensor `name` in a GGUF file's bytes.
std::size_t type_field_offset(const std::vector<uint8_t>& bytes, const std::string& name) {
  std::size_t p = test::find_bytes(bytes, name) + name.size();
  uint32_t n_dims;
  std::memcpy(&n_dims, bytes.data() + p, 4);
  return p + 4 + 8 * n_dims;
}

TEST(Gguf, UnsupportedTensorTypeNamesFileTensorAndType) {
  REQUIRE_MODEL("stories260K/stories260K.gguf");
  test::TempDir dir;
  auto bytes = test::read_bytes(test::model_path("stories260K/stories260K.gguf"));
  const std::size_t off = type_field_offset(bytes, "blk.0.attn_q.weight");
  uint32_t type;
  std::memcpy(&type, bytes.data() + off, 4);
  ASSERT_EQ(type, 0u);  // F32 in the original
  type = 2;             // Q4_0: its data fits in the F32 tensor's space, so only reading fails
  std::memcpy(bytes.data() + off, &type, 4);
  const std::string p = dir.file("q4.gguf");
  test::write_bytes(p, bytes);
  auto g = GgufFile::open(p);  // listing still works
  EXPECT_EQ(ggml_type_name(g->tensor_info("blk.0.attn_q.weight").type), "Q4_0");
  expect_error([&] { g->tensor("blk.0.attn_q.weight"); }, {p, "blk.0.attn_q.weight", "Q4_0", "F16, F32 or Q8_0"});
  expect_error([&] { read_model_files(p); }, {p, "blk.0.attn_q.weight", "Q4_0"});

  type = 16;  // IQ2_XXS: block size unknown to us
  std::memcpy(bytes.data() + off, &type, 4);
  test::write_bytes(p, bytes);
  expect_error([&] { read_gguf_model(p); }, {p, "blk.0.attn_q.weight", "IQ2_XXS"});
}

TEST(Gguf, CorruptFilesNameTheFile) {
  REQUIRE_MODEL("stories260K/stories260K.gguf");
  test::TempDir dir;
  auto real = test::read_bytes(test::model_path("stories260K/stories260K.gguf"));
  auto check = [&](const std::string& name, const std::vector<uint8_t>& bytes, const std::string& needle) {
    const std::string p = dir.file(name);
    test::write_bytes(p, bytes);
    SCOPED_TRACE(name);
    expect_error([&] { read_gguf_model(p); }, {p, needle});
  };
  check("empty.gguf", {}, "too short");
  auto bad_magic = real;
  bad_magic[0] = 'X';
  check("magic.gguf", bad_magic, "bad magic");
  auto v1 = real;
  v1[4] = 1;
  check("v1.gguf", v1, "version 1");
  auto cut_meta = real;
  cut_meta.resize(5000);  // inside the tokenizer arrays
  check("cutmeta.gguf", cut_meta, "file ends while reading");
  auto cut_data = real;
  cut_data.resize(real.size() - 1000);
  check("cutdata.gguf", cut_data, "extends beyond the end of the file");
  auto arch = real;
  // The key is followed by its uint32 type and the uint64 length of the value string.
  const std::size_t ap = test::find_bytes(arch, "general.architecture") + 20 + 4 + 8;
  std::memcpy(arch.data() + ap, "xxxxx", 5);
  check("arch.gguf", arch, "unsupported GGUF architecture 'xxxxx'");
}

}  // namespace
}  // namespace nnsight
