// Every error path of safetensors.cpp (reader, writer, sharded-checkpoint index) that
// safetensors_test.cpp does not already reach, each checked for the file, the tensor or
// index entry, and the specific problem.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>

#include <csignal>
#include <filesystem>

#include "loaders/loader_test_util.h"
#include "nnsight/runtime/loaders/safetensors.h"

namespace nnsight {
namespace {

using test::expect_error;
using test::TempDir;

// Writes a safetensors file with header `header` and `data_bytes` of data and returns its path.
std::string write_st(const TempDir& dir, const std::string& name, const std::string& header,
                     std::size_t data_bytes = 0) {
  return dir.write(name, test::safetensors_bytes(header, data_bytes));
}

TEST(SafetensorsErrors, MalformedHeaderEntriesNameFileAndTensor) {
  TempDir dir;
  struct Case {
    const char* name;
    std::string header;
    std::string problem;
  };
  const Case cases[] = {
      {"entry", R"({"w": 5})", "header entry is not a JSON object"},
      {"nodtype", R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", "header entry has no string 'dtype'"},
      {"numdtype", R"({"w": {"dtype": 7, "shape": [1], "data_offsets": [0, 4]}})",
       "header entry has no string 'dtype'"},
      {"shapestr", R"({"w": {"dtype": "F32", "shape": "1", "data_offsets": [0, 4]}})",
       "header entry has no 'shape' array"},
      {"fracdim", R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})",
       "shape has a non-integer or negative dimension"},
      {"negdim", R"({"w": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 4]}})",
       "shape has a non-integer or negative dimension"},
      {"strdim", R"({"w": {"dtype": "F32", "shape": ["4"], "data_offsets": [0, 4]}})",
       "shape has a non-integer or negative dimension"},
      // Larger than int64: nlohmann reads it as unsigned, which must not wrap to a valid size.
      {"u64dim", R"({"w": {"dtype": "F32", "shape": [18446744073709551615], "data_offsets": [0, 4]}})",
       "shape has a non-integer or negative dimension"},
      {"overflow", R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 4]}})",
       "shape overflows"},
      {"onesided", R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4]}})",
       "header entry has no 'data_offsets' pair"},
      {"fracoff", R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4.0]}})",
       "header entry has no 'data_offsets' pair"},
      {"reversed", R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})",
       "data_offsets [4, 0) lie outside the data section of 4 bytes"},
      // shape x dtype overflows 64 bits although the element count does not.
      {"bytesoverflow", R"({"w": {"dtype": "F64", "shape": [4611686018427387904], "data_offsets": [0, 4]}})",
       "data_offsets span 4 bytes but shape and dtype F64 need more than 2^64"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string p = write_st(dir, std::string(c.name) + ".safetensors", c.header, 4);
    expect_error([&] { SafetensorsFile::open(p); }, {"file " + p + ", tensor w", c.problem});
  }
}

TEST(SafetensorsErrors, DeeplyNestedHeaderIsRefusedWithoutRecursion) {
  TempDir dir;
  const std::string p = write_st(dir, "deep.safetensors", std::string(200000, '[') + std::string(200000, ']'));
  expect_error([&] { SafetensorsFile::open(p); }, {"file " + p, "header is not a JSON object"});
}

TEST(SafetensorsErrors, MetadataMustBeAnObjectOfStrings) {
  TempDir dir;
  const std::string p = write_st(dir, "meta.safetensors", R"({"__metadata__": ["format", "pt"]})");
  expect_error([&] { SafetensorsFile::open(p); }, {p, "__metadata__ is not a JSON object"});
  // Non-string metadata values are ignored rather than refused (other writers put numbers there).
  const std::string q = write_st(dir, "meta2.safetensors", R"({"__metadata__": {"format": "pt", "n": 3}})");
  auto st = SafetensorsFile::open(q);
  EXPECT_EQ(st.metadata().size(), 1u);
  EXPECT_EQ(st.metadata().at("format"), "pt");
}

TEST(SafetensorsErrors, ZeroSizedTensorsWithHugeDimensions) {
  TempDir dir;
  // The other dimensions multiply past 64 bits before the zero is reached: refused.
  const std::string p = write_st(
      dir, "zerolast.safetensors",
      R"({"z": {"dtype": "F32", "shape": [4611686018427387904, 4611686018427387904, 0], "data_offsets": [0, 0]}})");
  expect_error([&] { SafetensorsFile::open(p); }, {"file " + p + ", tensor z", "shape overflows"});
  // The zero comes first: zero elements, a valid (empty) tensor; LibTorch must not see an overflow either.
  const std::string header =
      R"({"z": {"dtype": "F32", "shape": [0, 4611686018427387904, 4611686018427387904], "data_offsets": [0, 0]}})";
  for (const std::string pad : {"", " ", "  ", "   "}) {
    // With each padding the data starts at another offset mod 4: the misaligned ones take the copying path,
    // which must not pass the empty tensor's null data pointer to memcpy (UBSan flagged it).
    SCOPED_TRACE((8 + header.size() + pad.size()) % 4);
    auto st = SafetensorsFile::open(write_st(dir, "zerofirst.safetensors", header + pad));
    at::Tensor z = st.tensor("z");
    EXPECT_EQ(z.numel(), 0);
    EXPECT_EQ(z.size(1), int64_t{1} << 62);
  }
}

TEST(SafetensorsErrors, AbsentTensorNamesTheFile) {
  TempDir dir;
  const std::string p =
      write_st(dir, "one.safetensors", R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 4);
  auto st = SafetensorsFile::open(p);
  expect_error([&] { st.entry("v"); }, {"file " + p, "tensor 'v' is not in the file"});
  expect_error([&] { st.tensor("v"); }, {"file " + p, "tensor 'v' is not in the file"});
}

TEST(SafetensorsErrors, WriterRejectsReservedNamesAndUndefinedTensors) {
  TempDir dir;
  const std::string p = dir.file("w.safetensors");
  expect_error(
      [&] {
        write_safetensors(p, {{"__metadata__", at::ones({1})}});
      },
      {"file " + p + ", tensor __metadata__", "duplicate or reserved tensor name '__metadata__'"});
  expect_error(
      [&] {
        write_safetensors(p, {{"a", at::ones({1})}, {"u", at::Tensor()}});
      },
      {"file " + p + ", tensor u", "tensor is undefined"});
  EXPECT_FALSE(std::filesystem::exists(p));
}

// Sets the process's file-size limit for its lifetime, with SIGXFSZ ignored, so that a write past the
// limit fails with EFBIG instead of killing the process.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    ok_ = setrlimit(RLIMIT_FSIZE, &lim) == 0;
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }
  bool ok() const { return ok_; }

 private:
  rlimit old_{};
  void (*old_handler_)(int) = nullptr;
  bool ok_ = false;
};

TEST(SafetensorsErrors, WriterReportsAFailedWriteAndLeavesNoFile) {
  TempDir dir;
  const std::string p = dir.file("full.safetensors");
  {
    FileSizeLimit limit(1 << 20);  // like a full disk: the 2 MB tensor cannot be written
    if (!limit.ok()) GTEST_SKIP() << "cannot lower RLIMIT_FSIZE";
    expect_error(
        [&] {
          write_safetensors(p, {{"big", at::zeros({1 << 19})}});
        },
        {"file " + p, "writing the output file failed", "free disk space"});
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));  // neither the file nor its temporary
}

TEST(SafetensorsErrors, WriterReportsAFailedRename) {
  TempDir dir;
  const std::string p = dir.file("taken.safetensors");
  std::filesystem::create_directory(p);  // a file cannot replace a directory
  expect_error(
      [&] {
        write_safetensors(p, {{"a", at::ones({2})}});
      },
      {"file " + p, "cannot move the written file into place", "must not be a directory"});
  std::size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) entries += e.path() == p ? 0 : 1;
  EXPECT_EQ(entries, 0u);  // the temporary was removed
}

TEST(SafetensorsErrors, IndexProblemsNameTheIndexAndEntry) {
  TempDir dir;
  const std::string idx = dir.file("model.safetensors.index.json");
  expect_error([&] { read_safetensors_index(idx); }, {"file " + idx, "cannot open sharded-checkpoint index"});

  test::write_bytes(dir.file("shard.safetensors"), test::safetensors_bytes("{}", 0));
  struct Case {
    const char* name;
    std::string json;
    std::vector<std::string> needles;
  };
  const Case cases[] = {
      {"notjson", "{\"weight_map\": ", {"index is not valid JSON"}},
      {"array", "[]", {"index has no 'weight_map' object"}},
      {"nomap", R"({"metadata": {}})", {"index has no 'weight_map' object"}},
      {"maplist", R"({"weight_map": ["shard.safetensors"]})", {"index has no 'weight_map' object"}},
      {"number", R"({"weight_map": {"w": 3}})", {"weight_map entry for 'w' is not a file name", "re-download"}},
      {"subdir",
       R"({"weight_map": {"w": "sub/shard.safetensors"}})",
       {"weight_map entry for 'w' names an unexpected shard path 'sub/shard.safetensors'", "next to the index"}},
      {"parent", R"({"weight_map": {"w": ".."}})", {"unexpected shard path '..'"}},
      {"self", R"({"weight_map": {"w": "."}})", {"unexpected shard path '.'"}},
      {"empty", R"({"weight_map": {"w": ""}})", {"unexpected shard path ''"}},
      {"absolute", R"({"weight_map": {"w": "/etc/passwd"}})", {"unexpected shard path '/etc/passwd'"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    test::write_text(idx, c.json);
    auto needles = c.needles;
    needles.push_back("file " + idx);
    expect_error([&] { read_safetensors_index(idx); }, needles);
  }
  std::filesystem::remove(idx);
  std::filesystem::create_directory(idx);  // opens as a stream, fails on the first read
  expect_error([&] { read_safetensors_index(idx); }, {"file " + idx, "cannot read sharded-checkpoint index"});
  std::filesystem::remove(idx);
  test::write_text(idx, R"({"weight_map": {"w": "shard.safetensors"}})");
  EXPECT_EQ(read_safetensors_index(idx).at("w"), dir.file("shard.safetensors"));
}

}  // namespace
}  // namespace nnsight
