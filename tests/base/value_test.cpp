#include "nnsight/base/value.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/ones.h>
#include <gtest/gtest.h>

#include "nnsight/base/error.h"

namespace nnsight {
namespace {

TEST(Value, TupleIndexingAndNegativeIndex) {
  Value t = Value::tuple({Value(at::ones({2, 3})), Value()});
  EXPECT_EQ(t.kind(), Value::Kind::Tuple);
  EXPECT_TRUE(t[0].is_tensor());
  EXPECT_TRUE(t[-1].is_none());
  EXPECT_THROW(t[2], Error);
}

TEST(Value, KindMismatchNamesBothKinds) {
  Value v(int64_t{3});
  try {
    v.as_tensor();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected a value of type Tensor, got int"), std::string::npos);
  }
}

TEST(Value, ReprAndDeepCopy) {
  Dict d;
  d.set("a", Value(1));
  Value v = Value::list({Value(d), Value(Slice{1, std::nullopt, 2}), Value(Ellipsis{}), Value(at::ones({1, 5}))});
  EXPECT_EQ(v.repr(), "[{'a': 1}, slice(1, None, 2), ..., Tensor[1, 5] Float]");
  Value copy = v.deep_copy();
  copy[0].as_dict().set("a", Value(2));
  EXPECT_EQ(v[0].as_dict().find("a")->as_int(), 1);
}

TEST(Value, MapTensorsKeepsStructure) {
  Value v = Value::tuple({Value(at::ones({2})), Value("x")});
  Value doubled = map_tensors(v, [](const at::Tensor& t) { return t * 2; });
  EXPECT_EQ(doubled.kind(), Value::Kind::Tuple);
  EXPECT_EQ(doubled[0].as_tensor().sum().item<float>(), 4.0f);
  EXPECT_EQ(doubled[1].as_string(), "x");
}

}  // namespace
}  // namespace nnsight
