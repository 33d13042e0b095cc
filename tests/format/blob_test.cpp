// Attached tensors: large constants leave the JSON for a safetensors blob
// (TensorSink / TensorSource), which round-trips as bytes and as a file and
// is parsed defensively.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "nnsight/format/value_json.h"
#include "nnsight/runtime/loaders/safetensors.h"
#include "sample_graphs.h"

namespace nnsight::format::test {
namespace {

using json = nlohmann::json;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Sample every_constant_sample() {
  for (Sample& s : sample_graphs())
    if (s.name == "every_constant") return std::move(s);
  throw Error("no every_constant sample");
}

TEST(Blob, LargeTensorsLeaveTheJsonAndComeBack) {
  Sample s = every_constant_sample();
  TensorBlob blob;
  EncodeOptions eo;
  eo.inline_tensor_bytes = 1024;
  eo.sink = &blob;
  const json j = to_json(s.doc, eo);
  // The 5000-float tensor is attached once although two nodes use it; small ones stay inline.
  ASSERT_EQ(blob.names(), std::vector<std::string>{"t0"});
  EXPECT_TRUE(contains(j.dump(), R"({"tensor":{"blob":"t0","dtype":"float32","shape":[50,100]}})"));
  EXPECT_TRUE(contains(j.dump(), R"("data":[0.0,1.0,2.0,3.0,4.0,5.0],"dtype":"float32","shape":[2,3])"));

  const TensorBlob received = TensorBlob::from_bytes(blob.to_bytes());
  DecodeOptions options;
  options.source = &received;
  const GraphDocument back = document_from_json(parse_graph_text(j.dump()), options);
  expect_same_graph(*s.doc.graph, *back.graph);
  TensorBlob again;
  eo.sink = &again;
  EXPECT_EQ(to_json(back, eo), j);
  EXPECT_EQ(again.to_bytes(), blob.to_bytes());
  // Without a sink everything is inline.
  EXPECT_FALSE(contains(to_json(*s.doc.graph).dump(), "\"blob\""));
}

TEST(Blob, FileIsSafetensors) {
  TensorBlob blob;
  blob.add("steer", at::arange(6, at::kFloat).reshape({2, 3}));
  blob.add("ids", at::arange(4, at::kLong));
  blob.add("half", at::ones({3}).to(at::kHalf));
  const auto path =
      (std::filesystem::temp_directory_path() / ("nnsight_blob_" + std::to_string(::getpid()) + ".safetensors"))
          .string();
  blob.save(path);
  SafetensorsFile file = SafetensorsFile::open(path);  // the loader's independent reader
  EXPECT_TRUE(same_tensor(file.tensor("steer"), blob.get("steer").value()));
  const TensorBlob loaded = TensorBlob::load(path);
  for (const auto& name : blob.names())
    EXPECT_TRUE(same_tensor(loaded.get(name).value(), blob.get(name).value())) << name;
  EXPECT_EQ(loaded.to_bytes().size(), blob.to_bytes().size());
  std::filesystem::remove(path);
  // Bytes written by to_bytes are the same format.
  const TensorBlob from_bytes = TensorBlob::from_bytes(blob.to_bytes());
  EXPECT_EQ(from_bytes.names(), blob.names());
  EXPECT_THROW(blob.add("ids", at::ones({1})), Error);
}

std::string blob_bytes(const std::string& header, std::size_t data_bytes = 0) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + std::string(data_bytes, '\0');
}

void expect_blob_error(const std::string& bytes, const std::string& part, const DecodeLimits& limits = {}) {
  try {
    TensorBlob::from_bytes(bytes, limits);
    ADD_FAILURE() << "expected an error containing " << part;
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), part)) << e.what();
    EXPECT_TRUE(contains(e.what(), "attached tensor blob")) << e.what();
  }
}

TEST(Blob, HostileBytesAreErrors) {
  expect_blob_error("abc", "too short");
  std::string huge(8, '\xff');
  expect_blob_error(huge + "{}", "header length");
  expect_blob_error(blob_bytes("{not json"), "not valid JSON");
  expect_blob_error(blob_bytes("[]"), "not a JSON object");
  expect_blob_error(blob_bytes(R"({"a": {"dtype": "F32"}})"), "needs dtype, shape and data_offsets");
  expect_blob_error(blob_bytes(R"({"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}})", 8),
                    "unsupported dtype");
  expect_blob_error(blob_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4),
                    "outside the data section");
  expect_blob_error(blob_bytes(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8), "need 12");
  expect_blob_error(blob_bytes(R"({"a": {"dtype": "F32", "shape": [-3], "data_offsets": [0, 8]}})", 8),
                    "invalid or absurd size");
  expect_blob_error(blob_bytes(R"({"a": {"dtype": "F32", "shape": [[[[[[1]]]]]], "data_offsets": [0, 4]}})", 4),
                    "nested too deeply");
  expect_blob_error(
      blob_bytes(R"({"a": {"dtype": "F32", "shape": [1000000, 1000000, 1000000], "data_offsets": [0, 4]}})", 4),
      "too large");
  DecodeLimits small;
  small.max_tensor_bytes = 4;
  expect_blob_error(blob_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 8),
                    "exceeds the limit", small);
  small.max_tensor_bytes = 8;
  small.max_total_tensor_bytes = 12;
  expect_blob_error(blob_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
                               16),
                    "exceed the limit", small);
  // Bool bytes other than 0 / 1 become valid bools.
  std::string bools = blob_bytes(R"({"b": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]}})");
  bools += std::string("\x00\x02\x01", 3);
  const at::Tensor b = TensorBlob::from_bytes(bools).get("b").value();
  EXPECT_EQ(static_cast<const uint8_t*>(b.data_ptr())[1], 1);
  EXPECT_TRUE(same_tensor(b.to(at::kLong), at::arange(3, at::kLong).clamp_max(1)));
  // A well-formed blob with metadata decodes.
  const TensorBlob ok = TensorBlob::from_bytes(
      blob_bytes(R"({"__metadata__": {"k": "v"}, "a": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}})", 8));
  EXPECT_EQ(ok.names(), std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace nnsight::format::test
