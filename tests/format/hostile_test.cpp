// Decoding untrusted graphs: every malformed or hostile input is an
// nnsight::Error naming the JSON location and saying what to do; nothing
// crashes, recurses without bound or allocates absurd amounts.

#include <gtest/gtest.h>

#include "nnsight/format/value_json.h"
#include "sample_graphs.h"

namespace nnsight::format::test {
namespace {

using json = nlohmann::json;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// A valid graph: a trace (0) with an entry (1), an op (2) on it, a condition (3) with a save (4) in its body.
json valid() {
  return json::parse(R"({"format": "nnsight-graph", "version": 1, "nodes": [
    {"id": 0, "kind": "trace", "inputs": [], "invokes": ["hello"], "end": 5},
    {"id": 1, "kind": "entry", "key": "layer1.output", "iteration": 0, "batch_group": 0},
    {"id": 2, "kind": "op", "op": "add", "args": [{"ref": 1}, 1.5]},
    {"id": 3, "kind": "condition", "condition": true, "end": 5},
    {"id": 4, "kind": "save", "target": 2}
  ]})");
}

/// Expects decoding `j` to throw an Error whose text has every part of `parts`.
void expect_error(const json& j, std::initializer_list<std::string> parts, const DecodeOptions& options = {}) {
  try {
    document_from_json(j, options);
    ADD_FAILURE() << "expected an error for " << j.dump().substr(0, 300);
  } catch (const Error& e) {
    for (const auto& part : parts)
      EXPECT_TRUE(contains(e.what(), part)) << "missing '" << part << "' in:\n" << e.what();
  }
}

json with(const char* pointer, json value) {
  json j = valid();
  j[json::json_pointer(pointer)] = std::move(value);
  return j;
}

TEST(Hostile, TheValidBaseDecodes) {
  GraphDocument doc = document_from_json(valid());
  EXPECT_EQ(doc.graph->size(), 5);
  EXPECT_EQ(doc.trace(0).invokes.size(), 1u);
}

TEST(Hostile, TopLevelStructure) {
  expect_error(json::array(), {"expected an object", "top level"});
  json j = valid();
  j.erase("nodes");
  expect_error(j, {"missing field 'nodes'"});
  expect_error(with("/format", "other"), {"format is 'other'", "at format"});
  expect_error(with("/version", 2), {"version 2 is newer", "at version", "hint"});
  expect_error(with("/version", "1"), {"version is a string", "at version"});
  expect_error(with("/nodes", json::object()), {"nodes is an object", "at nodes"});
  expect_error(with("/extra", 1), {"unknown field 'extra'", "allowed fields: format, version, nodes"});
}

TEST(Hostile, NodeFields) {
  expect_error(with("/nodes/2", 7), {"a node is an integer", "at nodes[2]"});
  json j = valid();
  j["nodes"][2].erase("kind");
  expect_error(j, {"missing field 'kind'", "at nodes[2]"});
  expect_error(with("/nodes/2/kind", "lambda"),
               {"unknown node kind 'lambda'", "nodes[2].kind", "node kinds: op, entry"});
  expect_error(with("/nodes/2/kind", "apply"), {"cannot be decoded", "nodes[2].kind"});
  expect_error(with("/nodes/2/argz", json::array()),
               {"unknown field 'argz'", "nodes[2].argz", "allowed fields: op, args"});
  expect_error(with("/nodes/2/id", 3), {"id 3 is not the node's position 2", "nodes[2].id"});
  expect_error(with("/nodes/2/loc", json{{"file", "a.py"}}), {"missing field 'line'", "nodes[2].loc"});
  expect_error(with("/nodes/2/loc", json{{"file", "a.py"}, {"line", -1}}), {"out of range", "nodes[2].loc.line"});
}

TEST(Hostile, Ops) {
  expect_error(with("/nodes/2/op", "ad"), {"unknown op 'ad'", "nodes[2].op", "did you mean: add"});
  expect_error(with("/nodes/2/op", "system"), {"unknown op 'system'", "nodes[2].op", "ops.h"});
  expect_error(with("/nodes/2/args", json::array({json{{"ref", 1}}})),
               {"op 'add' takes 2 positional argument(s), got 1", "nodes[2].args"});
  EXPECT_NO_THROW(document_from_json(with("/nodes/2/op", "getitem")));
  expect_error(with("/nodes/2/kwargs", json::parse(R"([["dim", 1], ["dim", 2]])")),
               {"kwarg 'dim' appears twice", "nodes[2].kwargs[1]"});
  expect_error(with("/nodes/2/kwargs", json::parse(R"({"dim": 1})")), {"expected an array of [name, value] pairs"});
}

TEST(Hostile, References) {
  expect_error(with("/nodes/2/args/0", json{{"ref", 2}}),
               {"node 2 refers to itself", "nodes[2].args[0].ref", "cycles"});
  expect_error(with("/nodes/2/args/0", json{{"ref", 4}}),
               {"node 2 refers to node 4, which comes after it", "nodes[2].args[0]"});
  expect_error(with("/nodes/2/args/1", json{{"ref", 99}}),
               {"does not exist (the graph has 5 nodes)", "nodes[2].args[1]"});
  expect_error(with("/nodes/2/args/1", json{{"ref", -1}}), {"node -1", "nodes[2].args[1]"});
  expect_error(with("/nodes/2/args/1", json{{"ref", 1.0}}), {"a node reference is a float", "nodes[2].args[1].ref"});
  expect_error(with("/nodes/2/args/1", json{{"ref", 0}}),
               {"refers to node 0, the context it is in", "nodes[2].args[1]"});
  expect_error(with("/nodes/4/target", 3), {"the context it is in", "nodes[4].target"});
  expect_error(with("/nodes/4/target", "2"), {"a node reference is a string", "nodes[4].target"});
  expect_error(with("/nodes/2/args/1", json{{"ref", 1}, {"tuple", json::array()}}),
               {"exactly one", "nodes[2].args[1]"});
  json j = valid();
  j["nodes"][0]["invokes"] = json::array({json{{"ref", 1}}});
  expect_error(j, {"a node reference is not allowed here", "nodes[0].invokes[0].ref"});
}

TEST(Hostile, Contexts) {
  expect_error(with("/nodes/3/end", 9), {"ends at 9, outside [4, 5]", "nodes[3].end", "hint"});
  expect_error(with("/nodes/3/end", 3), {"outside [4, 5]", "nodes[3].end"});
  expect_error(with("/nodes/0/end", 4), {"nodes[3].end", "outside [4, 4]"});
  expect_error(with("/nodes/3/end", "5"), {"end is a string", "nodes[3].end"});
  json j = valid();
  j["nodes"][3].erase("condition");
  expect_error(j, {"needs 'condition'", "nodes[3]"});
  expect_error(with("/nodes/3", json{{"kind", "iterator"}, {"collection", json::array({1, 2})}, {"end", 5}}),
               {"must be its variable", "nodes[4].kind"});
  expect_error(with("/nodes/4", json{{"kind", "variable"}}), {"must directly follow its iterator", "nodes[4].kind"});
  expect_error(with("/nodes/3", json{{"kind", "trace"}, {"end", 5}}),
               {"a trace inside another trace", "nodes[3].kind"});
  expect_error(with("/nodes/0/inputs", json::array({1})), {"either one input or a list of invokes", "nodes[0].inputs"});
  // An else must continue the condition closed right before it, at its level.
  json chain = json::parse(R"({"format": "nnsight-graph", "version": 1, "nodes": [
    {"kind": "condition", "condition": true, "end": 2},
    {"kind": "op", "op": "print", "args": ["if"]},
    {"kind": "condition", "else_of": 0, "end": 4},
    {"kind": "op", "op": "print", "args": ["else"]},
    {"kind": "condition", "else_of": 0, "end": 5}
  ]})");
  expect_error(chain, {"node 0 is not the condition that closed right before", "nodes[4].else_of"});
  chain["nodes"][4]["else_of"] = 2;
  EXPECT_NO_THROW(document_from_json(chain));
  chain["nodes"][2]["else_of"] = 1;
  expect_error(chain, {"node 1 is not the condition", "nodes[2].else_of"});
}

TEST(Hostile, ContextNestingIsLimited) {
  json nodes = json::array();
  const int depth = 100;
  for (int k = 0; k < depth; ++k) nodes.push_back(json{{"kind", "condition"}, {"condition", true}, {"end", depth}});
  json j = {{"format", "nnsight-graph"}, {"version", 1}, {"nodes", nodes}};
  expect_error(j, {"nested deeper than 64 levels", "nodes[64]"});
  DecodeOptions lenient;
  lenient.limits.max_context_depth = 200;
  EXPECT_NO_THROW(document_from_json(j, lenient));
}

TEST(Hostile, EntriesAndSwaps) {
  expect_error(with("/nodes/1/key", "layer1.outptu"), {"not a module value key", "nodes[1].key"});
  expect_error(with("/nodes/1/key", "../../etc.output"), {"not a module value key", "nodes[1].key"});
  expect_error(with("/nodes/1/iteration", -1), {"iteration -1 is out of range", "nodes[1].iteration"});
  expect_error(with("/nodes/1/iteration", json::array()), {"an iteration list has 0 calls", "nodes[1].iteration"});
  expect_error(with("/nodes/1/iteration", json::parse(R"({"slice": [0, 4, 0]})")),
               {"needs a positive step", "nodes[1].iteration"});
  expect_error(with("/nodes/1/iteration", "all"), {"iteration is a string", "nodes[1].iteration"});
  expect_error(with("/nodes/1/batch_group", -2), {"batch_group -2 is out of range", "nodes[1].batch_group"});
  json outside = valid();
  outside["nodes"][0]["end"] = 1;
  outside["nodes"][3]["end"] = 5;
  expect_error(outside, {"an entry (module value) outside a trace", "nodes[1].kind"});
  expect_error(with("/nodes/4", json{{"kind", "swap"}, {"target", 2}, {"value", 0}}),
               {"swap target node 2 is not an entry or a grad", "nodes[4].target"});
  EXPECT_NO_THROW(document_from_json(with("/nodes/4", json{{"kind", "swap"}, {"target", 1}, {"value", 0}})));
  expect_error(with("/nodes/2", json{{"kind", "module_call"}, {"module", "a..b"}}),
               {"not a module path", "nodes[2].module"});
  expect_error(with("/nodes/2", json{{"kind", "parameter"}, {"module", "layer1"}, {"name", "w/x"}}),
               {"not a parameter name", "nodes[2].name"});
}

TEST(Hostile, Values) {
  expect_error(with("/nodes/2/args/1", json{{"eval", "x"}}), {"unknown value tag 'eval'", "nodes[2].args[1]"});
  expect_error(with("/nodes/2/args/1", json(std::nan(""))), {"not finite", "nodes[2].args[1]"});
  expect_error(with("/nodes/2/args/1", json(UINT64_MAX)), {"out of range", "nodes[2].args[1]"});
  expect_error(with("/nodes/2/args/1", json{{"float", "NaN!"}}),
               {"\"nan\", \"inf\" or \"-inf\"", "nodes[2].args[1].float"});
  expect_error(with("/nodes/2/args/1", json::parse(R"({"dict": [["a", 1], ["a", 2]]})")),
               {"dict key 'a' appears twice", "nodes[2].args[1].dict[1]"});
  expect_error(with("/nodes/2/args/1", json::parse(R"({"slice": [0, 1]})")),
               {"[start, stop, step]", "nodes[2].args[1].slice"});
  expect_error(with("/nodes/2/args/1", json::parse(R"({"ellipsis": 1})")), {"ellipsis", "nodes[2].args[1].ellipsis"});
  DecodeOptions small;
  small.limits.max_string_bytes = 6;
  expect_error(with("/nodes/2/args/1", "too long"), {"over the limit of 6", "nodes[2].args[1]"}, small);
}

TEST(Hostile, DeepNestingNeedsNoRecursion) {
  // A value nested a million levels deep, built without recursion.
  json deep = json::array();
  for (int k = 0; k < 1'000'000; ++k) deep = json::array({std::move(deep)});
  expect_error(with("/nodes/2/args/1", std::move(deep)), {"nested deeper than 32 levels", "nodes[2].args[1][0][0]"});
  // The same as text: the parser stops at the depth limit.
  std::string text = R"({"format": "nnsight-graph", "version": 1, "nodes": [{"kind": "op", "op": "print", "args": [)";
  text += std::string(1'000'000, '[') + std::string(1'000'000, ']') + "]}]}";
  try {
    parse_graph_text(text);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "nested deeper than 72 levels")) << e.what();
  }
  try {
    parse_graph_text(R"({"nodes": [1, 2,)");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "not valid JSON")) << e.what();
    EXPECT_TRUE(contains(e.what(), "at byte")) << e.what();
  }
}

TEST(Hostile, NodeCountIsLimited) {
  json nodes = json::array();
  for (int k = 0; k < 100'001; ++k) nodes.push_back(json{{"kind", "op"}, {"op", "list"}});
  json j = {{"format", "nnsight-graph"}, {"version", 1}, {"nodes", std::move(nodes)}};
  expect_error(j, {"100001 nodes, over the limit of 100000", "at nodes", "max_nodes"});
}

json tensor(json shape, json data, const char* dtype = "float32") {
  return json{{"tensor", {{"dtype", dtype}, {"shape", std::move(shape)}, {"data", std::move(data)}}}};
}

TEST(Hostile, Tensors) {
  auto arg = [](json t) { return with("/nodes/2/args/1", std::move(t)); };
  EXPECT_NO_THROW(document_from_json(arg(tensor({2}, {1, "nan"}))));
  expect_error(arg(tensor({2, 2}, {1, 2, 3})),
               {"data has 3 elements but shape [2, 2] needs 4", "nodes[2].args[1].tensor.data"});
  expect_error(arg(tensor({2}, {1, 2}, "complex64")), {"unknown dtype 'complex64'", "tensor.dtype", "float32"});
  expect_error(arg(tensor({1.5}, {1})), {"a tensor size is a float", "tensor.shape[0]"});
  expect_error(arg(tensor({-1}, json::array())), {"out of range", "tensor.shape[0]"});
  expect_error(arg(tensor({4'000'000'000LL, 4'000'000'000LL, 4'000'000'000LL}, json::array())),
               {"overflows", "tensor.shape"});
  expect_error(arg(tensor({0, 1'000'000'000'000LL}, json::array())), {"absurd", "tensor.shape"});
  expect_error(arg(tensor({100'000, 100'000}, json::array())), {"exceeds the limit", "nodes[2].args[1].tensor"});
  expect_error(arg(tensor({2}, {1, 300}, "uint8")), {"300 is out of range for uint8", "tensor.data[1]"});
  expect_error(arg(tensor({2}, {1, "x"})), {"expected a number", "tensor.data[1]"});
  expect_error(arg(tensor({1}, {1e300})), {"out of range for float32", "tensor.data[0]"});
  expect_error(arg(tensor({1}, {1}, "bool")), {"expected true or false", "tensor.data[0]"});
  expect_error(arg(tensor(json::array({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}), {1})), {"17 dimensions"});
  json both = tensor({1}, {1});
  both["tensor"]["blob"] = "t0";
  expect_error(arg(both), {"exactly one of 'data' (inline) or 'blob'"});
  DecodeOptions small;
  small.limits.max_tensor_bytes = 16;
  expect_error(arg(tensor({5}, {1, 2, 3, 4, 5})), {"20 bytes exceeds the limit of 16 bytes", "nodes[2].args[1].tensor"},
               small);
  small.limits.max_tensor_bytes = 1 << 20;
  small.limits.max_total_tensor_bytes = 30;
  json two = with("/nodes/2/args", json::array({tensor({4}, {1, 2, 3, 4}), tensor({4}, {1, 2, 3, 4})}));
  expect_error(two, {"exceed the limit of 30 bytes", "nodes[2].args[1].tensor"}, small);
}

TEST(Hostile, AttachedTensors) {
  json ref = {{"tensor", {{"dtype", "float32"}, {"shape", {2}}, {"blob", "t0"}}}};
  expect_error(with("/nodes/2/args/1", ref), {"no tensor blob is attached", "nodes[2].args[1].tensor.blob"});
  TensorBlob blob;
  blob.add("t1", at::ones({2}));
  DecodeOptions options;
  options.source = &blob;
  expect_error(with("/nodes/2/args/1", ref), {"'t0' is not in the blob", "the blob holds: t1"}, options);
  blob.add("t0", at::ones({3}));
  expect_error(with("/nodes/2/args/1", ref), {"is float32 [3] but the graph declares float32 [2]"}, options);
  ref["tensor"]["shape"] = {3};
  GraphDocument doc = document_from_json(with("/nodes/2/args/1", ref), options);
  EXPECT_TRUE(same_tensor(doc.graph->node(2).args[1].as_tensor(), at::ones({3})));
}

TEST(Hostile, TraceSettings) {
  expect_error(with("/nodes/0/generate", json{{"max_new_tokens", 0}}),
               {"max_new_tokens 0 is out of range", "nodes[0].generate.max_new_tokens"});
  expect_error(with("/nodes/0/generate", json{{"max_new_tokens", 1'000'000}}), {"out of range [1, 4096]"});
  expect_error(with("/nodes/0/generate", json{{"top_p", 2}}), {"top_p must lie in (0, 1]", "nodes[0].generate.top_p"});
  expect_error(with("/nodes/0/generate", json{{"beams", 2}}), {"unknown field 'beams'", "nodes[0].generate.beams"});
  expect_error(with("/nodes/0/strict_order", 1), {"strict_order is an integer", "nodes[0].strict_order"});
  GraphDocument doc = document_from_json(with("/nodes/0/generate", json{{"max_new_tokens", 5}, {"temperature", 0}}));
  ASSERT_TRUE(doc.trace(0).generate.has_value());
  EXPECT_EQ(doc.trace(0).generate->max_new_tokens, 5);
}

}  // namespace
}  // namespace nnsight::format::test
