// Safetensors reader/writer: real file, zero-copy views, round trips, numpy
// interoperability and every class of corrupt input.
#include "nnsight/runtime/loaders/safetensors.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "loaders/loader_test_util.h"
#include "nnsight/runtime/loaders/model_files.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

using test::expect_error;
using test::TempDir;

// A safetensors file from a raw header string and data bytes.
std::vector<uint8_t> make_file(const std::string& header, std::size_t data_bytes, uint8_t fill = 0) {
  std::vector<uint8_t> out(8 + header.size() + data_bytes, fill);
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

TEST(Safetensors, ReadsRealFileAsViewsIntoTheMapping) {
  REQUIRE_MODEL("stories260K-hf/model.safetensors");
  auto st = SafetensorsFile::open(test::model_path("stories260K-hf/model.safetensors"));
  EXPECT_EQ(st.names().size(), 47u);  // 5 layers x 9 + embedding + final norm
  EXPECT_EQ(st.names().front(), "model.embed_tokens.weight");
  EXPECT_EQ(st.metadata().at("format"), "pt");
  at::Tensor emb = st.tensor("model.embed_tokens.weight");
  EXPECT_EQ(emb.sizes(), at::IntArrayRef({512, 64}));
  EXPECT_EQ(emb.scalar_type(), at::kFloat);
  // No copy: the tensor's storage is the mapping.
  EXPECT_TRUE(st.mapping()->contains(emb.data_ptr(), emb.nbytes()));
  at::Tensor k = st.tensor("model.layers.2.self_attn.k_proj.weight");
  EXPECT_EQ(k.sizes(), at::IntArrayRef({32, 64}));
  EXPECT_EQ(static_cast<const uint8_t*>(k.data_ptr()) - st.mapping()->data(),
            static_cast<std::ptrdiff_t>(st.entry("model.layers.2.self_attn.k_proj.weight").begin));

  // Values: embedding rows equal llama2.c's reference embeddings for the prompt tokens.
  std::ifstream in(test::model_path("stories260K/reference.json"));
  auto ref = nlohmann::json::parse(in)["prompts"][0];
  for (std::size_t i = 0; i < 3; ++i) {
    int64_t tok = ref["prompt_token_ids"][i];
    auto expected = ref["positions"][i]["embedding"].get<std::vector<float>>();
    for (int j = 0; j < 64; ++j) EXPECT_FLOAT_EQ(emb[tok][j].item<float>(), expected[j]) << tok << "," << j;
  }
}

TEST(Safetensors, MappingOutlivesTheFileObject) {
  REQUIRE_MODEL("stories260K-hf/model.safetensors");
  at::Tensor norm;
  std::weak_ptr<const MappedFile> weak;
  {
    auto st = SafetensorsFile::open(test::model_path("stories260K-hf/model.safetensors"));
    norm = st.tensor("model.norm.weight");
    weak = st.mapping();
  }
  EXPECT_FALSE(weak.expired());  // the tensor keeps the mapping alive
  const at::Tensor original = norm.clone();
  norm.add_(1.0);  // copy-on-write: in-place writes are allowed and never reach the file
  EXPECT_TRUE(at::equal(norm, original + 1.0));
  norm = at::Tensor();
  EXPECT_TRUE(weak.expired());  // the last view released the mapping
  auto again = SafetensorsFile::open(test::model_path("stories260K-hf/model.safetensors"));
  EXPECT_TRUE(at::equal(again.tensor("model.norm.weight"), original));
}

TEST(Safetensors, WriterRoundTripsAllDtypesAndMetadata) {
  TempDir dir;
  std::vector<std::pair<std::string, at::Tensor>> ts = {
      {"f32", at::randn({3, 5})},
      {"f16", at::randn({4}).to(at::kHalf)},
      {"bf16", at::randn({2, 2}).to(at::kBFloat16)},
      {"i64", at::arange(7, at::kLong)},
      {"i32", at::arange(6, at::kInt).view({2, 3})},
      {"bool", at::arange(4, at::kLong).gt(1)},
      {"transposed", at::randn({3, 4}).t()},  // non-contiguous input is written contiguous
      {"scalar", at::randn({})},
      {"empty", at::randn({0, 3})},
  };
  const std::string path = dir.file("out.safetensors");
  write_safetensors(path, ts, {{"producer", "nnsight-test"}});
  auto st = SafetensorsFile::open(path);
  EXPECT_EQ(st.metadata().at("producer"), "nnsight-test");
  ASSERT_EQ(st.names().size(), ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    EXPECT_EQ(st.names()[i], ts[i].first);  // file order = given order
    at::Tensor got = st.tensor(ts[i].first);
    EXPECT_EQ(got.scalar_type(), ts[i].second.scalar_type()) << ts[i].first;
    EXPECT_TRUE(at::equal(got, ts[i].second)) << ts[i].first;
  }
  // The data section starts 8-byte aligned.
  EXPECT_EQ(st.entry("f32").begin % 8, 0u);
}

TEST(Safetensors, WriterOutputIsReadableByNumpy) {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no numpy";
  TempDir dir;
  const std::string path = dir.file("np.safetensors");
  write_safetensors(path, {{"a", at::arange(12, at::kFloat).view({3, 4}) * 0.5}, {"b", at::arange(3, at::kLong)}});
  // A safetensors parser written against the format spec, independent of ours.
  const std::string script =
      "import json,struct,sys,numpy as np\n"
      "d=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',d[:8])[0]; h=json.loads(d[8:8+n]); b=8+n\n"
      "m={'F32':np.float32,'I64':np.int64}\n"
      "def t(k):\n"
      "  e=h[k]; s,f=e['data_offsets']; return np.frombuffer(d[b+s:b+f],dtype=m[e['dtype']]).reshape(e['shape'])\n"
      "print(t('a')[2,3], t('a').shape, t('b').sum())\n";
  test::write_text(dir.file("check.py"), script);
  std::string cmd = "/usr/bin/python3 " + dir.file("check.py") + " " + path + " > " + dir.file("out.txt");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto out = test::read_bytes(dir.file("out.txt"));
  EXPECT_EQ(std::string(out.begin(), out.end()), "5.5 (3, 4) 3\n");
}

TEST(Safetensors, MisalignedDataIsCopiedCorrectly) {
  TempDir dir;
  // The data section starts 8-byte aligned; the int32 tensor starts 1 byte into it.
  std::string header = R"({"x":{"dtype":"I32","shape":[2],"data_offsets":[1,9]}})";
  while ((8 + header.size()) % 8 != 0) header += " ";
  auto bytes = make_file(header, 9);
  int32_t vals[2] = {123456, -7};
  std::memcpy(bytes.data() + 8 + header.size() + 1, vals, 8);
  test::write_bytes(dir.file("m.safetensors"), bytes);
  auto st = SafetensorsFile::open(dir.file("m.safetensors"));
  at::Tensor x = st.tensor("x");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x.data_ptr()) % 4, 0u);
  EXPECT_FALSE(st.mapping()->contains(x.data_ptr()));  // it is a copy
  EXPECT_EQ(x[0].item<int32_t>(), 123456);
  EXPECT_EQ(x[1].item<int32_t>(), -7);
}

TEST(Safetensors, CorruptFilesNameTheFileAndTensor) {
  TempDir dir;
  auto check = [&](const std::string& name, const std::vector<uint8_t>& bytes, std::vector<std::string> needles) {
    const std::string p = dir.file(name);
    test::write_bytes(p, bytes);
    needles.push_back(p);
    SCOPED_TRACE(name);
    expect_error([&] { SafetensorsFile::open(p); }, needles);
  };
  check("empty.safetensors", {}, {"too short"});
  check("short.safetensors", {1, 2, 3}, {"too short"});
  auto huge = make_file("{}", 0);
  huge[5] = 1;  // header length ~2^40
  check("hugeheader.safetensors", huge, {"exceeds the file size"});
  check("notjson.safetensors", make_file("{\"a\": [1, 2", 0), {"not valid JSON"});
  check("notobject.safetensors", make_file("[1, 2, 3]", 0), {"not a JSON object"});
  check("range.safetensors", make_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
        {"tensor w", "outside the data section"});
  check("inconsistent.safetensors", make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16),
        {"tensor w", "need 12"});
  check("dtype.safetensors", make_file(R"({"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})", 4),
        {"tensor w", "F8_E4M3", "supported dtypes"});
  check("noshape.safetensors", make_file(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4), {"tensor w", "shape"});
  check("negoffset.safetensors", make_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 4),
        {"tensor w", "data_offsets"});

  // A truncated copy of a real file.
  if (test::model_available("stories260K-hf/model.safetensors")) {
    auto real = test::read_bytes(test::model_path("stories260K-hf/model.safetensors"));
    real.resize(real.size() / 2);
    check("truncated.safetensors", real, {"outside the data section"});
  }
  expect_error([&] { SafetensorsFile::open(dir.file("does-not-exist.safetensors")); },
               {"cannot open", dir.file("does-not-exist.safetensors")});
  expect_error([&] { SafetensorsFile::open(dir.path()); }, {"not a regular file", dir.path()});
}

TEST(Safetensors, WriterRejectsBadInput) {
  TempDir dir;
  const std::string p = dir.file("bad.safetensors");
  expect_error([&] { write_safetensors(p, {{"a", at::randn({2})}, {"a", at::randn({2})}}); }, {"duplicate", p});
  expect_error([&] { write_safetensors(p, {{"c", at::randn({2}).to(at::kComplexFloat)}}); }, {"tensor c", "dtype"});
  expect_error(
      [&] {
        write_safetensors(dir.file("no/such/dir.safetensors"), {{"a", at::randn({2})}});
      },
      {"cannot create"});
  EXPECT_FALSE(std::filesystem::exists(p));
}

TEST(Safetensors, ShardedCheckpointLoadsLikeTheSingleFile) {
  REQUIRE_MODEL("stories260K-hf");
  TempDir dir;
  auto st = SafetensorsFile::open(test::model_path("stories260K-hf/model.safetensors"));
  std::vector<std::pair<std::string, at::Tensor>> shard[2];
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  auto names = st.names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    const int s = i < names.size() / 2 ? 0 : 1;
    shard[s].emplace_back(names[i], st.tensor(names[i]));
    index["weight_map"][names[i]] = "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
  }
  write_safetensors(dir.file("model-00001-of-00002.safetensors"), shard[0]);
  write_safetensors(dir.file("model-00002-of-00002.safetensors"), shard[1]);
  test::write_text(dir.file("model.safetensors.index.json"), index.dump());
  std::filesystem::copy_file(test::model_path("stories260K-hf/config.json"), dir.file("config.json"));

  ModelFiles mf = read_model_files(dir.path());
  EXPECT_EQ(mf.weights.size(), names.size());
  EXPECT_EQ(mf.weights.file_of("model.norm.weight"), dir.file("model-00002-of-00002.safetensors"));
  for (const auto& n : names) EXPECT_TRUE(at::equal(mf.weights.take(n, st.entry(n).shape), st.tensor(n))) << n;

  // A shard that is listed but missing.
  std::filesystem::remove(dir.file("model-00002-of-00002.safetensors"));
  expect_error([&] { read_model_files(dir.path()); },
               {"model-00002-of-00002.safetensors", "does not exist", "model.safetensors.index.json"});
}

}  // namespace
}  // namespace nnsight
