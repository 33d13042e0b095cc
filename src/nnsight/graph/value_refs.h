#pragma once
// Rewriting the node references inside a Value (internal to the graph layer):
// resolving them to node values when a node runs, renumbering them when a
// trace's body is copied into another graph.

#include <utility>
#include <vector>

#include "nnsight/base/value.h"

namespace nnsight::graph {

/// v with every Ref r (also inside lists, tuples and dicts) replaced by
/// on_ref(index); other leaves are kept. Containers are rebuilt.
template <class Fn>
Value map_refs(const Value& v, Fn&& on_ref) {
  switch (v.kind()) {
    case Value::Kind::Ref: return on_ref(static_cast<int32_t>(v.as_ref()));
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      std::vector<Value> out;
      out.reserve(v.items().size());
      for (const auto& item : v.items()) out.push_back(map_refs(item, on_ref));
      return v.kind() == Value::Kind::List ? Value::list(std::move(out)) : Value::tuple(std::move(out));
    }
    case Value::Kind::Dict: {
      Dict d;
      d.keys = v.as_dict().keys;
      for (const auto& item : v.as_dict().values) d.values.push_back(map_refs(item, on_ref));
      return Value(std::move(d));
    }
    default: return v;
  }
}

}  // namespace nnsight::graph
