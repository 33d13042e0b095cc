#include "nnsight/api/scan.h"

#include <c10/core/ScalarType.h>

#include "nnsight/base/error.h"

namespace nnsight {

const ModuleCall& Scanned::find(const std::string& path, int64_t call) const {
  int64_t calls_of_path = 0;
  for (const ModuleCall& c : calls) {
    if (c.path != path) continue;
    ++calls_of_path;
    if (c.call == call) return c;
  }
  if (calls_of_path > 0)
    throw Error("module '" + path + "' was called " + std::to_string(calls_of_path) + " time(s) in the scan, not " +
                    std::to_string(call + 1),
                "scan result", "call numbers start at 0");
  std::string called;
  for (const ModuleCall& c : calls)
    if (c.call == 0 && called.size() < 400) called += (called.empty() ? "'" : ", '") + c.path + "'";
  throw Error("module '" + path + "' was not called in the scan", "scan result",
              "modules called: " + (called.empty() ? std::string("none") : called));
}

const Value& Scanned::output(const std::string& path, int64_t call) const { return find(path, call).output; }
const Value& Scanned::inputs(const std::string& path, int64_t call) const { return find(path, call).inputs; }

std::string describe_shapes(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Tensor: {
      const at::Tensor& t = v.as_tensor();
      if (!t.defined()) return "undefined tensor";
      return format_shape(t.sizes()) + " " + c10::toString(t.scalar_type());
    }
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      const bool list = v.kind() == Value::Kind::List;
      std::string out = list ? "[" : "(";
      for (std::size_t i = 0; i < v.items().size(); ++i) out += (i ? ", " : "") + describe_shapes(v.items()[i]);
      if (!list && v.items().size() == 1) out += ",";
      return out + (list ? "]" : ")");
    }
    case Value::Kind::Dict: {
      std::string out = "{";
      const Dict& d = v.as_dict();
      for (std::size_t i = 0; i < d.keys.size(); ++i)
        out += (i ? ", " : "") + d.keys[i] + ": " + describe_shapes(d.values[i]);
      return out + "}";
    }
    default: return v.repr();
  }
}

std::string Scanned::table() const {
  std::string out;
  for (const ModuleCall& c : calls) {
    std::string name = c.path.empty() ? "(root)" : c.path;
    if (c.call > 0) name += "#" + std::to_string(c.call);
    out += name + "  " + describe_shapes(c.output) + "\n";
  }
  return out;
}

}  // namespace nnsight
