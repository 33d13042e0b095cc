// Executor: the interpreter shared by trace-level (hook driven) and
// session-level / loop-body (sequential) execution.

#include "nnsight/graph/executor.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <optional>

#include "nnsight/base/error.h"
#include "nnsight/base/meta.h"
#include "nnsight/graph/gradients.h"
#include "nnsight/graph/intervention_graph.h"
#include "nnsight/graph/value_refs.h"
#include "nnsight/runtime/meta_parameters.h"

namespace nnsight::graph {
namespace {

/// Marks node `i` as the backward pass running now: Grad hooks compare it
/// with their own index (each .grad belongs to the next backward).
class RunningBackward {
 public:
  RunningBackward(Graph& g, int32_t i) : g_(g), previous_(g.running_backward()) { g_.set_running_backward(i); }
  ~RunningBackward() { g_.set_running_backward(previous_); }
  RunningBackward(const RunningBackward&) = delete;
  RunningBackward& operator=(const RunningBackward&) = delete;

 private:
  Graph& g_;
  int32_t previous_;
};

}  // namespace

int32_t enclosing_trace(const Graph& g, int32_t i) {
  for (int32_t p = g.node(i).parent; p >= 0; p = g.node(p).parent)
    if (g.node(p).kind == NodeKind::Trace) return p;
  return g.node(i).kind == NodeKind::Trace ? i : -1;
}

Value Executor::resolve(const Value& v) const {
  return map_refs(v, [&](int32_t r) -> Value {
    const Node& d = g_.node(r);
    if (!d.has_value)
      throw Error("the value of " + g_.label(r) + " is no longer available", {},
                  "this is a bug in the graph's memory bookkeeping; please report it");
    return d.value;
  });
}

std::vector<Value> Executor::resolve_all(const std::vector<Value>& args) const {
  std::vector<Value> out;
  out.reserve(args.size());
  for (const auto& a : args) out.push_back(resolve(a));
  return out;
}

bool Executor::fulfilled(int32_t i) const {
  for (int32_t d : g_.node(i).deps)
    if (!g_.node(d).executed) return false;
  return true;
}

void Executor::release(int32_t i, int32_t floor) {
  Node& n = g_.node(i);
  if (n.kind == NodeKind::Save && n.executed) return;  // an executed Save never lets go: that keeps saved values
  for (int32_t d : n.deps) {
    if (kept(d, floor)) continue;
    Node& dep = g_.node(d);
    if (--dep.remaining_listeners <= 0) dep.destroy();
  }
}

void Executor::release_kept(int32_t i, int32_t inner, int32_t outer) {
  Node& n = g_.node(i);
  if (n.kind == NodeKind::Save && n.executed) return;
  for (int32_t d : n.deps) {
    if (!kept(d, inner) || kept(d, outer)) continue;
    Node& dep = g_.node(d);
    if (--dep.remaining_listeners <= 0) dep.destroy();
  }
}

void Executor::reset_node(int32_t i) {
  Node& n = g_.node(i);
  n.executed = n.skipped = n.taken = false;
  n.destroy();
  n.remaining_listeners = static_cast<int32_t>(n.listeners.size());
  if (n.kind == NodeKind::Grad) {
    GradInfo& gi = g_.grad(i);
    gi.registered = gi.fired = false;
    gi.swap.reset();
  }
}

void Executor::done(int32_t i, Value v, int32_t floor) {
  Node& n = g_.node(i);
  n.value = std::move(v);
  n.has_value = true;
  n.executed = true;
  release(i, floor);
  if (n.remaining_listeners <= 0) n.destroy();  // nobody will read it (e.g. the result of x[...] = v)
}

void Executor::skip_range(int32_t begin, int32_t end, int32_t floor, std::vector<int32_t>* record) {
  for (int32_t j = begin; j < end; ++j) {
    Node& n = g_.node(j);
    if (n.executed || n.skipped) continue;
    n.skipped = true;
    release(j, floor);
    if (record) record->push_back(j);
  }
}

void Executor::sweep(int32_t begin, int32_t end) {
  for (int32_t j = begin; j < end; ++j) {
    Node& n = g_.node(j);
    if (!n.has_value) continue;
    bool needed = false;
    for (int32_t l : n.listeners) {
      const Node& listener = g_.node(l);
      if ((!listener.executed && !listener.skipped) || (listener.kind == NodeKind::Save && listener.executed)) {
        needed = true;
        break;
      }
    }
    if (!needed) n.destroy();
  }
}

void Executor::rethrow_in_node(int32_t i) const {
  std::string where = "in " + g_.label(i);
  const int32_t t = enclosing_trace(g_, i);
  if (t >= 0) {
    const int32_t e = g_.context(t).trace.current_entry;
    if (e >= 0) where += " on " + g_.entry(e).key + ", iteration " + std::to_string(g_.entry(e).current_call);
  }
  where += "\nat " + g_.where(i);
  // A scan meets ops LibTorch 1.13 cannot run on meta tensors (no shape rule): that is not the user's mistake.
  auto missing_meta_kernel = [&](const std::string& message) {
    if (!g_.shape_only() || !is_missing_meta_kernel(message)) return;
    const std::size_t start = message.find("run '");
    const std::string op =
        start == std::string::npos ? "?" : message.substr(start + 5, message.find('\'', start + 5) - start - 5);
    throw Error(g_.label(i) + " cannot be checked without running the model: LibTorch 1.13 has no shape rule for " +
                    op + ", an op it uses",
                where, "run this trace without scan/validate");
  };
  try {
    throw;
  } catch (const Error& err) {
    missing_meta_kernel(err.message());
    throw Error(err.message(), err.where().empty() ? where : err.where() + "\n" + where, err.hint());
  } catch (const c10::Error& err) {
    missing_meta_kernel(err.what_without_backtrace());
    throw Error(err.what_without_backtrace(), where);
  } catch (const std::exception& err) {
    throw Error(err.what(), where);
  }
}

void Executor::not_runnable(int32_t i) const {
  for (int32_t d : g_.node(i).deps) {
    const Node& dep = g_.node(d);
    if (dep.executed) continue;
    if (dep.skipped)
      throw Error(g_.label(i) + " uses " + g_.label(d) + ", which did not run", "at " + g_.where(i),
                  "it is in a branch that was not taken, after a stop, or its module value never arrived");
    throw Error(g_.label(i) + " uses " + g_.label(d) + ", which has not run yet", "at " + g_.where(i),
                "values of a trace are available to later traces and session code only after that trace ran");
  }
  throw Error(g_.label(i) + " cannot run here", "at " + g_.where(i));
}

void Executor::execute(int32_t i, int32_t floor) {
  Node& n = g_.node(i);
  Value out;
  try {
    Inputs call(resolve_all(n.args));
    call.kwargs.keys = n.kwargs.keys;
    call.kwargs.values = resolve_all(n.kwargs.values);
    std::vector<Value>& args = call.args;
    if (g_.shape_only()) to_meta(call);
    switch (n.kind) {
      case NodeKind::Op: {
        std::optional<RunningBackward> running;
        if (n.op->grad == GradUse::Backward) running.emplace(g_, i);
        static const LogSink quiet = [](const std::string&) {};  // a scan prints nothing: the real run will
        out = ops::call(*n.op, args, call.kwargs, g_.shape_only() ? &quiet : &g_.log_sink());
        break;
      }
      case NodeKind::Apply: out = g_.apply_fn(i)(args, call.kwargs); break;
      case NodeKind::ApplyModule:
      case NodeKind::Parameter: {
        ModuleCaller* caller = g_.module_caller();
        if (caller == nullptr)
          throw Error("no model is attached to run a module call", {},
                      "module calls and parameter reads run inside a model's trace");
        if (n.kind == NodeKind::Parameter) {
          out = Value(caller->parameter(args[0].as_string(), args[1].as_string()).clone());
        } else {
          // args[0] is the module's path; the rest, with the kwargs, is the module's own call.
          const std::string path = args[0].as_string();
          args.erase(args.begin());
          out = n.with_hooks ? caller->call_module_with_hooks(path, call) : caller->call_module(path, call);
        }
        break;
      }
      case NodeKind::Swap: {
        const auto target = static_cast<int32_t>(n.args[0].as_ref());
        if (g_.node(target).kind == NodeKind::Grad) {
          g_.grad(target).swap = std::move(args[1]);
        } else {
          g_.entry(target).swap = std::move(args[1]);
        }
        break;
      }
      case NodeKind::Stop: done(i, Value(), floor); throw StopSignal(i);
      default: throw Error(std::string("a ") + kind_name(n.kind) + " node cannot be executed directly");
    }
  } catch (const StopSignal&) {
    throw;
  } catch (...) {
    rethrow_in_node(i);
  }
  done(i, std::move(out), floor);
}

void Executor::run_condition(int32_t i, int32_t floor, std::vector<int32_t>* record) {
  Node& n = g_.node(i);
  const ContextInfo& ci = g_.context(i);
  bool earlier_taken = false;
  bool taken = false;
  try {
    if (ci.else_branch) earlier_taken = ops::truthy(resolve(n.args[0]));
    // Like Python's elif, a condition after a taken branch is not evaluated.
    if (!earlier_taken) taken = !ci.has_condition || ops::truthy(resolve(n.args[ci.else_branch ? 1 : 0]));
  } catch (...) {
    rethrow_in_node(i);
  }
  n.taken = taken;
  if (record) record->push_back(i);
  done(i, Value(earlier_taken || taken), floor);  // the chain's state, read by a following else
  if (!taken) skip_range(i + 1, ci.body_end, floor, record);
}

void Executor::run_loop(int32_t i, int32_t floor, std::vector<int32_t>* record) {
  Node& loop = g_.node(i);
  const int32_t var = i + 1;
  const int32_t end = g_.context(i).body_end;
  std::vector<Value> items;
  int64_t passes = 0;  // an integer is iterated without materialising range(n): n may be huge (hostile graphs)
  bool over_integers = false;
  try {
    Value collection = resolve(loop.args[0]);
    if (collection.is_sequence()) {
      items = collection.items();
    } else if (collection.kind() == Value::Kind::Dict) {
      for (const auto& k : collection.as_dict().keys) items.emplace_back(k);
    } else if (collection.kind() == Value::Kind::Int) {
      over_integers = true;
      passes = std::max<int64_t>(collection.as_int(), 0);
    } else if (collection.is_tensor() && collection.as_tensor().dim() > 0) {
      for (int64_t k = 0; k < collection.as_tensor().size(0); ++k)
        items.emplace_back(collection.as_tensor().select(0, k));
    } else {
      throw Error("cannot iterate over a " + std::string(Value::kind_name(collection.kind())) + " (" +
                  collection.repr() + ")");
    }
  } catch (...) {
    rethrow_in_node(i);
  }
  if (!over_integers) passes = static_cast<int64_t>(items.size());
  loop.executed = true;
  if (record) record->push_back(i);
  for (int64_t k = 0; k < passes; ++k) {
    const bool last = k + 1 == passes;
    if (const auto& check = g_.interrupt_check()) {
      try {
        check();
      } catch (...) {
        rethrow_in_node(i);
      }
    }
    for (int32_t j = var; j < end; ++j) {
      const Node& n = g_.node(j);
      // Entries hoisted to this loop (or a nested one) keep the value they received.
      if (n.kind == NodeKind::Entry && g_.entry(j).hoisted_to >= i) continue;
      reset_node(j);
    }
    // Until the last pass, edges to nodes before the body stay (the next pass needs them).
    const int32_t pass_floor = last ? floor : var;
    std::vector<int32_t>* pass_record = last ? record : nullptr;
    if (pass_record) pass_record->push_back(var);
    done(var, over_integers ? Value(k) : items[static_cast<std::size_t>(k)], pass_floor);
    try {
      walk(var + 1, end, Mode::Sequential, pass_floor, pass_record);
    } catch (const StopSignal&) {
      // A stop ends this loop only.
      if (!last)
        for (int32_t j = var; j < end; ++j)
          if (g_.node(j).executed || g_.node(j).skipped) release_kept(j, var, floor);
      skip_range(var + 1, end, floor, record);
      break;
    }
  }
  if (passes == 0) skip_range(var, end, floor, record);
  release(i, floor);
}

void Executor::run_trace(int32_t t, int32_t floor) {
  if (runner_ == nullptr)
    throw Error("the graph contains a trace but nothing runs the model", "at " + g_.where(t),
                "run the graph with a TraceRunner (the model's interleaver)");
  InterventionGraph ig(g_, t);
  g_.context(t).trace.base_floor = floor;  // inside a session loop pass: keep what later passes need
  ig.begin();
  try {
    runner_->run(ig);
  } catch (const StopSignal&) {
    // A stop inside a trace ends that trace's forward pass only.
  }
  ig.finish();
  g_.node(t).executed = true;
  release(t, floor);
}

void Executor::install_hook(int32_t i) {
  try {
    install_grad_hook(g_, i);
  } catch (...) {
    rethrow_in_node(i);
  }
}

void Executor::gradient_arrived(int32_t i, Value gradient) {
  const int32_t t = enclosing_trace(g_, i);
  const int32_t end = t >= 0 ? g_.context(t).body_end : g_.size();
  const int32_t floor = t >= 0 ? g_.context(t).trace.base_floor : -1;
  g_.grad(i).fired = true;
  done(i, std::move(gradient), floor);
  grad_phase_ = true;
  for (int32_t pos = i + 1; pos < end; ++pos) {
    Node& n = g_.node(pos);
    if (!n.grad_only || n.executed || n.skipped || !fulfilled(pos)) continue;  // others wait for their gradient
    switch (n.kind) {
      case NodeKind::Save: n.executed = true; break;
      case NodeKind::Condition: run_condition(pos, floor, nullptr); break;
      case NodeKind::Iterator:
        run_loop(pos, floor, nullptr);
        pos = g_.context(pos).body_end - 1;
        break;
      case NodeKind::Grad:  // a gradient of a gradient-derived value
        if (!g_.grad(pos).registered) install_hook(pos);
        break;
      default: execute(pos, floor); break;
    }
  }
}

int32_t Executor::walk(int32_t pos, int32_t end, Mode mode, int32_t floor, std::vector<int32_t>* record) {
  while (pos < end) {
    Node& n = g_.node(pos);
    if (n.skipped) {
      pos = is_context(n.kind) ? g_.context(pos).body_end : pos + 1;
      continue;
    }
    if (n.executed) {
      // A taken branch's body follows in index order; other contexts are done as a whole.
      pos = (is_context(n.kind) && !(n.kind == NodeKind::Condition && n.taken)) ? g_.context(pos).body_end : pos + 1;
      continue;
    }
    if (n.grad_only && !grad_phase_) {  // waits for its gradient (gradient_arrived)
      pos = is_context(n.kind) ? g_.context(pos).body_end : pos + 1;
      continue;
    }
    switch (n.kind) {
      case NodeKind::Grad:
        if (g_.grad(pos).registered) {
          ++pos;
          continue;
        }
        if (!fulfilled(pos)) {
          if (mode == Mode::Hook) return pos;
          not_runnable(pos);
        }
        install_hook(pos);
        if (record) record->push_back(pos);
        ++pos;
        continue;
      case NodeKind::Entry:
        if (mode == Mode::Hook) return pos;  // wait for the module's hook
        not_runnable(pos);
      case NodeKind::Save:
        n.executed = true;
        if (record) record->push_back(pos);
        ++pos;
        continue;
      case NodeKind::Trace:
        if (mode == Mode::Hook) not_runnable(pos);
        run_trace(pos, floor);
        pos = g_.context(pos).body_end;
        continue;
      default: break;
    }
    if (!fulfilled(pos)) {
      if (mode == Mode::Hook) return pos;
      not_runnable(pos);
    }
    switch (n.kind) {
      case NodeKind::Condition:
        run_condition(pos, floor, record);
        pos = n.taken ? pos + 1 : g_.context(pos).body_end;
        break;
      case NodeKind::Iterator:
        run_loop(pos, floor, record);
        pos = g_.context(pos).body_end;
        break;
      default:
        if (record) record->push_back(pos);
        execute(pos, floor);
        ++pos;
        break;
    }
  }
  return end;
}

}  // namespace nnsight::graph
