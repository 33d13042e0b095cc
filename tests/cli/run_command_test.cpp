// `nnsight run`: a graph JSON file run by the executable gives exactly the
// C++ API's values, in a safetensors file numpy can read and as JSON; errors
// go to stderr (with the client's line) and exit with status 1.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/run_program.h"
#include "nnsight/format/tensor_blob.h"
#include "nnsight/format/value_json.h"
#include "server/patching_fixture.h"

namespace nnsight {
namespace {

using json = nlohmann::json;

using Result = test::ProgramResult;

Result run(const std::string& command) { return test::run_program(command); }

std::string q(const std::string& s) { return test::quoted(s); }

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::string nnsight_run(const std::string& graph_path, const std::string& extra) {
  return std::string(NNSIGHT_CLI_PATH) + " run " + q(graph_path) + " --model " + q(test::model_path("stories260K-hf")) +
         " --tokenizer " + q(test::model_path("stories260K/tok512.bin")) + " " + extra;
}

TEST(CliRun, PatchingGraphEqualsTheCppApiExactly) {
  REQUIRE_STORIES();
  const test::PatchingReference ref = test::patching_reference(*test::stories());
  const json request = {{"graph", json::parse(test::patching_graph())}, {"outputs", {{"clean", 5}}}};
  const std::string graph = write_temp("patching_request.json", request.dump());
  const std::string out = testing::TempDir() + "/patching_out.safetensors";
  std::filesystem::remove(out);

  Result r = run(nnsight_run(graph, "--out " + q(out)));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("clean: Float [1, 64]"), std::string::npos) << r.out;
  const format::TensorBlob blob = format::TensorBlob::load(out);
  ASSERT_EQ(blob.size(), 3u);
  EXPECT_TRUE(at::equal(*blob.get("clean"), ref.clean));
  EXPECT_TRUE(at::equal(*blob.get("node_11"), ref.logits));
  EXPECT_TRUE(at::equal(*blob.get("node_15"), ref.lens));

  // --json: the same values, exactly (float32 written with 17 digits).
  r = run(nnsight_run(graph, "--json"));
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  format::ValueDecoder decoder(format::DecodeLimits{}, nullptr);
  EXPECT_TRUE(at::equal(decoder.decode(j["outputs"]["node_11"]["value"], format::JsonPath()).as_tensor(), ref.logits));
  EXPECT_EQ(j["outputs"]["clean"]["node"], 5);

  // numpy reads the file (standard safetensors layout) to the same numbers.
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  const std::string script = write_temp("read_safetensors.py", R"(import json, struct, sys
import numpy as np
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
t = header['node_11']
a, b = t['data_offsets']
x = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.float32).reshape(t['shape'])
print(json.dumps({'dtype': t['dtype'], 'shape': list(x.shape), 'sum': float(x.astype(np.float64).sum()),
                  'argmax': int(x[0, -1].argmax())}))
)");
  r = run("/usr/bin/python3 " + q(script) + " " + q(out));
  ASSERT_EQ(r.status, 0) << r.err;
  const json py = json::parse(r.out);
  EXPECT_EQ(py["dtype"], "F32");
  EXPECT_EQ(py["shape"].get<std::vector<int64_t>>(), ref.logits.sizes().vec());
  EXPECT_EQ(py["argmax"].get<int64_t>(), ref.logits[0][-1].argmax().item<int64_t>());
  const double sum = ref.logits.to(at::kDouble).sum().item<double>();  // summation order may differ in the last bits
  EXPECT_NEAR(py["sum"].get<double>(), sum, 1e-9 * std::abs(sum));
}

TEST(CliRun, ErrorsGoToStderrWithTheClientLine) {
  REQUIRE_STORIES();
  json g = json::parse(test::patching_graph());
  g["nodes"][2]["args"][1] = 3;  // out of range for the layer's output tuple
  Result r = run(nnsight_run(write_temp("bad_index.json", g.dump()), ""));
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("node 2 (getitem)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("patch.py:7"), std::string::npos) << r.err;

  r = run(nnsight_run(write_temp("not_json.json", "{\"format\": "), ""));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not valid JSON"), std::string::npos) << r.err;

  r = run(nnsight_run(testing::TempDir() + "/does_not_exist.json", ""));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot read the graph file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace nnsight
