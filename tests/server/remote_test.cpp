// The C++ remote backend (src/nnsight/remote): the same trace code run through
// RemoteModel against nnsight serve on loopback gives exactly the local values.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nnsight/remote/remote_model.h"
#include "nnsight/server/server.h"
#include "server/patching_fixture.h"

namespace nnsight {
namespace {

constexpr const char* kKey = "remote-key-0123456789abcdef";

struct Patched {
  at::Tensor clean, patched, lens;
};

/// Activation patching written once against any Model: layer 2's last-position residual of the clean
/// prompt patched into the corrupt one, plus a logit lens of the patched residual (a module call).
template <class M>
Patched activation_patching(M& model) {
  Saved clean, patched, lens;
  model.trace([&](Tracer& tracer) {
    Proxy source;
    tracer.invoke(test::kCleanPrompt, [&] {
      source = model["model.layers.2"].output()[0][{Slice(), -1}];
      clean = model["lm_head"].output()[{0, -1}].save();
    });
    tracer.invoke(test::kCorruptPrompt, [&] {
      Proxy h = model["model.layers.2"].output()[0];
      h.set({Slice(), -1}, source);
      patched = model["lm_head"].output()[{0, -1}].save();
      lens = model["lm_head"](model["model.norm"](h))[{0, -1}].softmax(-1).save();
    });
  });
  return {clean.tensor(), patched.tensor(), lens.tensor()};
}

class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_STORIES();
    server::ServerOptions options;
    options.port = 0;
    options.keys = server::ApiKeys::from({{"alice", kKey}});
    options.log = &log_;
    auto copy = std::make_unique<LanguageModel>(test::stories()->edit([] {}));
    server_ = std::make_unique<server::Server>(
        std::vector{server::serve_model("stories", std::move(copy), "stories260K-hf")}, options);
    endpoint_.url = "http://127.0.0.1:" + std::to_string(server_->start());
    endpoint_.api_key = kKey;
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  std::ostringstream log_;
  std::unique_ptr<server::Server> server_;
  remote::Endpoint endpoint_;
};

TEST_F(RemoteTest, ActivationPatchingEqualsTheLocalRunExactly) {
  remote::RemoteModel remote = remote::RemoteModel::connect(endpoint_, "stories");
  EXPECT_EQ(remote.name(), "stories");
  EXPECT_EQ(remote["model.layers.2.mlp.down_proj"].module().parameter("weight").sizes(), at::IntArrayRef({64, 172}));

  const Patched local = activation_patching(*test::stories());
  const Patched there = activation_patching(remote);
  EXPECT_TRUE(at::equal(there.clean, local.clean));
  EXPECT_TRUE(at::equal(there.patched, local.patched));
  EXPECT_TRUE(at::equal(there.lens, local.lens));
  EXPECT_FALSE(at::equal(local.clean, local.patched));  // the patch changed something
  EXPECT_EQ(there.patched.sizes(), at::IntArrayRef({512}));
}

TEST_F(RemoteTest, GenerationWithAnInterventionEqualsTheLocalRun) {
  remote::RemoteModel remote = remote::RemoteModel::connect(endpoint_);  // the only model: no name needed
  auto run = [](auto& model) {
    Saved step_logits;
    Traced t = model.generate("Once upon a time", {.max_new_tokens = 6}, [&] {
      model["model.layers.1.mlp"].next().output().set({Slice()}, 0.0);  // step 1 only
      step_logits = model["lm_head"].next().output().save();            // step 2
    });
    return std::make_pair(LanguageModel::tokens_of(t), step_logits.tensor());
  };
  const auto [local_tokens, local_logits] = run(*test::stories());
  const auto [remote_tokens, remote_logits] = run(remote);
  EXPECT_EQ(remote_tokens, local_tokens);
  EXPECT_TRUE(at::equal(remote_logits, local_logits));
  ASSERT_EQ(remote_tokens.size(), 1u);
  EXPECT_EQ(remote_tokens[0].size(), 6u);
}

TEST_F(RemoteTest, ServerErrorsNameTheClientsLine) {
  remote::RemoteModel remote = remote::RemoteModel::connect(endpoint_, "stories");
  int line = 0;
  try {
    remote.trace("Once upon a time", [&] {
      line = __LINE__ + 1;
      (remote["model.layers.0"].output()[0] + at::ones({3})).save();
    });
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("must match the size of tensor b (3)"), std::string::npos) << text;
    EXPECT_NE(text.find("remote_test.cpp:" + std::to_string(line)), std::string::npos) << text;
    EXPECT_NE(text.find(endpoint_.url), std::string::npos) << text;
  }
  // The model is still usable, remotely and locally.
  const Patched again = activation_patching(remote);
  EXPECT_TRUE(at::equal(again.patched, activation_patching(*test::stories()).patched));
}

TEST_F(RemoteTest, ConnectionProblemsAreClear) {
  remote::Endpoint wrong_key = endpoint_;
  wrong_key.api_key = "not-the-key-0123456789";
  EXPECT_THROW(remote::RemoteModel::connect(wrong_key, "stories"), Error);
  try {
    remote::RemoteModel::connect(endpoint_, "gpt-17");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no model 'gpt-17'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'stories'"), std::string::npos) << e.what();
  }
  remote::Endpoint nobody = endpoint_;
  nobody.url = "http://127.0.0.1:1";
  try {
    remote::RemoteModel::connect(nobody);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no answer from the server"), std::string::npos) << e.what();
  }
}

TEST_F(RemoteTest, WhatCannotBeSentIsRejectedOnTheClient) {
  remote::RemoteModel remote = remote::RemoteModel::connect(endpoint_, "stories");
  EXPECT_TRUE(remote["lm_head"].module().parameter("weight").is_meta());  // shapes only: no weights here
  try {
    remote.scan("Once upon a time");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be scanned"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nnsight
