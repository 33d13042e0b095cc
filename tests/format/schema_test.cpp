// docs/graph-format.md and docs/graph-format.schema.json against the code:
// the documented example is what the recorder produces and decodes; every
// encoded sample graph validates against the JSON Schema (with Python's
// jsonschema, when installed), and malformed documents do not.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sample_graphs.h"

namespace nnsight::format::test {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// The source tree from the build (not __FILE__, which ccache may make relative with CCACHE_BASEDIR).
fs::path repo_root() { return fs::path(NNSIGHT_SOURCE_DIR); }

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The ```json blocks of the markdown file that are whole graph documents.
std::vector<json> documented_graphs() {
  const std::string md = read_file(repo_root() / "docs" / "graph-format.md");
  std::vector<json> out;
  std::size_t pos = 0;
  while ((pos = md.find("```json\n", pos)) != std::string::npos) {
    const std::size_t begin = pos + 8, end = md.find("```", begin);
    const std::string block = md.substr(begin, end - begin);
    if (block.find("\"nnsight-graph\"") != std::string::npos) out.push_back(json::parse(block));
    pos = end + 3;
  }
  return out;
}

json without_locations(json j) {
  for (auto& n : j["nodes"]) n.erase("loc");
  return j;
}

/// The documented example: activation patching across two invokes, plus a logit lens on the patched run.
GraphDocument patching_example() {
  GraphDocument doc;
  doc.graph = Graph::create();
  auto g = doc.graph;
  {
    TraceScope trace(g);
    Proxy clean;
    {
      BatchGroupScope invoke(*g, 0);
      clean = entry("model.layers.2.output")[0];
      clean[{Slice(), -1}].clone().save();
    }
    BatchGroupScope invoke(*g, 1);
    Proxy h = entry("model.layers.2.output")[0];
    h.set({Slice(), -1}, clean[{Slice(), -1}]);
    entry("lm_head.output").save();
    const int32_t normed = g->add_module_call("model.norm", {Value::ref(h.index())});
    Proxy(g, g->add_module_call("lm_head", {Value::ref(normed)})).softmax(-1).save();
  }
  doc.traces[0].invokes = {Value("The Eiffel Tower is in"), Value("The Colosseum is in")};
  return doc;
}

TEST(Docs, ExampleIsWhatTheRecorderWritesAndDecodes) {
  const std::vector<json> documented = documented_graphs();
  ASSERT_FALSE(documented.empty()) << "docs/graph-format.md has no example graph";
  const GraphDocument doc = patching_example();
  EXPECT_EQ(without_locations(documented.front()), without_locations(to_json(doc))) << to_json(doc).dump(2);
  for (const json& j : documented) {
    const GraphDocument back = document_from_json(j);
    EXPECT_EQ(to_json(back), j);  // documented examples are in canonical form
  }
  const GraphDocument back = document_from_json(documented.front());
  EXPECT_EQ(back.where(1), "examples/patching.cpp:9");  // the client's line, from "loc"
}

std::string python_with_jsonschema() {
  for (const char* py : {"/usr/bin/python3", "python3"})
    if (std::system((std::string(py) + " -c 'import jsonschema' > /dev/null 2>&1").c_str()) == 0) return py;
  return {};
}

TEST(Docs, EncodedGraphsValidateAgainstTheSchema) {
  const fs::path dir = fs::temp_directory_path() / ("nnsight_schema_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const json& j) { std::ofstream(dir / (name + ".json")) << j.dump(1); };
  for (Sample& s : sample_graphs()) {
    TensorBlob blob;
    EncodeOptions eo;
    eo.inline_tensor_bytes = 1024;
    eo.sink = &blob;
    write(s.name, to_json(s.doc, eo));
  }
  const std::vector<json> documented = documented_graphs();
  for (std::size_t k = 0; k < documented.size(); ++k) write("doc_example_" + std::to_string(k), documented[k]);
  // Documents the schema must reject (the decoder rejects them too).
  const json base = to_json(patching_example());
  std::vector<std::pair<std::string, json>> invalid;
  auto mutate = [&](const std::string& name, const char* pointer, json value) {
    json j = base;
    j[json::json_pointer(pointer)] = std::move(value);
    invalid.emplace_back(name, std::move(j));
  };
  mutate("unknown_kind", "/nodes/2/kind", "lambda");
  mutate("unknown_field", "/nodes/2/argz", json::array());
  mutate("negative_ref", "/nodes/2/args/0", json{{"ref", -1}});
  mutate("bad_dtype", "/nodes/2/args/1", json{{"tensor", {{"dtype", "complex64"}, {"shape", {1}}, {"data", {1}}}}});
  mutate("two_tags", "/nodes/2/args/1", json{{"ref", 1}, {"tuple", json::array()}});
  mutate("bad_format", "/format", "graph");
  mutate("missing_end", "/nodes/0", json{{"kind", "trace"}});
  mutate("bad_iteration", "/nodes/1/iteration", "all");
  for (const auto& [name, j] : invalid) {
    write("invalid_" + name, j);
    EXPECT_THROW(document_from_json(j), Error) << name;
  }
  const std::string py = python_with_jsonschema();
  if (py.empty()) {
    fs::remove_all(dir);
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true")
      FAIL() << "Python's jsonschema is missing (scripts/setup.sh installs python3-jsonschema)";
    GTEST_SKIP() << "Python's jsonschema is not installed: schema validation skipped (the decoder checks ran)";
  }
  const fs::path script = repo_root() / "tests" / "format" / "validate_schema.py";
  const fs::path schema = repo_root() / "docs" / "graph-format.schema.json";
  const fs::path log = dir / "validate.log";
  const std::string cmd =
      py + " '" + script.string() + "' '" + schema.string() + "' '" + dir.string() + "' > '" + log.string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  const std::string output = read_file(log);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_NE(output.find("0 wrong"), std::string::npos) << output;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nnsight::format::test
