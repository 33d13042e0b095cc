// Model: recording traces and sessions, batching invokes, running the forward
// pass through the interleaver.

#include "nnsight/api/model.h"

#include <ATen/ops/cat.h>
#include <c10/util/Exception.h>

#include <optional>

#include "nnsight/base/error.h"
#include "nnsight/graph/recording.h"
#include "nnsight/interleave/interleaver.h"
#include "nnsight/runtime/call_recorder.h"
#include "nnsight/runtime/forward_context.h"
#include "nnsight/runtime/meta_parameters.h"

namespace nnsight {
namespace {

/// Sets a pointer for a scope and restores the old value (also on exceptions).
template <class T>
class PointerGuard {
 public:
  PointerGuard(T*& slot, T* value) : slot_(slot), old_(slot) { slot_ = value; }
  ~PointerGuard() { slot_ = old_; }
  PointerGuard(const PointerGuard&) = delete;
  PointerGuard& operator=(const PointerGuard&) = delete;

 private:
  T*& slot_;
  T* old_;
};

}  // namespace

std::size_t Traced::live_values() const { return graph ? graph->live_values() : 0; }

Model::Model(Module& root) : root_(&root) {}
Model::Model(std::unique_ptr<Module> root) : root_(root.get()), owned_(std::move(root)) {
  if (root_ == nullptr) throw Error("Model needs a module tree, got null");
}
Model::~Model() = default;
Model::Model(Model&& other) noexcept
    : root_(other.root_),
      owned_(std::move(other.owned_)),
      edits_(std::move(other.edits_)),
      tracing_(nullptr),
      session_(nullptr) {}

Envoy Model::operator[](const std::string& path) { return Envoy(*this, root_->at(path)); }

api_detail::TraceState& Model::tracing(const Loc& loc, const char* what) {
  if (tracing_ == nullptr)
    throw Error(std::string(what) + " is only available while a trace is being recorded", format_location(loc),
                "use it inside the body of model.trace(...)");
  return *tracing_;
}

Traced Model::trace_impl(const graph::Arg* input, const std::function<void(Tracer&)>& body, const Loc& loc,
                         std::function<Value(Inputs&)> run, const TraceOptions& options, Scanned* scan_only) {
  if (tracing_ != nullptr)
    throw Error("model.trace was called inside another trace of the same model", format_location(loc),
                "traces cannot be nested; use model.session(...) to run several traces together");
  if ((options.validate || scan_only != nullptr) && (session_ != nullptr || run))
    throw Error(std::string(scan_only != nullptr ? "scan" : "validate") +
                    " works on a stand-alone trace (one forward pass), not inside a session or a generation",
                format_location(loc), "scan the trace on its own first: model.scan(input, body)");
  api_detail::Recording local;
  api_detail::Recording* recording = session_ != nullptr ? session_ : &local;
  if (session_ == nullptr) local.graph = graph::Graph::create();
  std::vector<Value> trace_inputs;
  if (input != nullptr) {
    if (input->graph && input->graph != recording->graph)
      throw Error("the trace's input is a value of another graph", format_location(loc),
                  "values of one trace reach another only inside model.session(...)");
    trace_inputs.push_back(input->value);
  }
  auto setup = std::make_unique<api_detail::TraceSetup>();
  setup->implicit_invoke = input != nullptr;
  setup->run = std::move(run);
  setup->loc = loc;
  auto record = [&](api_detail::TraceState& state) {
    {
      // Edits come first: they act on the whole batch, before the trace's own interventions.
      graph::BatchGroupScope whole_batch(*state.graph, -1);
      for (const RecordedEdit& edit : edits_) state.graph->inline_trace(*edit.graph, edit.trace);
    }
    Tracer tracer(*this, state);
    if (input != nullptr) {
      graph::BatchGroupScope invoke(*state.graph, 0);
      state.in_invoke = true;
      body(tracer);
    } else {
      body(tracer);
    }
  };
  const int32_t index =
      record_trace(session_ != nullptr ? nullptr : local.graph, std::move(trace_inputs), *setup, nullptr, record);
  api_detail::TraceSetup* done = setup.get();
  recording->setups[index] = std::move(setup);
  if (session_ != nullptr) return Traced{Value(), recording->graph};
  if (options.validate || scan_only != nullptr) {
    Scanned discarded;  // validate only checks; its call log is not kept
    local.scan = scan_only != nullptr ? scan_only : &discarded;
    run_recording(local);
    local.scan = nullptr;
    if (scan_only != nullptr) return Traced{done->output, local.graph};
  }
  run_recording(local);
  return Traced{done->output, local.graph};
}

void Model::record_edit_trace(Model& target, const std::function<void()>& body, const Loc& loc) {
  if (tracing_ != nullptr || session_ != nullptr || target.tracing_ != nullptr || target.session_ != nullptr)
    throw Error("model.edit was called inside a trace or session", format_location(loc),
                "record edits before tracing, outside model.trace(...) and model.session(...)");
  auto g = graph::Graph::create();
  api_detail::TraceSetup setup;
  setup.loc = loc;
  setup.what = "edit";
  const int32_t index = record_trace(g, {}, setup, &target, [&](api_detail::TraceState& state) {
    state.in_invoke = true;  // an edit has no invokes: it sees the whole batch
    body();
  });
  target.edits_.push_back(RecordedEdit{g, index});
}

int32_t Model::record_trace(std::shared_ptr<graph::Graph> g, std::vector<Value> inputs, api_detail::TraceSetup& setup,
                            Model* also, const std::function<void(api_detail::TraceState&)>& body) {
  api_detail::TraceState state;
  state.setup = &setup;
  graph::TraceScope scope(std::move(g), std::move(inputs), setup.loc);
  state.graph = scope.graph();
  state.index = scope.index();
  PointerGuard guard(tracing_, &state);
  // An edit: the edited model's envoys (a copy's, for model.edit) record into this trace too.
  std::optional<PointerGuard<api_detail::TraceState>> also_guard;
  if (also != nullptr) also_guard.emplace(also->tracing_, &state);
  body(state);
  return state.index;
}

Traced Model::session_impl(const std::function<void(Session&)>& body, const Loc& loc) {
  if (session_ != nullptr || tracing_ != nullptr)
    throw Error("model.session was called inside another session or trace", format_location(loc),
                "sessions cannot be nested");
  api_detail::Recording recording;
  recording.graph = graph::Graph::create();
  {
    graph::SessionScope scope(recording.graph);
    PointerGuard guard(session_, &recording);
    Session session;
    body(session);
  }
  run_recording(recording);
  return Traced{Value(), recording.graph};
}

void Model::run_recording(api_detail::Recording& recording) {
  struct Runner : graph::TraceRunner {
    Model& model;
    api_detail::Recording& recording;
    Runner(Model& m, api_detail::Recording& r) : model(m), recording(r) {}

    void run(graph::InterventionGraph& ig) override {
      api_detail::TraceSetup& setup = *recording.setups.at(ig.index());
      std::vector<Value> inputs;
      if (setup.implicit_invoke) inputs.push_back(ig.inputs().at(0));
      inputs.insert(inputs.end(), setup.invoke_inputs.begin(), setup.invoke_inputs.end());
      if (inputs.empty())
        throw Error("the trace has no input", setup.describe(),
                    "pass an input to model.trace(input, ...) or add one with tracer.invoke(input, ...)");
      Batch batch;
      try {
        batch = model.prepare(inputs);
      } catch (const Error& e) {
        throw e.with_context(setup.describe());
      }
      if (recording.shape_only()) to_meta(batch.inputs);
      ig.set_strict_order(setup.strict_order);
      interleave::Interleaver interleaver(*model.root_, ig, batch.groups);
      try {
        interleaver.run([&] {
          if (!recording.shape_only()) {
            setup.output = setup.run ? setup.run(batch.inputs) : model.forward(batch.inputs);
            return;
          }
          // Inside the interleaver's hooks, so the log shows the values after interventions.
          CallRecorder recorder(*model.root_);
          setup.output = model.forward(batch.inputs);
          recording.scan->calls = recorder.take_calls();
        });
      } catch (const Error& e) {
        throw e.with_context(setup.describe());
      }
    }
  } runner(*this, recording);
  // A scan computes on meta copies of the parameters; the real ones are back when it ends, also on errors.
  std::optional<MetaParameters> meta_parameters;
  if (recording.shape_only()) meta_parameters.emplace(*root_);
  recording.graph->set_shape_only(recording.shape_only());
  // Parameter reads and module calls can run before the first hook (at the start of a trace).
  interleave::ModuleTreeCaller caller(*root_);
  recording.graph->set_module_caller(&caller);
  struct Detach {
    graph::Graph& g;
    ~Detach() {
      g.set_module_caller(nullptr);
      g.set_shape_only(false);
    }
  } detach{*recording.graph};
  recording.graph->run(runner);
}

Model::Batch Model::prepare(const std::vector<Value>& invoke_inputs) {
  Batch batch;
  std::vector<at::Tensor> parts;
  int64_t start = 0;
  for (const Value& v : invoke_inputs) {
    if (!v.is_tensor() || !v.as_tensor().defined() || v.as_tensor().dim() == 0)
      throw Error("the model's input must be a tensor with a batch dimension, got " + v.repr(), "",
                  "pass a tensor [batch, ...] to trace(...) or invoke(...)");
    parts.push_back(v.as_tensor());
    batch.groups.push_back({start, v.as_tensor().size(0)});
    start += v.as_tensor().size(0);
  }
  try {
    batch.inputs = Inputs({Value(parts.size() == 1 ? parts[0] : at::cat(parts, 0))});
  } catch (const c10::Error& e) {
    throw Error(std::string("the invokes' inputs cannot be batched: ") + e.what_without_backtrace(), "",
                "every invoke's input must have the same shape except for dim 0");
  }
  return batch;
}

Value Model::forward(Inputs& inputs) {
  ForwardContext ctx;
  return (*root_)(std::move(inputs), ctx);
}

}  // namespace nnsight
