// NNsight 0.4's test_lm cases that need no gradients or edits, ported to
// stories260K (Hugging Face layout) through LanguageModel, plus the checks of
// issue 3 against hook-free computation.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "nnsight/api/nnsight.h"
#include "nnsight/runtime/forward_context.h"
#include "support/stories.h"
#include "support/test_support.h"

namespace nnsight {
namespace {

constexpr const char* kPrompt = "Once upon a time";
constexpr const char* kOther = "Lily went to the park";

class LmApi : public test::StoriesTest {
 protected:
  at::Tensor ids(const std::string& prompt) {
    auto v = model().tokenize(prompt);
    return at::tensor(v, at::kLong).unsqueeze(0);
  }
  /// Logits of a plain forward pass, no interventions.
  at::Tensor plain_logits(const std::string& prompt) { return model().causal_lm().logits(ids(prompt)); }
  static bool all_zero(const at::Tensor& t) { return t.abs().sum().item<double>() == 0.0; }
};

TEST_F(LmApi, Save) {
  Saved hs, hs_input;
  Traced run = model().trace(kPrompt, [&] {
    hs_input = model()["model.layers"][-1].input().save();  // the model computes the input first
    hs = model()["model.layers"][-1].output()[0].save();
  });
  EXPECT_EQ(hs.tensor().dim(), 3);
  EXPECT_EQ(hs_input.tensor().dim(), 3);
  EXPECT_EQ(run.live_values(), 2u);
  // The saved residual stream gives the logits through the final norm and head.
  ForwardContext ctx;
  at::Tensor by_hand =
      model().causal_lm().lm_head()(model().causal_lm().final_norm()(hs.tensor(), ctx).as_tensor(), ctx).as_tensor();
  EXPECT_TRUE(at::allclose(by_hand, plain_logits(kPrompt), 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(run.output.as_tensor(), plain_logits(kPrompt), 1e-6, 1e-6));
}

TEST_F(LmApi, InPlaceSet) {
  Saved pre, post, logits;
  Traced run = model().trace(kPrompt, [&] {
    Envoy last = model()["model.layers"][-1];
    pre = last.output()[0].clone().save();
    last.output()[0].set({Slice()}, 0);
    post = last.output()[0].save();
    logits = model()["lm_head"].output().save();
  });
  EXPECT_FALSE(all_zero(pre.tensor()));
  EXPECT_TRUE(all_zero(post.tensor()));
  EXPECT_TRUE(all_zero(logits.tensor()));  // RMSNorm(0) = 0, and lm_head has no bias
  EXPECT_EQ(run.live_values(), 3u);
}

TEST_F(LmApi, SwapEmbeddings) {
  Saved pre, post, logits;
  Traced run = model().trace(kPrompt, [&] {
    Envoy wte = model()["model.embed_tokens"];
    pre = wte.output().clone().save();
    wte.set_output(wte.output() * 0);
    post = wte.output().save();
    logits = model()["lm_head"].output().save();
  });
  EXPECT_FALSE(all_zero(pre.tensor()));
  EXPECT_TRUE(all_zero(post.tensor()));
  EXPECT_FALSE(at::allclose(logits.tensor(), plain_logits(kPrompt)));
  EXPECT_EQ(run.live_values(), 3u);
}

TEST_F(LmApi, SwapTupleOutput) {
  Saved pre, post, logits;
  Traced run = model().trace(kPrompt, [&] {
    Envoy last = model()["model.layers"][-1];
    pre = last.output().save();
    last.set_output(tuple_of({last.output()[0].zeros_like()}));
    post = last.output().save();
    logits = model()["lm_head"].output().save();
  });
  EXPECT_FALSE(all_zero(pre.value()[0].as_tensor()));
  EXPECT_TRUE(all_zero(post.value()[0].as_tensor()));
  EXPECT_TRUE(all_zero(logits.tensor()));
  EXPECT_EQ(run.live_values(), 3u);
}

TEST_F(LmApi, SwapInInvokeZeroDoesNotLeakIntoInvokeOne) {
  Saved hs, prediction;
  Traced run = model().trace([&](Tracer& tracer) {
    tracer.invoke(kPrompt, [&] {
      Envoy last = model()["model.layers"][-1];
      last.set_output(tuple_of({last.output()[0].zeros_like()}));
    });
    tracer.invoke(kOther, [&] {  // a different length: left padding
      hs = model()["model.layers"][-1].output().save();
      prediction = model()["lm_head"].output()[0][-1].argmax(-1).save();
    });
  });
  ASSERT_EQ(hs.value().kind(), Value::Kind::Tuple);
  EXPECT_FALSE(all_zero(hs.value()[0].as_tensor()));
  const at::Tensor solo = plain_logits(kOther);
  EXPECT_EQ(prediction.tensor().item<int64_t>(), solo[0][-1].argmax(-1).item<int64_t>());
  const at::Tensor batch = run.output.as_tensor();
  ASSERT_EQ(batch.size(0), 2);
  EXPECT_TRUE(all_zero(batch[0]));
  EXPECT_TRUE(at::allclose(batch[1][-1], solo[0][-1], 1e-4, 1e-4));
  EXPECT_EQ(run.live_values(), 2u);
}

TEST_F(LmApi, InvokesOfDifferentLengthsMatchSoloRuns) {
  Saved a, b;
  model().trace([&](Tracer& tracer) {
    tracer.invoke(kPrompt, [&] { a = model()["lm_head"].output().save(); });
    tracer.invoke(kOther, [&] { b = model()["lm_head"].output().save(); });
  });
  for (auto [saved, prompt] : {std::pair{&a, kPrompt}, std::pair{&b, kOther}}) {
    const at::Tensor solo = plain_logits(prompt);
    const at::Tensor mine = saved->tensor();
    ASSERT_EQ(mine.size(0), 1);
    const int64_t n = solo.size(1);  // the last n positions are the real tokens (left padding)
    EXPECT_TRUE(at::allclose(mine.narrow(1, mine.size(1) - n, n), solo, 1e-4, 1e-4)) << prompt;
  }
}

TEST_F(LmApi, PatchAcrossInvokes) {
  Saved clean_last, patched_last;
  model().trace([&](Tracer& tracer) {
    Proxy clean;
    tracer.invoke(kPrompt, [&] {
      clean = model()["model.layers"][2].output()[0];
      clean_last = clean[{Slice(), -1}].clone().save();
    });
    tracer.invoke(kOther, [&] {
      Proxy h = model()["model.layers"][2].output()[0];
      h.index_put_({Slice(), -1}, clean[{Slice(), -1}]);
      patched_last = model()["model.layers"][3].input()[{Slice(), -1}].save();
    });
  });
  EXPECT_TRUE(at::equal(patched_last.tensor(), clean_last.tensor()));
}

TEST_F(LmApi, EmbeddingsSwappedAcrossInvokesAndTraces) {
  const at::Tensor source = ids(kPrompt);
  const at::Tensor filler = at::full_like(source, 42);  // same length, other tokens
  Saved embeddings, patched;
  model().trace([&](Tracer& tracer) {
    tracer.invoke(source, [&] { embeddings = model()["model.embed_tokens"].output().save(); });
    tracer.invoke(filler, [&] {
      model()["model.embed_tokens"].set_output(embeddings);
      patched = model()["lm_head"].output().save();
    });
  });
  EXPECT_TRUE(at::allclose(patched.tensor(), plain_logits(kPrompt), 1e-5, 1e-5));
  // Across traces: the saved tensor is an ordinary value in the next trace.
  Saved patched2;
  model().trace(filler, [&] {
    model()["model.embed_tokens"].set_output(embeddings.tensor());
    patched2 = model()["lm_head"].output().save();
  });
  EXPECT_TRUE(at::allclose(patched2.tensor(), plain_logits(kPrompt), 1e-5, 1e-5));
}

TEST_F(LmApi, ConditionalIntervention) {
  Saved post;
  Traced run = model().trace(kPrompt, [&](Tracer& tracer) {
    Proxy small = (model()["model.layers"][2].output()[0] < 100000).float_().min() == 1;
    tracer.cond(small, [&] { model()["model.layers"][-1].output()[0].set({Slice()}, 0); });
    post = model()["model.layers"][-1].output()[0].save();
  });
  EXPECT_TRUE(all_zero(post.tensor()));
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(LmApi, InputSettingAcrossTraces) {
  Saved before, after;
  Traced run = model().session([&] {
    Proxy hs;
    model().trace(kPrompt, [&] {
      hs = model()["model.layers"][3].inputs();
      before = model()["lm_head"].output().argmax(-1).save();
    });
    model().trace(kPrompt, [&] {
      model()["model.layers"][3].set_input(hs[0][0]);
      after = model()["lm_head"].output().argmax(-1).save();
    });
  });
  EXPECT_TRUE(at::equal(before.tensor(), after.tensor()));
  EXPECT_EQ(run.live_values(), 2u);
}

TEST_F(LmApi, ParameterAccessIsACloneAndSafe) {
  const at::Tensor& weight = model().causal_lm().at("model.layers.0.mlp.down_proj").parameter("weight");
  const at::Tensor reference = plain_logits(kPrompt);
  Saved w;
  model().trace(kPrompt, [&] {
    Proxy p = model()["model.layers.0.mlp.down_proj"].weight();
    w = p.clone().save();
    p.set({Slice()}, 0);  // edits the clone only
  });
  EXPECT_TRUE(at::equal(w.tensor(), weight));
  EXPECT_NE(w.tensor().data_ptr(), weight.data_ptr());
  EXPECT_TRUE(at::equal(plain_logits(kPrompt), reference));
}

TEST_F(LmApi, LogitLensThroughOutOfBandCalls) {
  const auto layers = static_cast<int64_t>(model().causal_lm().num_layers());
  std::vector<Saved> lens(static_cast<std::size_t>(layers));
  Saved logits;
  model().trace(kPrompt, [&] {
    for (int64_t l = 0; l < layers; ++l) {
      Proxy h = model()["model.layers"][l].output()[0];
      lens[static_cast<std::size_t>(l)] = model()["lm_head"](model()["model.norm"](h)).softmax(-1).save();
    }
    logits = model()["lm_head"].output().save();
  });
  EXPECT_TRUE(at::allclose(lens.back().tensor(), logits.tensor().softmax(-1), 1e-6, 1e-6));
  EXPECT_FALSE(at::allclose(lens.front().tensor(), lens.back().tensor(), 1e-3, 1e-3));
  EXPECT_TRUE(at::allclose(lens.front().tensor().sum(-1), at::ones({1, ids(kPrompt).size(1)}), 1e-5, 1e-5));
}

TEST_F(LmApi, OnlyTheSavedLogitsSurvive) {
  Saved logits;
  std::size_t live_at_head = 0;
  Traced run = model().trace(kPrompt, [&](Tracer& tracer) {
    Proxy early = (model()["model.layers"][0].output()[0] * 2).sum();
    Proxy mid = model()["model.layers"][2].output()[0].softmax(-1).mean();
    Proxy both = early + mid;  // last use of the intermediate values
    (void)both;
    logits = model()["lm_head"].output().save();
    graph::Graph* g = &logits.graph();  // a raw pointer: the graph owns this callable
    tracer.apply(
        [g, &live_at_head](std::vector<Value>&, const Dict&) {
          live_at_head = g->live_values();
          return Value();
        },
        {logits});
  });
  EXPECT_EQ(live_at_head, 1u);  // only the logits: every intermediate was freed after its last use
  EXPECT_EQ(run.live_values(), 1u);
}

TEST_F(LmApi, ZeroingAnMlpMatchesRunningTheModelWithThatOutputZeroed) {
  Saved logits;
  model().trace(kPrompt, [&] {
    model()["model.layers"][2]["mlp"].output().set({Slice()}, 0);
    logits = model()["lm_head"].output().save();
  });
  // Hook-free: a down projection with zero weights makes the MLP output exactly 0.
  Module& down = model().causal_lm().at("model.layers.2.mlp.down_proj");
  const at::Tensor weight = down.parameter("weight");
  down.set_parameter("weight", at::zeros_like(weight));
  const at::Tensor by_hand = plain_logits(kPrompt);
  down.set_parameter("weight", weight);
  EXPECT_LE((logits.tensor() - by_hand).abs().max().item<double>(), 1e-6);
  EXPECT_FALSE(at::allclose(by_hand, plain_logits(kPrompt), 1e-3, 1e-3));
}

TEST_F(LmApi, CacheOfEveryModuleOnARealModel) {
  // Containers (model.layers) are never called; every other module has exactly one output.
  Cache cache;
  Saved mlp, logits;
  model().trace(kPrompt, [&](Tracer& tracer) {
    cache = tracer.cache();
    mlp = model()["model.layers.3.mlp"].output().save();
    logits = model()["lm_head"].output().save();
  });
  const std::vector<std::string> paths = cache.paths();
  EXPECT_EQ(paths.size(), 71u);  // root, model, embed_tokens, rotary_emb, 5 x 13 layer modules, norm, lm_head
  EXPECT_EQ(std::count(paths.begin(), paths.end(), "model.layers"), 0);
  for (const std::string& p : paths) EXPECT_EQ(cache.outputs(p).size(), 1u) << p;
  EXPECT_TRUE(at::equal(cache.output("model.layers.3.mlp").as_tensor(), mlp.tensor()));
  EXPECT_TRUE(at::equal(cache.output("lm_head").as_tensor(), logits.tensor()));
  EXPECT_TRUE(at::equal(cache.output("").as_tensor(), plain_logits(kPrompt)));
}

}  // namespace
}  // namespace nnsight
