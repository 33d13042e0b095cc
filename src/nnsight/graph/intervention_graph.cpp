// InterventionGraph: compile, hook-driven execution (count / fire), deferred
// sections for repeated module calls, and end-of-run cleanup.

#include "nnsight/graph/intervention_graph.h"

#include <algorithm>

#include "nnsight/base/error.h"
#include "nnsight/graph/executor.h"

namespace nnsight::graph {

InterventionGraph::InterventionGraph(Graph& graph, int32_t trace) : g_(&graph), trace_(trace) {
  if (trace < 0 || trace >= graph.size() || graph.node(trace).kind != NodeKind::Trace)
    throw Error("node " + std::to_string(trace) + " is not a trace");
}

std::vector<Value> InterventionGraph::inputs() const {
  std::vector<Value> out;
  for (const auto& a : g_->node(trace_).args) {
    if (a.is_ref()) {
      out.push_back(g_->value(static_cast<int32_t>(a.as_ref())));
    } else {
      out.push_back(a);
    }
  }
  return out;
}

void InterventionGraph::compile() {
  TraceTables& t = tables();
  if (t.compiled) return;
  if (end() < 0) throw Error("the trace is still open; close it before running it", "at " + g_->where(trace_));
  for (int32_t j = trace_ + 1; j < end(); ++j) {
    Node& n = g_->node(j);
    if (n.kind != NodeKind::Entry) continue;
    EntryInfo& info = g_->entry(j);
    auto key_it = std::find(t.keys.begin(), t.keys.end(), info.key);
    info.key_id = static_cast<int32_t>(key_it - t.keys.begin());
    if (key_it == t.keys.end()) {
      t.keys.push_back(info.key);
      t.by_key.emplace_back();
    }
    t.by_key[static_cast<std::size_t>(info.key_id)].push_back(j);
    auto group_it = std::find(t.groups.begin(), t.groups.end(), info.batch_group);
    const auto group = static_cast<std::size_t>(group_it - t.groups.begin());
    if (group_it == t.groups.end()) {
      t.groups.push_back(info.batch_group);
      t.by_group.emplace_back();
    }
    t.by_group[group].push_back(j);

    // An entry inside a loop is hoisted out of its outermost loop in this trace:
    // the value arrives once, then the loop (which now depends on it) runs.
    int32_t outer_loop = -1;
    for (int32_t p = n.parent; p != trace_ && p >= 0; p = g_->node(p).parent)
      if (g_->node(p).kind == NodeKind::Iterator) outer_loop = p;
    if (outer_loop >= 0) {
      info.hoisted_to = info.resume = info.section = outer_loop;
      Node& loop = g_->node(outer_loop);
      auto pos = std::lower_bound(loop.deps.begin(), loop.deps.end(), j);
      if (pos == loop.deps.end() || *pos != j) {
        loop.deps.insert(pos, j);
        n.listeners.push_back(outer_loop);
        ++n.remaining_listeners;
      }
    } else {
      info.resume = j + 1;
      info.section = j;
    }
  }
  compile_gradients();
  t.compiled = true;
}

void InterventionGraph::compile_gradients() {
  TraceTables& t = tables();
  std::vector<int32_t> backwards;
  for (int32_t j = trace_ + 1; j < end(); ++j) {
    Node& n = g_->node(j);
    if (n.kind == NodeKind::Op) {
      if (n.op->grad == GradUse::Backward) backwards.push_back(j);
      t.needs_grad = t.needs_grad || n.op->grad != GradUse::None;
    }
    if (n.kind != NodeKind::Grad) continue;
    t.needs_grad = true;
    for (int32_t p = n.parent; p != trace_ && p >= 0; p = g_->node(p).parent)
      if (g_->node(p).kind == NodeKind::Iterator)
        throw Error(".grad inside a loop is not supported (" + g_->label(j) + ")",
                    "at " + g_->where(j) + "\nloop at " + g_->where(p),
                    "read the gradient before or after the loop, and index it inside");
    // Everything downstream of a gradient runs during backward, when it arrives.
    std::vector<int32_t> stack{j};
    while (!stack.empty()) {
      const int32_t k = stack.back();
      stack.pop_back();
      const Node& from = g_->node(k);
      std::vector<int32_t> next = from.listeners;
      if (k != j && is_context(from.kind))  // a context that waits for a gradient holds its body back too
        for (int32_t b = k + 1; b < g_->context(k).body_end; ++b) next.push_back(b);
      for (int32_t l : next)
        if (!g_->node(l).grad_only) {
          g_->node(l).grad_only = true;
          stack.push_back(l);
        }
    }
  }
  // Invokes share one autograd graph: every backward but the last keeps it for the next.
  for (std::size_t b = 0; b + 1 < backwards.size(); ++b) {
    Node& n = g_->node(backwards[b]);
    if (n.kwargs.find("retain_graph") == nullptr) n.kwargs.set("retain_graph", Value(true));
  }
}

void InterventionGraph::begin() {
  compile();
  Executor ex(*g_);
  for (int32_t j = trace_ + 1; j < end(); ++j) {
    ex.reset_node(j);
    if (g_->node(j).kind == NodeKind::Entry) {
      EntryInfo& e = g_->entry(j);
      e.calls = 0;
      e.current_call = -1;
      e.defer = e.fired_once = false;
      e.swap.reset();
    }
  }
  TraceTables& t = tables();
  t.group_cursor.assign(t.groups.size(), 0);
  t.deferred.clear();
  t.current_entry = -1;
  try {
    ex.walk(trace_ + 1, end(), Executor::Mode::Hook, t.base_floor, nullptr);
  } catch (const StopSignal&) {
    throw;
  } catch (...) {
    g_->clean_all();
    throw;
  }
}

int32_t InterventionGraph::key_id(std::string_view key) const {
  const auto& keys = tables().keys;
  auto it = std::find(keys.begin(), keys.end(), key);
  return it == keys.end() ? -1 : static_cast<int32_t>(it - keys.begin());
}

const std::vector<int32_t>& InterventionGraph::entries(int32_t key_id) const {
  static const std::vector<int32_t> none;
  if (key_id < 0 || key_id >= static_cast<int32_t>(tables().by_key.size())) return none;
  return tables().by_key[static_cast<std::size_t>(key_id)];
}

InterventionGraph::Readiness InterventionGraph::count(int32_t entry) {
  EntryInfo& e = g_->entry(entry);
  Readiness r;
  r.call = e.calls++;
  r.ready = e.iteration.ready(r.call);
  r.defer = r.ready && e.iteration.more_after(r.call);
  if (r.ready) {
    e.current_call = r.call;
    e.defer = r.defer;
  }
  return r;
}

void InterventionGraph::check_reachable(int32_t entry) {
  const EntryInfo& e = g_->entry(entry);
  int32_t p = e.hoisted_to >= 0 ? g_->node(e.hoisted_to).parent : g_->node(entry).parent;
  for (; p != trace_ && p >= 0; p = g_->node(p).parent) {
    const Node& c = g_->node(p);
    if (c.kind == NodeKind::Condition && !c.executed)
      throw Error(e.key + " (" + g_->label(entry) + ") arrived before the condition " + g_->label(p) +
                      " around it could be decided",
                  "at " + g_->where(entry) + "\ncondition at " + g_->where(p),
                  "the condition reads a value the model computes after " + e.key +
                      "; compute the condition from earlier values or move the access out of it");
  }
}

void InterventionGraph::check_order(int32_t entry) {
  TraceTables& t = tables();
  const EntryInfo& e = g_->entry(entry);
  if (!t.strict_order || e.fired_once) return;
  const auto group =
      static_cast<std::size_t>(std::find(t.groups.begin(), t.groups.end(), e.batch_group) - t.groups.begin());
  const auto& list = t.by_group[group];
  std::size_t& cursor = t.group_cursor[group];
  while (cursor < list.size() && (g_->entry(list[cursor]).fired_once || g_->node(list[cursor]).skipped)) ++cursor;
  if (cursor >= list.size() || list[cursor] >= entry) return;
  const int32_t first = list[cursor];
  const EntryInfo& f = g_->entry(first);
  throw Error("out-of-order access: " + e.key + " (call " + std::to_string(e.current_call) +
                  ") arrived while the intervention code still waits for " + f.key + " (iteration " +
                  f.iteration.repr() + "), which it reads first",
              "in " + g_->label(entry) + " at " + g_->where(entry) + "\nwaiting for " + g_->label(first) + " at " +
                  g_->where(first),
              "the model computes " + e.key +
                  " first; access module values in the order the model runs them "
                  "(or in separate invokes)");
}

std::optional<Value> InterventionGraph::fire(int32_t entry, Value value) {
  Node& n = g_->node(entry);
  if (n.kind != NodeKind::Entry || entry <= trace_ || entry >= end())
    throw Error(g_->label(entry) + " is not an entry point of trace node " + std::to_string(trace_));
  if (n.skipped) return std::nullopt;  // in a branch not taken, or already given up
  EntryInfo& e = g_->entry(entry);
  Executor ex(*g_);
  TraceTables& t = tables();
  try {
    check_reachable(entry);
    check_order(entry);
    // A repeated call: what the section ran last time runs again.
    auto previous =
        std::find_if(t.deferred.begin(), t.deferred.end(), [&](const auto& d) { return d.first == e.section; });
    if (previous != t.deferred.end()) {
      for (int32_t j : previous->second) ex.reset_node(j);
      t.deferred.erase(previous);
    }
    ex.reset_node(entry);
    n.value = std::move(value);
    n.has_value = true;
    n.executed = true;
    e.fired_once = true;
    if (n.remaining_listeners <= 0) n.destroy();
    std::vector<int32_t>* record = nullptr;
    if (e.defer) record = &t.deferred.emplace_back(e.section, std::vector<int32_t>{}).second;
    t.current_entry = entry;
    ex.walk(e.resume, end(), Executor::Mode::Hook, e.defer ? std::max(e.section, t.base_floor) : t.base_floor, record);
    t.current_entry = -1;
  } catch (const StopSignal&) {
    t.current_entry = -1;
    throw;
  } catch (...) {
    t.current_entry = -1;
    g_->clean_all();
    throw;
  }
  return take_swap(entry);
}

std::optional<Value> InterventionGraph::take_swap(int32_t entry) {
  EntryInfo& e = g_->entry(entry);
  std::optional<Value> out = std::move(e.swap);
  e.swap.reset();
  return out;
}

Value InterventionGraph::deliver(std::string_view key, Value activation) {
  for (int32_t e : entries(key_id(key))) {
    if (!count(e).ready) continue;
    if (auto swap = fire(e, activation)) activation = std::move(*swap);
  }
  return activation;
}

void InterventionGraph::finish() {
  Executor ex(*g_);
  TraceTables& t = tables();
  // Sections that expected another call: release what they kept for it.
  for (const auto& [start, nodes] : t.deferred)
    for (int32_t j : nodes) ex.release_kept(j, std::max(start, t.base_floor), t.base_floor);
  t.deferred.clear();
  ex.skip_range(trace_ + 1, end(), t.base_floor, nullptr);
  ex.sweep(trace_ + 1, end());
  for (int32_t j = trace_ + 1; j < end(); ++j)
    if (g_->node(j).kind == NodeKind::Entry) g_->entry(j).swap.reset();
  g_->remove_grad_hooks();
}

}  // namespace nnsight::graph
