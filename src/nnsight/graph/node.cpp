// IterationSpec: which calls of a module an entry point takes.

#include <algorithm>

#include "nnsight/base/error.h"
#include "nnsight/graph/node.h"

namespace nnsight::graph {

IterationSpec IterationSpec::at(int64_t call) {
  if (call < 0)
    throw Error("iteration " + std::to_string(call) + " is negative", {},
                "iterations count module calls from 0; the number of calls is not known before the run");
  IterationSpec s;
  s.start_ = call;
  return s;
}

IterationSpec IterationSpec::list(std::vector<int64_t> calls) {
  if (calls.empty()) throw Error("an iteration list must not be empty");
  for (int64_t c : calls)
    if (c < 0) throw Error("iteration " + std::to_string(c) + " in the list is negative");
  std::sort(calls.begin(), calls.end());
  calls.erase(std::unique(calls.begin(), calls.end()), calls.end());
  IterationSpec s;
  s.kind_ = Kind::List;
  s.calls_ = std::move(calls);
  return s;
}

IterationSpec IterationSpec::range(const Slice& slice) {
  IterationSpec s;
  s.kind_ = Kind::Range;
  s.start_ = slice.start.value_or(0);
  s.stop_ = slice.stop;
  s.step_ = slice.step.value_or(1);
  if (s.start_ < 0 || (s.stop_ && *s.stop_ < 0))
    throw Error("iteration slice " + Value(slice).repr() + " has a negative bound", {},
                "the number of module calls is not known before the run; use non-negative bounds");
  if (s.step_ <= 0) throw Error("iteration slice " + Value(slice).repr() + " needs a positive step");
  return s;
}

bool IterationSpec::ready(int64_t call) const {
  switch (kind_) {
    case Kind::Index: return call == start_;
    case Kind::List: return std::binary_search(calls_.begin(), calls_.end(), call);
    case Kind::Range: return call >= start_ && (!stop_ || call < *stop_) && (call - start_) % step_ == 0;
  }
  return false;
}

bool IterationSpec::more_after(int64_t call) const {
  switch (kind_) {
    case Kind::Index: return false;
    case Kind::List: return call < calls_.back();
    case Kind::Range: {
      // The next call this range takes after `call`.
      int64_t next = call < start_ ? start_ : call + step_ - (call - start_) % step_;
      return !stop_ || next < *stop_;
    }
  }
  return false;
}

std::string IterationSpec::repr() const {
  switch (kind_) {
    case Kind::Index: return std::to_string(start_);
    case Kind::List: {
      std::string out = "[";
      for (std::size_t i = 0; i < calls_.size(); ++i) out += (i ? ", " : "") + std::to_string(calls_[i]);
      return out + "]";
    }
    case Kind::Range: {
      if (start_ == 0 && !stop_ && step_ == 1) return "all";
      std::string out = std::to_string(start_) + ":" + (stop_ ? std::to_string(*stop_) : "");
      if (step_ != 1) out += ":" + std::to_string(step_);
      return out;
    }
  }
  return "?";
}

}  // namespace nnsight::graph
