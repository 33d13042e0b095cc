// The op table: built once from the per-file registration functions, looked up
// by name when a graph is recorded or read (never while it executes: nodes
// hold OpInfo pointers).

#include <algorithm>
#include <unordered_map>

#include "nnsight/base/edit_distance.h"
#include "nnsight/base/error.h"
#include "nnsight/graph/ops.h"

namespace nnsight::graph {
namespace {

struct Registry {
  std::vector<OpInfo> table;
  std::unordered_map<std::string_view, const OpInfo*> by_name;

  Registry() {
    ops::register_arith(table);
    ops::register_index(table);
    ops::register_tensor(table);
    ops::register_builtin(table);
    by_name.reserve(table.size());
    for (const auto& op : table) by_name.emplace(op.name, &op);
  }
};

const Registry& registry() {
  static const Registry r;
  return r;
}

const char* ordinal_kind(const Value& v) { return Value::kind_name(v.kind()); }

}  // namespace

namespace ops {

const OpInfo* find(std::string_view name) {
  const auto& r = registry();
  auto it = r.by_name.find(name);
  return it == r.by_name.end() ? nullptr : it->second;
}

const OpInfo& require(std::string_view name) {
  if (const OpInfo* op = find(name)) return *op;
  std::vector<std::pair<std::size_t, std::string_view>> scored;
  for (const auto& op : registry().table) {
    std::size_t d = edit_distance(name, op.name);
    bool related = op.name.find(name) != std::string_view::npos || name.find(op.name) != std::string_view::npos;
    if (d <= 2 || (related && !name.empty())) scored.emplace_back(related ? std::min<std::size_t>(d, 1) : d, op.name);
  }
  std::sort(scored.begin(), scored.end());
  std::string close;
  for (std::size_t i = 0; i < scored.size() && i < 5; ++i) close += (i ? ", " : "") + std::string(scored[i].second);
  throw Error("unknown op '" + std::string(name) + "'", {},
              close.empty() ? "the op set is closed; see nnsight/graph/ops.h for the list"
                            : "did you mean: " + close + "? (the op set is listed in nnsight/graph/ops.h)");
}

std::vector<std::string_view> names() {
  std::vector<std::string_view> out;
  for (const auto& op : registry().table) out.push_back(op.name);
  std::sort(out.begin(), out.end());
  return out;
}

Value call(const OpInfo& op, std::span<Value> args, const Dict& kwargs, const LogSink* log) {
  const auto n = static_cast<int>(args.size());
  if (n < op.min_args || (op.max_args >= 0 && n > op.max_args)) {
    std::string expected = op.max_args < 0 ? "at least " + std::to_string(op.min_args)
                           : op.min_args == op.max_args
                               ? std::to_string(op.min_args)
                               : std::to_string(op.min_args) + " to " + std::to_string(op.max_args);
    throw Error(std::string(op.name) + ": takes " + expected + " positional argument(s), got " + std::to_string(n));
  }
  OpCall c{op, args, kwargs, log};
  return op.fn(c);
}

}  // namespace ops

const Value* OpCall::find(std::size_t pos, const char* name) const {
  if (pos < args.size()) return &args[pos];
  if (name != nullptr) return kwargs.find(name);
  return nullptr;
}

const Value& OpCall::need(std::size_t pos, const char* name) const {
  if (const Value* v = find(pos, name)) return *v;
  throw Error(std::string(op.name) + ": missing argument " + std::to_string(pos + 1) +
              (name ? std::string(" (") + name + ")" : std::string()));
}

void OpCall::type_error(std::size_t pos, const char* expected) const {
  const Value* v = pos < args.size() ? &args[pos] : nullptr;
  throw Error(std::string(op.name) + ": argument " + std::to_string(pos + 1) + " is " +
              (v ? std::string("a ") + ordinal_kind(*v) + " (" + v->repr() + ")" : std::string("missing")) +
              ", expected " + expected);
}

void OpCall::type_error(const Value& v, const std::string& what, const char* expected) const {
  throw Error(std::string(op.name) + ": " + what + " is a " + ordinal_kind(v) + " (" + v.repr() + "), expected " +
              expected);
}

const at::Tensor& OpCall::tensor(std::size_t pos, const char* name) const {
  const Value& v = need(pos, name);
  if (!v.is_tensor()) type_error(v, "argument " + std::to_string(pos + 1), "a tensor");
  return v.as_tensor();
}

int64_t OpCall::integer(std::size_t pos, const char* name) const {
  const Value& v = need(pos, name);
  if (v.kind() != Value::Kind::Int && v.kind() != Value::Kind::Bool)
    type_error(v, "argument " + std::to_string(pos + 1), "an int");
  return v.as_int();
}

int64_t OpCall::integer_or(std::size_t pos, const char* name, int64_t fallback) const {
  const Value* v = find(pos, name);
  if (v == nullptr || v->is_none()) return fallback;
  if (v->kind() != Value::Kind::Int && v->kind() != Value::Kind::Bool)
    type_error(*v, "argument " + std::to_string(pos + 1), "an int");
  return v->as_int();
}

bool OpCall::flag_or(std::size_t pos, const char* name, bool fallback) const {
  const Value* v = find(pos, name);
  if (v == nullptr || v->is_none()) return fallback;
  if (!v->is_number()) type_error(*v, "argument " + std::to_string(pos + 1), "a bool");
  return v->as_bool();
}

std::vector<int64_t> OpCall::int_list(std::size_t pos, const char* name) const {
  std::vector<int64_t> out;
  const Value* v = find(pos, name);
  if (v == nullptr) return out;
  if (v->is_sequence()) {
    for (const auto& item : v->items()) {
      if (item.kind() != Value::Kind::Int)
        type_error(item, "an element of argument " + std::to_string(pos + 1), "an int");
      out.push_back(item.as_int());
    }
    return out;
  }
  for (std::size_t i = pos; i < args.size(); ++i) out.push_back(integer(i));
  return out;
}

}  // namespace nnsight::graph
