// Shape-only runs in the graph core (what a scan uses): every tensor a node
// computes with is a meta tensor, constants recorded in the graph included, so
// they mix with the model's meta values and nothing is computed.

#include <ATen/ops/empty.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>

#include <vector>

#include "nnsight/graph/intervention_graph.h"
#include "nnsight/graph/recording.h"

namespace nnsight::graph {
namespace {

TEST(ShapeOnly, ConstantsReachNodesAsMetaTensors) {
  auto g = Graph::create();
  std::vector<bool> meta;  // is_meta() of every tensor the apply node was given, in order
  Saved sum;
  {
    TraceScope trace(g);
    Proxy h = entry("layer1.output");
    auto inspect = [&](std::vector<Value>& args, const Dict&) {
      for (const Value& a : args) for_each_tensor(a, [&](const at::Tensor& t) { meta.push_back(t.is_meta()); });
      return Value();
    };
    apply(inspect, {h, at::ones({1, 10}), tuple_of({at::zeros({2}), 3})}, "inspect");
    sum = (h + at::ones({1, 10})).save();
  }
  g->set_shape_only(true);
  g->run([](InterventionGraph& ig) { ig.deliver("layer1.output", Value(at::empty({1, 10}, at::device(at::kMeta)))); });
  g->set_shape_only(false);
  EXPECT_EQ(meta, (std::vector<bool>{true, true, true}));
  ASSERT_TRUE(sum.tensor().is_meta());
  EXPECT_EQ(sum.tensor().sizes(), (std::vector<int64_t>{1, 10}));
}

TEST(ShapeOnly, AnOrdinaryRunKeepsConstantsReal) {
  auto g = Graph::create();
  Saved sum;
  {
    TraceScope trace(g);
    sum = (entry("layer1.output") + at::ones({1, 2})).save();
  }
  g->run([](InterventionGraph& ig) { ig.deliver("layer1.output", Value(at::ones({1, 2}))); });
  ASSERT_FALSE(sum.tensor().is_meta());
  EXPECT_EQ(sum.tensor().sum().item<double>(), 4.0);
}

}  // namespace
}  // namespace nnsight::graph
