#pragma once
/// @file
/// RemoteModel: the tracing API over a model hosted by `nnsight serve`.
/// Traces are recorded exactly as for a local Model (same Envoy paths, proxies,
/// invokes, sessions, generate), then sent as a graph document; the saved
/// values come back into the same Saved handles.
///
/// ```
///   auto model = nnsight::remote::RemoteModel::connect({.url = "http://127.0.0.1:8080", .api_key = key}, "stories");
///   nnsight::Saved logits;
///   model.trace("Once upon a time", [&] { logits = model["lm_head"].output().save(); });
///   at::Tensor t = logits.tensor();   // computed on the server
/// ```
///
/// Inputs are what the server's LanguageModel takes: prompts, token id lists,
/// int tensors. Not available remotely: Apply nodes (C++ callables cannot be
/// sent), scan/validate (the client has no weights), the model's output in
/// Traced::output of a plain trace (save what you need).

#include <nlohmann/json.hpp>
#include <string>

#include "nnsight/api/model.h"
#include "nnsight/remote/connection.h"
#include "nnsight/runtime/generation/generate.h"

namespace nnsight::remote {

/// A Model whose recorded traces run on an `nnsight serve` server (see the file comment).
class RemoteModel : public Model {
 public:
  /// Reads the server's models (GET /v1/models) and builds `name`'s module
  /// tree; `name` may be empty when the server hosts one model. Throws Error
  /// when the server is unreachable, refuses the key, or has no such model.
  static RemoteModel connect(const Endpoint& endpoint, const std::string& name = "");

  /// The model's name on the server.
  const std::string& name() const { return name_; }
  /// The server's description of the model (architecture, config, modules).
  const nlohmann::json& description() const { return description_; }

  /// Traces a generation on the server (LanguageModel::generate there), from
  /// `input` or from the tracer's invokes; Traced::output is the new tokens of
  /// every row (a list of int lists).
  ///@{
  template <class F>
  Traced generate(graph::Arg input, const GenerateOptions& options, F&& body, Loc loc = Loc::current()) {
    return trace_impl(&input, as_tracer_body(std::forward<F>(body)), loc, remote_generation(options));
  }
  template <class F>
  Traced generate(const GenerateOptions& options, F&& body, Loc loc = Loc::current()) {
    return trace_impl(nullptr, as_tracer_body(std::forward<F>(body)), loc, remote_generation(options));
  }
  ///@}

  /// Sends the recorded traces to the server and fills their saved values.
  void run_recording(api_detail::Recording& recording) override;

 private:
  RemoteModel(Connection connection, std::string name, nlohmann::json description);
  static std::function<Value(Inputs&)> remote_generation(const GenerateOptions& options);

  Connection connection_;
  std::string name_;
  nlohmann::json description_;
};

}  // namespace nnsight::remote
