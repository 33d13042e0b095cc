// run_document: a decoded graph document as a recording of the tracing API.

#include "nnsight/api/document_runner.h"

#include <memory>
#include <utility>

#include "nnsight/api/trace_state.h"

namespace nnsight {
namespace {

/// The cooperative stop check: throws once the deadline passed or a cancel was requested.
class Interrupt {
 public:
  explicit Interrupt(const DocumentRunOptions& options) : options_(options) {}

  void check(const std::string& where) {
    const bool cancelled = options_.cancel != nullptr && options_.cancel->load(std::memory_order_relaxed);
    const bool late = options_.deadline && std::chrono::steady_clock::now() > *options_.deadline;
    if (!cancelled && !late) return;
    fired_ = true;
    by_deadline_ = late && !cancelled;
    if (by_deadline_)
      throw Error("the run took longer than its wall-time limit", where,
                  "ask for fewer new tokens or less work per request, or raise the limit");
    throw Error("the run was cancelled", where);
  }
  bool fired() const { return fired_; }
  bool by_deadline() const { return by_deadline_; }

 private:
  const DocumentRunOptions& options_;
  bool fired_ = false;
  bool by_deadline_ = false;
};

/// Restores a graph's log sink and interrupt check when the run ends (also on errors).
struct GraphHooksGuard {
  graph::Graph& g;
  graph::LogSink old;
  ~GraphHooksGuard() {
    g.set_log_sink(std::move(old));
    g.set_interrupt_check({});
  }
};

}  // namespace

DocumentResult run_document(LanguageModel& model, const format::GraphDocument& doc, const DocumentRunOptions& options) {
  if (!doc.graph) throw Error("the graph document has no graph");
  graph::Graph& g = *doc.graph;
  DocumentResult result;
  Interrupt interrupt(options);

  api_detail::Recording recording;
  recording.graph = doc.graph;
  for (int32_t t = 0; t < g.size(); ++t) {
    if (g.node(t).kind != graph::NodeKind::Trace) continue;
    const format::TraceSettings& settings = doc.trace(t);
    auto setup = std::make_unique<api_detail::TraceSetup>();
    setup->implicit_invoke = !g.node(t).args.empty();
    setup->invoke_inputs = settings.invokes;
    setup->strict_order = settings.strict_order;
    setup->where = "trace (node " + std::to_string(t) + ") at " + doc.where(t);
    const std::string where = setup->where;
    if (settings.generate) {
      setup->run = model.generation_loop(*settings.generate, [&interrupt, where](int64_t, int64_t) {
        interrupt.check("after a generated token of the " + where);
      });
    } else {
      setup->run = [&model, &interrupt, where](Inputs& inputs) {
        interrupt.check("before the forward pass of the " + where);
        return model.forward(inputs);
      };
    }
    recording.setups[t] = std::move(setup);
  }

  GraphHooksGuard guard{g, g.log_sink()};
  g.set_interrupt_check([&interrupt] { interrupt.check("at a pass of a loop"); });
  g.set_log_sink([&result, &options](const std::string& line) {
    result.logs.push_back(line);
    if (options.log) options.log(line);
  });
  try {
    model.run_recording(recording);
  } catch (const Error& e) {
    if (interrupt.fired()) throw RunInterrupted(e, interrupt.by_deadline());
    throw;
  }

  for (int32_t i = 0; i < g.size(); ++i) {
    const graph::Node& n = g.node(i);
    if (n.kind != graph::NodeKind::Save || !n.executed || n.args.empty() || !n.args[0].is_ref()) continue;
    const graph::Node& target = g.node(static_cast<int32_t>(n.args[0].as_ref()));
    if (target.has_value) result.saved.emplace(i, target.value);
  }
  for (const auto& [t, setup] : recording.setups)
    if (doc.trace(t).generate) result.generated.emplace(t, setup->output);
  return result;
}

}  // namespace nnsight
