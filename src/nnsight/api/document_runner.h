#pragma once
/// @file
/// Runs a decoded graph document (format/graph_json.h) on a loaded
/// LanguageModel: what `nnsight run` executes and `nnsight serve` runs per job.
///
/// ```
///   format::GraphDocument doc = format::document_from_json(j, {.limits = limits});
///   DocumentResult r = run_document(model, doc, {.deadline = clock::now() + 10s});
///   const Value& clean = r.saved.at(5);          // the value kept by Save node 5
/// ```
///
/// Each trace is run as the tracing API would run it (LanguageModel::prepare
/// batches its input or invokes, strict_order applies, `generate` runs the
/// traced generation loop), with the model attached for module calls and
/// parameter reads. Errors name the node and the client's source line (the
/// decoder gives the graph the client's locations).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nnsight/api/language_model.h"
#include "nnsight/base/error.h"
#include "nnsight/format/graph_json.h"

namespace nnsight {

/// How run_document may be stopped, and where `print` lines go as they are written.
struct DocumentRunOptions {
  /// The run stops with RunInterrupted at the first check after this time:
  /// checks happen before each trace's forward pass and after every generated
  /// token (a session-level loop without model calls is not interrupted).
  std::optional<std::chrono::steady_clock::time_point> deadline;
  /// Set from another thread to stop the run at the next check.
  const std::atomic<bool>* cancel = nullptr;
  /// Also receives each `print` line as it is written (DocumentResult::logs
  /// gets them too), so a failed run's lines are not lost.
  graph::LogSink log;
};

/// What a run leaves.
struct DocumentResult {
  /// By Save node id: the value of the node it saves. Saves that did not run
  /// (a branch not taken, a stop before them) are absent.
  std::map<int32_t, Value> saved;
  /// By Trace node id, for generation traces: the new token ids of every row
  /// (a list of int lists).
  std::map<int32_t, Value> generated;
  /// Lines written by `print` nodes, in order.
  std::vector<std::string> logs;
};

/// The run passed its deadline or was cancelled (an Error, so callers that do
/// not care treat it like any other failure).
class RunInterrupted : public Error {
 public:
  /// `e` (the message, location and hint) as an interruption; `deadline` says why.
  RunInterrupted(const Error& e, bool deadline) : Error(e.message(), e.where(), e.hint()), deadline_(deadline) {}
  /// True: the deadline passed; false: cancelled.
  bool deadline() const { return deadline_; }

 private:
  bool deadline_;
};

/// Runs every trace (and session-level node) of `doc` on `model`. Throws
/// Error naming the failing node (with the client's source line), or
/// RunInterrupted. The document's graph keeps its run state afterwards.
DocumentResult run_document(LanguageModel& model, const format::GraphDocument& doc,
                            const DocumentRunOptions& options = {});

}  // namespace nnsight
