// Recording scopes: open a context on construction, close it on destruction.

#include "nnsight/graph/recording.h"

#include "nnsight/base/error.h"

namespace nnsight::graph {
namespace {

std::shared_ptr<Graph> current_or_throw(const std::source_location& loc) {
  if (Graph* g = Graph::current()) return g->shared_from_this();
  throw Error("no graph is recording here", format_location(loc), "open a trace or session scope first");
}

}  // namespace

SessionScope::SessionScope(std::shared_ptr<Graph> g) : g_(std::move(g)), previous_(Graph::set_current(g_.get())) {}
SessionScope::~SessionScope() { Graph::set_current(previous_); }

TraceScope::TraceScope(std::shared_ptr<Graph> g, std::vector<Value> inputs, std::source_location loc) {
  if (!g) g = Graph::current() ? Graph::current()->shared_from_this() : Graph::create();
  g_ = std::move(g);
  index_ = g_->open_trace(std::move(inputs), loc);
  previous_ = Graph::set_current(g_.get());
}

void TraceScope::close() {
  if (!open_) return;
  open_ = false;
  Graph::set_current(previous_);
  g_->close(index_);
}

TraceScope::~TraceScope() {
  try {
    close();
  } catch (...) {
    // Unwinding from an earlier error: that error is the one to report.
  }
}

CondScope::CondScope(Arg condition, std::source_location loc) {
  std::shared_ptr<Graph> g = condition.graph ? condition.graph : current_or_throw(loc);
  g_ = g.get();
  index_ = g_->open_condition(std::move(condition.value), loc);
}

CondScope::~CondScope() {
  try {
    g_->close(index_);
  } catch (...) {
  }
}

ElseScope::ElseScope(std::source_location loc)
    : CondScope(*current_or_throw(loc), current_or_throw(loc)->open_else(std::nullopt, loc)) {}

ElseScope::ElseScope(Arg condition, std::source_location loc)
    : CondScope(*current_or_throw(loc), current_or_throw(loc)->open_else(std::move(condition.value), loc)) {}

IterScope::IterScope(Arg collection, std::source_location loc) {
  g_ = collection.graph ? collection.graph : current_or_throw(loc);
  index_ = g_->open_iterator(std::move(collection.value), loc);
}

IterScope::~IterScope() {
  try {
    g_->close(index_);
  } catch (...) {
  }
}

}  // namespace nnsight::graph
