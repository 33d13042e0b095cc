#pragma once
/// @file
/// LanguageModel: NNsight's LanguageModel in C++ — a loaded causal LM plus its
/// tokenizer, traced with prompts.
///
/// ```
///   auto model = LanguageModel::load("../shared/models/stories260K-hf",
///                                    {.tokenizer_path = ".../tok512.bin"});
///   Saved logits;
///   model.trace("Once upon a time", [&] { logits = model["lm_head"].output().save(); });
/// ```
///
/// An input is a prompt (string), a list of prompts, token ids (a list of ints
/// or an int tensor [T] or [B, T]). Invokes are batched with LEFT padding and an
/// attention mask, so each invoke's rows compute what they would alone.
///
/// generate(input, options, body) traces a whole generation with a KV cache:
/// call k of every module is generation step k (step 0 = the prompt), so
/// `model["lm_head"].next().output()` or `tracer.iter(Slice{1, 3}, ...)` pick
/// steps. The output is the new token ids of every row (a list of int lists).
/// Each step's lm_head sees only the last position (as with logits_to_keep=1).

#include <memory>
#include <string>
#include <vector>

#include "nnsight/api/model.h"
#include "nnsight/runtime/generation/generate.h"
#include "nnsight/runtime/model_loader.h"

namespace nnsight {

/// A traced causal language model with its tokenizer (see the file comment).
class LanguageModel : public Model {
 public:
  /// Takes over a loaded model; throws Error when it has no tokenizer.
  explicit LanguageModel(LoadedModel loaded);
  /// Loads a Hugging Face folder, GGUF file or llama2.c checkpoint (load_model).
  static LanguageModel load(const std::string& path, const LoadOptions& options = {});

  CausalLM& causal_lm() { return *lm_; }                       ///< the model's module tree
  const Tokenizer& tokenizer() const { return *tokenizer_; }   ///< the tokenizer prompts go through
  const ModelConfig& config() const { return lm_->config(); }  ///< the architecture and sizes
  /// Token ids of a prompt (with BOS when the tokenizer adds one).
  std::vector<int64_t> tokenize(const std::string& prompt) const;

  /// Traces a generation from `input` (one invoke); Traced::output holds the
  /// new tokens of every row (a list of int lists).
  template <class F>
  Traced generate(graph::Arg input, const GenerateOptions& options, F&& body, Loc loc = Loc::current()) {
    return trace_impl(&input, as_tracer_body(std::forward<F>(body)), loc, generation_loop(options));
  }
  /// The same with invokes (tracer.invoke) batched into one generation.
  template <class F>
  Traced generate(const GenerateOptions& options, F&& body, Loc loc = Loc::current()) {
    return trace_impl(nullptr, as_tracer_body(std::forward<F>(body)), loc, generation_loop(options));
  }
  /// NNsight's `model.edit()` for language models: a copy sharing this
  /// model's module tree, weights and tokenizer (this model must outlive it),
  /// with this model's edits plus `body` (which may take the copy,
  /// LanguageModel&). See Model::edit_in_place to edit this model itself.
  template <class F>
  LanguageModel edit(F&& body, Loc loc = Loc::current()) {
    LanguageModel copy(*this, SharedTree{});
    copy.edits_ = edits_;
    record_edit(copy, body, loc);
    return copy;
  }

  /// The rows of a generation's output as token id vectors.
  static std::vector<std::vector<int64_t>> tokens_of(const Traced& generated);

  /// A trace's run function (api_detail::TraceSetup::run) that decodes over the
  /// batched prompts, one model call per step; `on_token` sees each new token
  /// (it may throw to end the generation, e.g. at a deadline).
  std::function<Value(Inputs&)> generation_loop(const GenerateOptions& options, TokenCallback on_token = {});

 protected:
  Batch prepare(const std::vector<Value>& invoke_inputs) override;

 private:
  struct SharedTree {};
  LanguageModel(LanguageModel& other, SharedTree) : Model(*other.root_), lm_(other.lm_), tokenizer_(other.tokenizer_) {}
  void add_rows(const Value& input, std::vector<std::vector<int64_t>>& rows) const;

  CausalLM* lm_;
  std::shared_ptr<const Tokenizer> tokenizer_;
};

}  // namespace nnsight
