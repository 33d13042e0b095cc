// Persistent edits on stories260K: NNsight 0.4's test_editing,
// test_non_inplace_editing, test_clear_edits and test_batched_editing, with
// exact saved counts.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "nnsight/api/nnsight.h"
#include "nnsight/base/error.h"
#include "nnsight/runtime/forward_context.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

constexpr const char* kPrompt = "Once upon a time";

/// NNsight's WrapperModule: returns its input.
class WrapperModule : public Module {
 public:
  WrapperModule() : Module("WrapperModule") {}

 protected:
  Value forward(Inputs& inputs, ForwardContext&) override { return inputs.args.at(0); }
};

/// NNsight test_editing's ComplexModule: calls its child `one` through the dispatch point.
class ComplexModule : public Module {
 public:
  ComplexModule() : Module("ComplexModule") { one_ = &add_module("one", std::make_unique<WrapperModule>()); }

 protected:
  Value forward(Inputs& inputs, ForwardContext& ctx) override { return (*one_)(Inputs({inputs.args.at(0)}), ctx); }

 private:
  Module* one_;
};

class EditApi : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_MODEL("stories260K-hf");
    REQUIRE_MODEL("stories260K/tok512.bin");
    LoadOptions options;
    options.tokenizer_path = test::model_path("stories260K/tok512.bin");
    lm_ = std::make_unique<LanguageModel>(LanguageModel::load(test::model_path("stories260K-hf"), options));
  }
  LanguageModel& model() { return *lm_; }
  void attach() { model()["model.layers.0"].module().attach("attachment", std::make_unique<ComplexModule>()); }

  std::unique_ptr<LanguageModel> lm_;
};

TEST_F(EditApi, Editing) {
  attach();
  LanguageModel edited = model().edit([&](LanguageModel& m) {
    Envoy l0 = m["model.layers.0"];
    Proxy acts = l0.output()[0];
    l0.output()[0].set({Slice()}, l0["attachment"].call_with_hooks({acts}));
  });
  EXPECT_EQ(model().edit_count(), 0u);
  EXPECT_EQ(edited.edit_count(), 1u);

  Saved original, original_output;
  Traced plain = model().trace(kPrompt, [&] {
    Envoy l0 = model()["model.layers.0"];
    original = l0.output()[0].clone().save();
    l0.output()[0].mul_(0.0);
    original_output = model()["lm_head"].output().save();
  });
  Saved one, edited_output;
  Traced run = edited.trace(kPrompt, [&] {
    Envoy l0 = edited["model.layers.0"];
    one = l0["attachment"]["one"].output().clone().save();
    l0["attachment"].output().mul_(0.0);
    edited_output = edited["lm_head"].output().save();
  });
  // The attachment saw the layer's output, and zeroing it propagates through the edit.
  EXPECT_TRUE(at::equal(original.tensor(), one.tensor()));
  EXPECT_TRUE(at::equal(original_output.tensor(), edited_output.tensor()));
  EXPECT_EQ(plain.live_values(), 2u);
  EXPECT_EQ(run.live_values(), 2u);
}

TEST_F(EditApi, NonInPlaceEditing) {
  model().edit_in_place([&] { model()["model.layers.1"].output()[0].set({Slice(), 0}, 0); });
  LanguageModel edited = model().edit([&](LanguageModel& m) { m["model.layers.1"].output()[0].set({Slice(), 1}, 0); });

  Saved l1_out, l1_out_edited;
  Traced a = model().trace(kPrompt, [&] { l1_out = model()["model.layers.1"].output()[0].save(); });
  Traced b = edited.trace(kPrompt, [&] { l1_out_edited = edited["model.layers.1"].output()[0].save(); });
  const at::Tensor x = l1_out.tensor(), y = l1_out_edited.tensor();
  EXPECT_TRUE((x.select(1, 0) == 0).all().item<bool>());
  EXPECT_TRUE((x.select(1, 1) != 0).all().item<bool>());
  EXPECT_TRUE((y.select(1, 0) == 0).all().item<bool>());
  EXPECT_TRUE((y.select(1, 1) == 0).all().item<bool>());
  EXPECT_EQ(a.live_values(), 1u);
  EXPECT_EQ(b.live_values(), 1u);
}

TEST_F(EditApi, ClearEdits) {
  model().edit_in_place([&] { model()["model.layers.1"].output()[0].set({Slice()}, 0); });
  Saved edited, unedited;
  model().trace(kPrompt, [&] { edited = model()["model.layers.1"].output()[0].save(); });
  model().clear_edits();
  model().trace(kPrompt, [&] { unedited = model()["model.layers.1"].output()[0].save(); });
  EXPECT_TRUE((edited.tensor() == 0).all().item<bool>());
  EXPECT_TRUE((unedited.tensor() != 0).all().item<bool>());
  // And the plain model computes what it did before any edit.
  Saved logits;
  model().trace(kPrompt, [&] { logits = model()["lm_head"].output().save(); });
  const at::Tensor ids = at::tensor(model().tokenize(kPrompt), at::kLong).unsqueeze(0);
  EXPECT_TRUE(at::equal(logits.tensor(), model().causal_lm().logits(ids)));
}

TEST_F(EditApi, BatchedEditingIsNotNarrowed) {
  attach();
  LanguageModel edited = model().edit([&](LanguageModel& m) {
    Envoy l0 = m["model.layers.0"];
    l0.output()[0].set({Slice()}, l0["attachment"].call_with_hooks({l0.output()[0]}));
  });
  Saved batch_out;
  edited.trace(Value::list({Value("a"), Value("b")}),
               [&] { batch_out = edited["model.layers.0"]["attachment"].output().save(); });
  EXPECT_EQ(batch_out.tensor().size(0), 2);

  // Two invokes: the edit still sees both rows; each invoke sees its own.
  Saved first;
  edited.trace([&](Tracer& tracer) {
    tracer.invoke("a", [&] { first = edited["model.layers.0"]["attachment"].output().save(); });
    tracer.invoke("b", [&] {});
  });
  EXPECT_EQ(first.tensor().size(0), 1);
}

TEST_F(EditApi, EditsRecordedInsideATraceAreAnError) {
  EXPECT_THROW(model().trace(kPrompt, [&] { model().edit_in_place([] {}); }), Error);
  Saved logits;
  model().trace(kPrompt, [&] { logits = model()["lm_head"].output().save(); });  // still usable
  EXPECT_EQ(logits.tensor().dim(), 3);
}

}  // namespace
}  // namespace nnsight
