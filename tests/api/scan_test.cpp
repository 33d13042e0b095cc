// Scan and validate (issue 4): shapes of every module call and of the saved
// values without running the model; shape errors at the user's line before any
// forward pass.

#include <ATen/ATen.h>
#include <ATen/record_function.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <string>

#include "nnsight/api/nnsight.h"
#include "nnsight/runtime/call_recorder.h"
#include "nnsight/runtime/forward_context.h"
#include "nnsight/runtime/meta_parameters.h"
#include "support/stories.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

constexpr const char* kPrompt = "Once upon a time";

/// Counts the matrix products LibTorch runs on real (non-meta) tensors on this
/// thread while it exists: a real forward pass of any module tree does some,
/// a scan none. (The custom CPU kernels bypass ATen, but they only accept CPU
/// tensors, which a scan never hands them.)
class RealMatmulCounter {
 public:
  RealMatmulCounter() {
    count_ = 0;
    handle_ = at::addThreadLocalCallback(at::RecordFunctionCallback(&on_start).needsInputs(true));
  }
  ~RealMatmulCounter() { at::removeCallback(handle_); }
  int64_t count() const { return count_; }

 private:
  static std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
    static constexpr const char* kProducts[] = {"aten::mm",     "aten::addmm",   "aten::bmm",       "aten::matmul",
                                                "aten::linear", "aten::baddbmm", "aten::embedding", "aten::layer_norm"};
    bool product = false;
    for (const char* name : kProducts) product = product || std::strcmp(fn.name(), name) == 0;
    if (!product) return nullptr;
    for (const c10::IValue& input : fn.inputs())
      if (input.isTensor() && input.toTensor().defined() && !input.toTensor().is_meta()) {
        ++count_;
        break;
      }
    return nullptr;
  }
  static inline std::atomic<int64_t> count_{0};
  at::CallbackHandle handle_;
};

class ScanApi : public test::StoriesTest {
 protected:
  at::Tensor ids(const std::string& prompt) { return at::tensor(model().tokenize(prompt), at::kLong).unsqueeze(0); }
};

/// Every module call of a real forward pass of `lm` on `input_ids`.
std::vector<ModuleCall> real_calls(CausalLM& lm, const at::Tensor& input_ids) {
  CallRecorder recorder(lm);
  lm.logits(input_ids);
  return recorder.take_calls();
}

void expect_same_shapes(const std::vector<ModuleCall>& scanned, const std::vector<ModuleCall>& real) {
  ASSERT_EQ(scanned.size(), real.size());
  for (std::size_t i = 0; i < real.size(); ++i) {
    EXPECT_EQ(scanned[i].path, real[i].path);
    EXPECT_EQ(scanned[i].call, real[i].call);
    EXPECT_EQ(describe_shapes(scanned[i].output), describe_shapes(real[i].output)) << real[i].path;
    EXPECT_EQ(describe_shapes(scanned[i].inputs), describe_shapes(real[i].inputs)) << real[i].path;
    for_each_tensor(scanned[i].output, [&](const at::Tensor& t) { EXPECT_TRUE(t.is_meta()) << real[i].path; });
  }
}

TEST_F(ScanApi, GivesEveryModuleOutputShapeWithoutAForwardPass) {
  const std::vector<ModuleCall> real = real_calls(model().causal_lm(), ids(kPrompt));
  const int64_t t = ids(kPrompt).size(1);
  const at::Tensor weight = model()["lm_head"].module().parameter("weight");
  const at::Tensor before = weight.clone();

  RealMatmulCounter counter;
  Scanned scan = model().scan(kPrompt);
  EXPECT_EQ(counter.count(), 0) << "a module ran on real tensors during the scan";

  // Every module of the model, with the shapes of the real run: root, model, embed_tokens, rotary_emb,
  // 5 layers x (layer, input_layernorm, self_attn, q/k/v/o_proj, post_attention_layernorm, mlp, gate/up/down_proj,
  // act_fn), norm, lm_head.
  expect_same_shapes(scan.calls, real);
  EXPECT_EQ(scan.calls.size(), 4u + 5u * 13u + 2u);
  EXPECT_EQ(describe_shapes(scan.output("model.layers.0")), "([1, " + std::to_string(t) + ", 64] Float,)");
  EXPECT_EQ(describe_shapes(scan.output("lm_head")), "[1, " + std::to_string(t) + ", 512] Float");
  EXPECT_EQ(scan.output("model.layers.2.mlp.gate_proj").as_tensor().sizes(), at::IntArrayRef({1, t, 172}));
  EXPECT_NE(scan.table().find("model.layers.4.mlp.down_proj  [1, " + std::to_string(t) + ", 64] Float"),
            std::string::npos)
      << scan.table();

  // The real parameters are back, untouched.
  const at::Tensor after = model()["lm_head"].module().parameter("weight");
  EXPECT_FALSE(after.is_meta());
  EXPECT_EQ(after.data_ptr(), weight.data_ptr());
  EXPECT_TRUE(at::equal(after, before));

  // The counter does see a real forward pass (so the zero above means something).
  RealMatmulCounter real_counter;
  model().trace(kPrompt, [] {});
  EXPECT_GT(real_counter.count(), 0);
}

TEST_F(ScanApi, SavedValuesAreMetaTensorsWithTheirShapes) {
  Saved hidden, probs, logits_view;
  RealMatmulCounter counter;
  Scanned scan = model().scan(kPrompt, [&] {
    hidden = model()["model.layers.2"].output()[0].save();
    // An out-of-band module call (logit lens) is scanned too.
    probs = model()["lm_head"](model()["model.norm"](hidden))[{0, -1}].softmax(-1).save();
    logits_view = model()["lm_head"].output()[{Slice(), Slice{1, 3, {}}}].save();
  });
  EXPECT_EQ(counter.count(), 0);
  const int64_t t = ids(kPrompt).size(1);
  EXPECT_TRUE(hidden.tensor().is_meta());
  EXPECT_EQ(hidden.tensor().sizes(), at::IntArrayRef({1, t, 64}));
  EXPECT_EQ(probs.tensor().sizes(), at::IntArrayRef({512}));
  EXPECT_EQ(logits_view.tensor().sizes(), at::IntArrayRef({1, 2, 512}));
  EXPECT_EQ(hidden.tensor().scalar_type(), at::kFloat);
}

TEST_F(ScanApi, ValidateReportsAShapeErrorAtTheUsersLineBeforeTheModelRuns) {
  const at::Tensor reference = model().causal_lm().logits(ids(kPrompt));
  RealMatmulCounter counter;
  int line = 0;
  try {
    model().trace(kPrompt, {.validate = true}, [&] {
      Proxy h = model()["model.layers.0"].output()[0];
      line = __LINE__ + 1;
      (h + at::ones({3})).save();  // [1, 5, 64] + [3]
    });
    FAIL() << "the shape error was not reported";
  } catch (const Error& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("must match the size of tensor b (3)"), std::string::npos) << text;
    EXPECT_NE(text.find("scan_test.cpp:" + std::to_string(line)), std::string::npos) << text;
  }
  EXPECT_EQ(counter.count(), 0) << "the model ran before the shape error was reported";

  // Nothing was changed: the model computes what it did, and validate passes on a correct trace.
  Saved logits;
  model().trace(kPrompt, {.validate = true}, [&] { logits = model()["lm_head"].output().save(); });
  EXPECT_FALSE(logits.tensor().is_meta());
  EXPECT_TRUE(at::equal(logits.tensor(), reference));
}

TEST_F(ScanApi, AnInterventionThatChangesAShapeFailsInTheNextModule) {
  RealMatmulCounter counter;
  try {
    model().scan(kPrompt, [&] {
      Proxy h = model()["model.layers.1.mlp"].output();
      model()["model.layers.1.mlp"].set_output(h[{Slice(), Slice(), Slice{0, 32, {}}}]);  // 64 features -> 32
    });
    FAIL() << "the wrong shape was not reported";
  } catch (const Error& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("model.layers.1"), std::string::npos) << text;
    EXPECT_NE(text.find("64"), std::string::npos) << text;
  }
  EXPECT_EQ(counter.count(), 0);
}

TEST_F(ScanApi, BatchedInvokesOfDifferentLengths) {
  Saved a, b;
  Scanned scan = model().scan([&](Tracer& tracer) {
    tracer.invoke(kPrompt, [&] { a = model()["model.layers.3"].output()[0].save(); });
    tracer.invoke("Lily went to the park with her mom", [&] { b = model()["lm_head"].output().save(); });
  });
  const int64_t longest = ids("Lily went to the park with her mom").size(1);
  EXPECT_EQ(a.tensor().sizes(), at::IntArrayRef({1, longest, 64}));
  EXPECT_EQ(b.tensor().sizes(), at::IntArrayRef({1, longest, 512}));
  EXPECT_EQ(scan.output("model.layers.3").items()[0].as_tensor().sizes(), at::IntArrayRef({2, longest, 64}));
}

TEST_F(ScanApi, GradientsHaveTheShapeOfTheirValues) {
  Saved grad, value;
  RealMatmulCounter counter;
  model().scan(kPrompt, [&] {
    Proxy h = model()["model.layers.2"].output()[0];
    value = h.save();
    grad = h.grad().save();
    model()["lm_head"].output()[{0, -1, 7}].backward();
  });
  EXPECT_EQ(counter.count(), 0);
  EXPECT_TRUE(grad.tensor().is_meta());
  EXPECT_EQ(grad.tensor().sizes(), value.tensor().sizes());
}

TEST_F(ScanApi, UnknownCallsAreExplained) {
  Scanned scan = model().scan(kPrompt);
  try {
    scan.output("model.layers.9");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("was not called in the scan"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'model.layers.0'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(scan.output("lm_head", 1), Error);
}

TEST(ScanGpt2, ShapesEqualARealForward) {
  REQUIRE_MODEL("fake-gpt2-random");
  LanguageModel gpt2 = LanguageModel::load(test::model_path("fake-gpt2-random"));
  const std::string prompt = "Hello world, this is a test";
  const at::Tensor input_ids = at::tensor(gpt2.tokenize(prompt), at::kLong).unsqueeze(0);
  const std::vector<ModuleCall> real = real_calls(gpt2.causal_lm(), input_ids);
  RealMatmulCounter counter;
  Scanned scan = gpt2.scan(prompt);
  EXPECT_EQ(counter.count(), 0);
  expect_same_shapes(scan.calls, real);
  EXPECT_GT(scan.calls.size(), 10u);
}

TEST(ScanInputs, ToMetaMakesEveryTensorOfACallMetaAndKeepsTheRest) {
  Inputs call({Value(at::ones({2, 3})), Value::list({Value(at::zeros({4}, at::kLong)), Value(7)})});
  call.kwargs.set("mask", Value(at::ones({2, 3}, at::kBool)));
  call.kwargs.set("steps", Value(5));
  to_meta(call);
  EXPECT_EQ(describe_shapes(Value::tuple(call.args)), "([2, 3] Float, [[4] Long, 7])");
  for_each_tensor(Value::tuple(call.args), [](const at::Tensor& t) { EXPECT_TRUE(t.is_meta()); });
  ASSERT_EQ(call.kwargs.keys, (std::vector<std::string>{"mask", "steps"}));
  EXPECT_TRUE(call.kwargs.values[0].as_tensor().is_meta());
  EXPECT_EQ(call.kwargs.values[0].as_tensor().scalar_type(), at::kBool);
  EXPECT_EQ(call.kwargs.values[1].as_int(), 5);
}

}  // namespace
}  // namespace nnsight
