// Writes the seed corpora of fuzz_graph_json and fuzz_tensor_blob from the
// sample graphs of tests/format (every node kind and every constant type):
// each graph as JSON (NUL + blob when it has large tensors), and each blob alone.
//
//   make_graph_seeds GRAPH_DIR BLOB_DIR

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "format/sample_graphs.h"

namespace {

void write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_graph_seeds GRAPH_DIR BLOB_DIR\n");
    return 2;
  }
  const std::filesystem::path graphs = argv[1], blobs = argv[2];
  std::filesystem::create_directories(graphs);
  std::filesystem::create_directories(blobs);
  int n = 0;
  for (auto& s : nnsight::format::test::sample_graphs()) {
    nnsight::format::TensorBlob blob;
    // Small inline limit: the larger constants go to the blob, so both paths have seeds.
    const nlohmann::json j = nnsight::format::to_json(s.doc, {.inline_tensor_bytes = 64, .sink = &blob});
    std::string bytes = j.dump();
    if (!blob.empty()) {
      const std::string b = blob.to_bytes();
      write(blobs / (s.name + ".safetensors"), b);
      bytes += '\0' + b;
    }
    write(graphs / (s.name + ".json"), bytes);
    ++n;
  }
  std::printf("make_graph_seeds: %d graphs\n", n);
  return 0;
}
