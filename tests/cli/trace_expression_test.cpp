// The expression language of `nnsight trace`: syntax trees, caret errors,
// module path resolution with close matches, and the proxy graph it records
// (the same nodes as hand-written C++).
#include <ATen/ops/equal.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "nnsight/api/nnsight.h"
#include "nnsight/graph/graph.h"
#include "server/patching_fixture.h"
#include "trace_expression.h"

namespace nnsight::cli {
namespace {

using Kind = IndexItem::Kind;

TEST(TraceExpression, ModulePathValueAndIndexing) {
  const ModuleValueExpr e = parse_module_value("model.layers.2.output[0][:, -1]");
  ASSERT_EQ(e.path.size(), 3u);
  EXPECT_EQ(e.path[0].name, "model");
  EXPECT_EQ(e.path[2].name, "2");
  EXPECT_EQ(e.path[2].position, 13u);
  EXPECT_EQ(e.path_text(), "model.layers.2");
  EXPECT_EQ(e.point, Point::Output);
  ASSERT_EQ(e.subscripts.size(), 2u);
  EXPECT_FALSE(e.subscripts[0].tuple);
  EXPECT_EQ(e.subscripts[0].key().as_int(), 0);
  const Value k = e.subscripts[1].key();
  ASSERT_EQ(k.kind(), Value::Kind::Tuple);
  ASSERT_EQ(k.items().size(), 2u);
  EXPECT_EQ(k.items()[0].as_slice(), Slice{});
  EXPECT_EQ(k.items()[1].as_int(), -1);
}

TEST(TraceExpression, EveryIndexForm) {
  const ModuleValueExpr e = parse_module_value(" model.layers[-1].mlp.input [ 1:4:2 , ::3, None, ..., 7, ] ");
  ASSERT_EQ(e.path.size(), 4u);
  EXPECT_TRUE(e.path[1].name == "layers" && !e.path[1].child_index);
  ASSERT_TRUE(e.path[2].child_index);
  EXPECT_EQ(*e.path[2].child_index, -1);
  EXPECT_EQ(e.point, Point::Input);
  ASSERT_EQ(e.subscripts.size(), 1u);
  const auto& items = e.subscripts[0].items;
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].kind, Kind::Slice);
  EXPECT_EQ(items[0].slice, (Slice{1, 4, 2}));
  EXPECT_EQ(items[1].slice, (Slice{std::nullopt, std::nullopt, 3}));
  EXPECT_EQ(items[2].kind, Kind::NewAxis);
  EXPECT_EQ(items[3].kind, Kind::Ellipsis);
  EXPECT_EQ(items[4].kind, Kind::Int);
  EXPECT_EQ(items[4].integer, 7);
  EXPECT_TRUE(e.subscripts[0].tuple);

  const ModuleValueExpr kw = parse_module_value("model.layers.0.inputs[1]['position_ids']");
  EXPECT_EQ(kw.point, Point::Inputs);
  EXPECT_EQ(kw.subscripts[1].key().as_string(), "position_ids");
  // One item with a trailing comma is a tuple key, as in Python.
  EXPECT_TRUE(parse_module_value("lm_head.output[0,]").subscripts[0].tuple);
  EXPECT_EQ(parse_module_value("lm_head.output[2:]").subscripts[0].key().as_slice(), (Slice{2, std::nullopt, {}}));
}

TEST(TraceExpression, Assignments) {
  AssignmentExpr a = parse_assignment("model.layers.1.mlp.output[:, -1] = 0");
  EXPECT_EQ(a.target.path_text(), "model.layers.1.mlp");
  ASSERT_TRUE(a.operand.number);
  EXPECT_EQ(a.operand.number->kind(), Value::Kind::Int);
  EXPECT_EQ(a.operand.number->as_int(), 0);

  a = parse_assignment("lm_head.output=-2.5e-1");
  ASSERT_TRUE(a.operand.number);
  EXPECT_EQ(a.operand.number->kind(), Value::Kind::Float);
  EXPECT_DOUBLE_EQ(a.operand.number->as_double(), -0.25);

  a = parse_assignment("model.layers.3.output[0][:, -1] = model.layers.1.output[0][:, -1]");
  ASSERT_TRUE(a.operand.value);
  EXPECT_EQ(a.operand.value->path_text(), "model.layers.1");
  EXPECT_EQ(a.operand.value->subscripts.size(), 2u);

  EXPECT_TRUE(std::isinf(parse_assignment("x.output = -inf").operand.number->as_double()));
  EXPECT_EQ(parse_number(" 3 ").as_int(), 3);
  EXPECT_DOUBLE_EQ(parse_number("+.5").as_double(), 0.5);
}

/// The error's message, its expression line and caret line, and its hint.
void expect_error(const std::function<void()>& parse, const std::string& what, std::size_t position,
                  const std::string& hint_part) {
  try {
    parse();
    ADD_FAILURE() << "no error for '" << what << "'";
  } catch (const ExpressionError& e) {
    EXPECT_EQ(e.message(), what);
    EXPECT_EQ(e.position(), position) << e.what();
    EXPECT_NE(e.hint().find(hint_part), std::string::npos) << e.hint();
  }
}

TEST(TraceExpression, ErrorsShowTheExpressionWithACaret) {
  try {
    parse_module_value("model.layers.2.output[0", "--save");
    FAIL();
  } catch (const ExpressionError& e) {
    EXPECT_EQ(std::string(e.what()),
              "the index opened here is not closed\n"
              "  --save 'model.layers.2.output[0'\n"
              "                               ^\n"
              "  hint: close it with ']'");
  }
  try {
    parse_assignment("lm_head.output[:, x] = 0");
    FAIL();
  } catch (const ExpressionError& e) {
    EXPECT_EQ(std::string(e.what()),
              "'x' is not an index\n"
              "  lm_head.output[:, x] = 0\n"
              "                    ^\n"
              "  hint: an index item is an integer, a slice a:b:c, '...', None or a quoted dict key "
              "(indices cannot be computed from other values)");
  }
}

TEST(TraceExpression, EachErrorPointsAtItsCause) {
  expect_error([] { parse_module_value("model.layers.2"); },
               "expected '.output', '.input' or '.inputs' after the module path", 14, ".output");
  expect_error([] { parse_module_value("model.layers.2.output()"); }, "calls are not part of the expression syntax", 21,
               "without parentheses");
  expect_error([] { parse_module_value("model.layers.2.output.sum"); },
               "nothing may follow a module value but indexing", 21, "index with");
  expect_error([] { parse_module_value("output[0]"); }, "'output' needs a module path before it", 0, "model.layers.0");
  expect_error([] { parse_module_value("lm_head.output[1.5]"); }, "indices must be integers", 15, "integer");
  expect_error([] { parse_module_value("lm_head.output[::0]"); }, "a slice step cannot be zero", 17, "positive");
  expect_error([] { parse_module_value("lm_head.output[]"); }, "empty index", 15, "[...]");
  expect_error([] { parse_module_value("lm_head.output[0 1]"); }, "expected ',' or ']'", 17, "commas");
  expect_error([] { parse_module_value("lm_head..output"); },
               "expected a module name, a number or output/input/inputs after '.'", 8, "dotted");
  expect_error([] { parse_module_value(""); }, "expected a module value, found the end of the text", 0, "module path");
  expect_error([] { parse_module_value("lm_head.output = 1"); }, "unexpected '=' after the expression", 15, "--set");
  expect_error([] { parse_assignment("lm_head.output[0]"); }, "expected '=' and a value after the target", 17,
               "TARGET = VALUE");
  expect_error([] { parse_assignment("lm_head.output == 1"); }, "'==' is a comparison; an assignment takes one '='", 15,
               "TARGET = VALUE");
  expect_error([] { parse_assignment("lm_head.output = "); }, "expected a value after '='", 17, "number");
  expect_error([] { parse_assignment("lm_head.output = 1 2"); }, "unexpected '2' after the expression", 19,
               "one number");
  expect_error([] { parse_number("0.5x"); }, "'0.5x' is not a number", 3, "number");
  expect_error([] { parse_number("abc"); }, "'abc' is not a number", 0, "number");
}

/// A module tree of containers named like a Llama: model.{embed_tokens, layers.{0,1}.{mlp, self_attn}}, lm_head.
std::unique_ptr<Module> toy_tree() {
  auto root = std::make_unique<ModuleList>();
  Module& model = root->attach("model", std::make_unique<ModuleList>());
  model.attach("embed_tokens", std::make_unique<ModuleList>());
  Module& layers = model.attach("layers", std::make_unique<ModuleList>());
  for (const char* i : {"0", "1"}) {
    Module& layer = layers.attach(i, std::make_unique<ModuleList>());
    layer.attach("mlp", std::make_unique<ModuleList>());
    layer.attach("self_attn", std::make_unique<ModuleList>());
  }
  root->attach("lm_head", std::make_unique<ModuleList>());
  return root;
}

TEST(TraceExpression, ResolvesPathsAndChildIndexes) {
  auto root = toy_tree();
  EXPECT_EQ(resolve_module(*root, parse_module_value("model.layers.1.mlp.output")).path(), "model.layers.1.mlp");
  EXPECT_EQ(resolve_module(*root, parse_module_value("model.layers[-1].self_attn.input")).path(),
            "model.layers.1.self_attn");
  EXPECT_EQ(entry_key(*root, parse_module_value("model.layers[0].inputs[0]")), "model.layers.0.input");
  EXPECT_EQ(entry_key(*root, parse_module_value("lm_head.output")), "lm_head.output");
}

TEST(TraceExpression, UnknownPathsListCloseMatches) {
  auto root = toy_tree();
  try {
    resolve_module(*root, parse_module_value("model.layer.1.mlp.output"), "--save");
    FAIL();
  } catch (const ExpressionError& e) {
    EXPECT_EQ(e.message(), "no module named 'layer' in 'model'");
    EXPECT_EQ(e.position(), 6u);
    // The caret sits under "layer": 2 spaces of indentation, "--save '" and "model.".
    EXPECT_NE(std::string(e.what()).find("--save 'model.layer.1.mlp.output'\n" + std::string(2 + 8 + 6, ' ') + "^\n"),
              std::string::npos)
        << e.what();
    EXPECT_EQ(e.hint().rfind("did you mean model.layers.1.mlp? ", 0), 0u) << e.hint();  // the closest only
    EXPECT_NE(e.hint().find("children of 'model': embed_tokens, layers"), std::string::npos) << e.hint();
  }
  try {
    resolve_module(*root, parse_module_value("model.layers[5].output"));
    FAIL();
  } catch (const ExpressionError& e) {
    EXPECT_EQ(e.message(), "child 5 of 'model.layers' does not exist");
    EXPECT_EQ(e.position(), 12u);
    EXPECT_EQ(e.hint(), "'model.layers' has 2 children");
  }
}

/// Each node's label and arguments: two graphs with equal signatures perform the same operations.
std::vector<std::string> signature(const graph::Graph& g) {
  std::vector<std::string> out;
  for (int32_t i = 0; i < g.size(); ++i) {
    std::string s = g.label(i);
    for (const Value& a : g.node(i).args) s += " " + a.repr();
    out.push_back(s);
  }
  return out;
}

TEST(TraceExpression, RecordsTheSameGraphAsHandWrittenCpp) {
  REQUIRE_STORIES();
  LanguageModel& model = *test::stories();
  std::vector<std::string> parsed, hand;
  Saved a, b;
  model.trace("Once upon a time", [&] {
    a = record_value(model, parse_module_value("model.layers.2.output[0][:, -1]"), false).save();
    const AssignmentExpr set = parse_assignment("model.layers.3.output[0][:, -1] = 0");
    record_assign(model, set.target, *set.operand.number, false);
    record_update(
        model, parse_module_value("model.layers.4.mlp.output[..., :8]"),
        [](const graph::Proxy& x) { return graph::Arg(x * 2.0); }, false);
    parsed = signature(*graph::Graph::current());
  });
  model.trace("Once upon a time", [&] {
    b = model["model.layers.2"].output()[0][{Slice(), -1}].save();
    model["model.layers.3"].output()[0].set({Slice(), -1}, 0);
    graph::Proxy mlp = model["model.layers.4.mlp"].output();
    mlp.set({Ellipsis{}, Slice{std::nullopt, 8, std::nullopt}},
            mlp[{Ellipsis{}, Slice{std::nullopt, 8, std::nullopt}}] * 2.0);
    hand = signature(*graph::Graph::current());
  });
  EXPECT_EQ(parsed, hand);
  EXPECT_TRUE(at::equal(a.tensor(), b.tensor()));
}

}  // namespace
}  // namespace nnsight::cli
