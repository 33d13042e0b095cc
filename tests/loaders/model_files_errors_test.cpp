// Error paths of read_model_files / read_hf_directory (model_files.cpp), WeightStore
// (weight_store.cpp) and MappedFile (mapped_file.cpp) that the other loader tests do not
// already reach, each checked for the file, the tensor and the specific problem.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ATen/ops/ones.h>

#include <filesystem>

#include "loaders/loader_test_util.h"
#include "nnsight/runtime/loaders/mapped_file.h"
#include "nnsight/runtime/loaders/model_files.h"
#include "nnsight/runtime/loaders/safetensors.h"

namespace nnsight {
namespace {

using test::expect_error;
using test::TempDir;

// A tiny valid Llama config.json (vocab 8, width 4, 1 layer, 2 heads).
void write_llama_config(const TempDir& dir) {
  test::write_text(dir.file("config.json"), R"({"model_type": "llama", "vocab_size": 8, "hidden_size": 4,
      "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8})");
}

TEST(ModelFilesErrors, ATensorStoredUnderTwoNamesIsRefused) {
  TempDir dir;
  write_llama_config(dir);
  // "norm.weight" (a bare LlamaModel's name) normalises to "model.norm.weight".
  const std::string st = dir.file("model.safetensors");
  write_safetensors(st, {{"model.norm.weight", at::ones({4})}, {"norm.weight", at::ones({4})}});
  expect_error([&] { read_model_files(dir.path()); },
               {"file " + st + ", tensor norm.weight",
                "tensor 'model.norm.weight' appears twice (as 'norm.weight' and under another name)"});
}

TEST(ModelFilesErrors, AShardMissingATensorItsIndexListsIsNamed) {
  TempDir dir;
  write_llama_config(dir);
  write_safetensors(dir.file("part-1.safetensors"), {{"model.norm.weight", at::ones({4})}});
  test::write_text(dir.file("model.safetensors.index.json"),
                   R"({"weight_map": {"model.norm.weight": "part-1.safetensors",
                                      "model.embed_tokens.weight": "part-1.safetensors"}})");
  expect_error([&] { read_model_files(dir.path()); },
               {"file " + dir.file("part-1.safetensors") + " (from " + dir.file("model.safetensors.index.json") + ")",
                "the index lists tensor 'model.embed_tokens.weight' in this shard but the shard does not contain it"});
}

TEST(ModelFilesErrors, PickleOnlyDirectoriesGetAConversionHint) {
  TempDir dir;
  write_llama_config(dir);
  test::write_text(dir.file("pytorch_model.bin"), "not read");
  expect_error([&] { read_model_files(dir.path()); }, {"directory " + dir.path(), "no safetensors weights found",
                                                       "only PyTorch pickle weights", "safe_serialization=True"});
}

TEST(ModelFilesErrors, ABareSafetensorsFileNeedsItsDirectory) {
  TempDir dir;
  const std::string st = dir.file("model.safetensors");
  write_safetensors(st, {{"model.norm.weight", at::ones({4})}});
  expect_error([&] { read_model_files(st); },
               {"file " + st, "a bare .safetensors file has no model configuration", "directory"});
}

TEST(ModelFilesErrors, FormatErrorsPassThroughReadModelFiles) {
  TempDir dir;
  write_llama_config(dir);
  test::write_bytes(dir.file("model.safetensors"), test::safetensors_bytes(R"({"w": 1})", 0));
  expect_error([&] { read_model_files(dir.path()); },
               {"file " + dir.file("model.safetensors") + ", tensor w", "header entry is not a JSON object"});
  test::write_text(dir.file("bad.gguf"), "GGUF but nothing else is right");
  expect_error([&] { read_model_files(dir.file("bad.gguf")); }, {"file " + dir.file("bad.gguf"), "version"});
}

TEST(WeightStoreErrors, MissingAndMisshapenTensorsNameFileAndTensor) {
  WeightStore w;
  w.add("model.norm.weight", at::ones({4}), "/m/model.safetensors");
  w.add("lm_head.weight", at::ones({8, 4}), "/m/lm_head.safetensors");
  expect_error(
      [&] {
        w.take("model.embed_tokens.weight", {8, 4});
      },
      {"files /m/lm_head.safetensors, /m/model.safetensors",
       "tensor 'model.embed_tokens.weight' is missing from the checkpoint", "layer count"});
  expect_error([&] { w.take("model.norm.weight", {5}); },
               {"file /m/model.safetensors, tensor model.norm.weight",
                "tensor 'model.norm.weight' has shape [4] but the config implies [5]", "config.json"});
  expect_error(
      [&] {
        w.take_optional("lm_head.weight", {4, 8});
      },
      {"file /m/lm_head.safetensors, tensor lm_head.weight", "has shape [8, 4] but the config implies [4, 8]"});
  EXPECT_FALSE(w.take_optional("absent", {1}).defined());

  WeightStore empty;
  expect_error([&] { empty.take("x", {1}); }, {"no weight file", "tensor 'x' is missing"});
}

TEST(MappedFileErrors, OpenFailuresNameTheFile) {
  TempDir dir;
  expect_error([&] { MappedFile::open(dir.file("absent")); },
               {"file " + dir.file("absent"), "cannot open model file: No such file or directory", "check the path"});
  expect_error([&] { MappedFile::open(dir.path()); }, {"file " + dir.path(), "not a regular file"});
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  // Opening a FIFO for reading would block until a writer appears; the reader must refuse it instead.
  expect_error([&] { MappedFile::open(dir.file("fifo")); }, {"file " + dir.file("fifo"), "not a regular file"});
}

TEST(MappedFileErrors, UnmappableFilesNameTheFile) {
  // sysfs attributes are regular files of 4096 bytes that cannot be memory-mapped.
  for (const char* p :
       {"/sys/kernel/address_bits", "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/devices/system/cpu/online"}) {
    struct stat st {};
    if (::stat(p, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) continue;
    expect_error([&] { MappedFile::open(p); }, {std::string("file ") + p, "cannot memory-map model file"});
    return;
  }
  GTEST_SKIP() << "no sysfs attribute file to try";
}

}  // namespace
}  // namespace nnsight
