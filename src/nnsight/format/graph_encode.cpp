// Graph -> JSON (docs/graph-format.md), plus the GraphDocument helpers.

#include <charconv>

#include "nnsight/base/error.h"
#include "nnsight/format/graph_json.h"
#include "nnsight/format/value_json.h"

namespace nnsight::format {
namespace {

using json = nlohmann::json;
using graph::Graph;
using graph::Node;
using graph::NodeKind;

int64_t to_int(std::string_view s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size())
    throw Error("cannot read iteration '" + std::string(s) + "'", "", "this is a bug in the graph encoder");
  return v;
}

/// IterationSpec exposes only repr() ("3", "[0, 3]", "1:5:2", "all"); it is
/// read back here into the format's int / list / slice.
json iteration_to_json(const graph::IterationSpec& spec) {
  const std::string r = spec.repr();
  if (r == "all") return json{{"slice", {nullptr, nullptr, nullptr}}};
  if (!r.empty() && r.front() == '[') {
    json calls = json::array();
    std::string_view body(r.data() + 1, r.size() - 2);
    while (!body.empty()) {
      const auto comma = body.find(',');
      calls.push_back(to_int(body.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      body.remove_prefix(comma + 1);
      while (!body.empty() && body.front() == ' ') body.remove_prefix(1);
    }
    return calls;
  }
  const auto colon = r.find(':');
  if (colon == std::string::npos) return to_int(r);
  const std::string_view rest(r.data() + colon + 1, r.size() - colon - 1);
  const auto colon2 = rest.find(':');
  const std::string_view stop = rest.substr(0, colon2);
  json step = colon2 == std::string_view::npos ? json(nullptr) : json(to_int(rest.substr(colon2 + 1)));
  return json{
      {"slice",
       {to_int(std::string_view(r).substr(0, colon)), stop.empty() ? json(nullptr) : json(to_int(stop)), step}}};
}

SourceLocation from_std(const std::source_location& loc) {
  SourceLocation out;
  if (loc.line() == 0 && std::string_view(loc.file_name()).empty()) return out;
  std::string shortened = format_location(loc);  // "file:line"
  out.file = shortened.substr(0, shortened.rfind(':'));
  out.line = loc.line();
  out.function = loc.function_name();
  return out;
}

json args_to_json(const std::vector<Value>& args, std::size_t from, const ValueEncodeOptions& vo) {
  json out = json::array();
  for (std::size_t k = from; k < args.size(); ++k) out.push_back(value_to_json(args[k], vo));
  return out;
}

void put_kwargs(json& out, const Dict& kwargs, const ValueEncodeOptions& vo) {
  if (kwargs.size() == 0) return;
  json pairs = json::array();
  for (std::size_t k = 0; k < kwargs.size(); ++k)
    pairs.push_back(json::array({kwargs.keys[k], value_to_json(kwargs.values[k], vo)}));
  out["kwargs"] = std::move(pairs);
}

json generate_to_json(const GenerateOptions& o) {
  return json{{"max_new_tokens", o.max_new_tokens},
              {"temperature", o.temperature},
              {"top_k", o.top_k},
              {"top_p", o.top_p},
              {"seed", o.seed},
              {"stop_at_eos", o.stop_at_eos}};
}

/// What the encoder reads: a graph plus optional settings and locations.
struct Source {
  const Graph& g;
  const std::map<int32_t, TraceSettings>& traces;
  const std::vector<SourceLocation>& locations;

  SourceLocation location(int32_t i) const {
    const auto k = static_cast<std::size_t>(i);
    return k < locations.size() ? locations[k] : from_std(g.node(i).loc);
  }
  std::string where(int32_t i) const {
    const SourceLocation l = location(i);
    return l.known() ? l.str() : g.where(i);
  }
};

json node_to_json(const Source& doc, int32_t i, const ValueEncodeOptions& vo) {
  const Graph& g = doc.g;
  const Node& n = g.node(i);
  json out = {{"id", i}};
  switch (n.kind) {
    case NodeKind::Op:
      out["kind"] = "op";
      out["op"] = std::string(n.op->name);
      out["args"] = args_to_json(n.args, 0, vo);
      put_kwargs(out, n.kwargs, vo);
      break;
    case NodeKind::Entry: {
      const graph::EntryInfo& e = g.entry(i);
      out["kind"] = "entry";
      out["key"] = e.key;
      out["iteration"] = iteration_to_json(e.iteration);
      out["batch_group"] = e.batch_group;
      break;
    }
    case NodeKind::Save:
    case NodeKind::Grad:
      out["kind"] = n.kind == NodeKind::Save ? "save" : "grad";
      out["target"] = n.args.at(0).as_ref();
      break;
    case NodeKind::Swap:
      out["kind"] = "swap";
      out["target"] = n.args.at(0).as_ref();
      out["value"] = value_to_json(n.args.at(1), vo);
      break;
    case NodeKind::Stop:
      out["kind"] = "stop";
      if (!n.args.empty()) out["after"] = n.args[0].as_ref();
      break;
    case NodeKind::Variable: out["kind"] = "variable"; break;
    case NodeKind::Condition: {
      const graph::ContextInfo& c = g.context(i);
      out["kind"] = "condition";
      if (c.else_branch) out["else_of"] = n.args.at(0).as_ref();
      if (c.has_condition) out["condition"] = value_to_json(n.args.at(c.else_branch ? 1 : 0), vo);
      out["end"] = c.body_end;
      break;
    }
    case NodeKind::Iterator:
      out["kind"] = "iterator";
      out["collection"] = value_to_json(n.args.at(0), vo);
      out["end"] = g.context(i).body_end;
      break;
    case NodeKind::Trace: {
      auto it = doc.traces.find(i);
      TraceSettings defaults;
      defaults.strict_order = g.context(i).trace.strict_order;
      const TraceSettings& s = it != doc.traces.end() ? it->second : defaults;
      out["kind"] = "trace";
      out["inputs"] = args_to_json(n.args, 0, vo);
      out["invokes"] = args_to_json(s.invokes, 0, vo);
      out["strict_order"] = s.strict_order;
      if (s.generate) out["generate"] = generate_to_json(*s.generate);
      out["end"] = g.context(i).body_end;
      break;
    }
    case NodeKind::ApplyModule:
      out["kind"] = "module_call";
      out["module"] = n.args.at(0).as_string();
      out["args"] = args_to_json(n.args, 1, vo);
      put_kwargs(out, n.kwargs, vo);
      break;
    case NodeKind::Parameter:
      out["kind"] = "parameter";
      out["module"] = n.args.at(0).as_string();
      out["name"] = n.args.at(1).as_string();
      break;
    case NodeKind::Apply:
      throw Error(g.label(i) + " is a local C++ function and cannot be serialised", "at " + doc.where(i),
                  "graphs sent to a server may use only the closed op set (nnsight/graph/ops.h); run this trace "
                  "locally or express the function with ops");
  }
  const SourceLocation loc = doc.location(i);
  if (loc.known()) {
    json l = {{"file", loc.file}, {"line", loc.line}};
    if (!loc.function.empty()) l["function"] = loc.function;
    out["loc"] = std::move(l);
  }
  return out;
}

}  // namespace

std::string SourceLocation::str() const { return known() ? file + ":" + std::to_string(line) : std::string(); }

std::string GraphDocument::where(int32_t i) const {
  const auto k = static_cast<std::size_t>(i);
  if (k < locations.size() && locations[k].known()) return locations[k].str();
  return graph ? graph->where(i) : std::string();
}

const TraceSettings& GraphDocument::trace(int32_t t) const {
  static const TraceSettings defaults;
  auto it = traces.find(t);
  return it != traces.end() ? it->second : defaults;
}

namespace {

json encode(const Source& doc, const EncodeOptions& options) {
  const Graph& g = doc.g;
  if (g.current_context() >= 0)
    throw Error(g.label(g.current_context()) + " is still open", "at " + doc.where(g.current_context()),
                "close every scope before encoding the graph");
  const ValueEncodeOptions vo{options.inline_tensor_bytes, options.sink};
  json nodes = json::array();
  for (int32_t i = 0; i < g.size(); ++i) {
    try {
      nodes.push_back(node_to_json(doc, i, vo));
    } catch (const Error& e) {
      if (g.node(i).kind == NodeKind::Apply) throw;
      throw e.with_context("in " + g.label(i) + " at " + doc.where(i));
    }
  }
  return json{{"format", kGraphFormatName}, {"version", kGraphFormatVersion}, {"nodes", std::move(nodes)}};
}

}  // namespace

json to_json(const GraphDocument& doc, const EncodeOptions& options) {
  if (!doc.graph) throw Error("there is no graph to encode");
  return encode(Source{*doc.graph, doc.traces, doc.locations}, options);
}

json to_json(const Graph& g, const EncodeOptions& options) {
  const std::map<int32_t, TraceSettings> no_settings;
  const std::vector<SourceLocation> no_locations;
  return encode(Source{g, no_settings, no_locations}, options);
}

}  // namespace nnsight::format
