// JSON -> Graph for untrusted input: every field, reference, context range,
// op and size is validated before the graph is built through its recording
// API, so a decoded graph satisfies the same invariants as a recorded one.

#include <algorithm>
#include <limits>

#include "nnsight/base/error.h"
#include "nnsight/format/graph_json.h"
#include "nnsight/format/value_json.h"

namespace nnsight::format {
namespace {

using json = nlohmann::json;
using graph::Graph;
using graph::NodeKind;

constexpr std::size_t kMaxNameBytes = 256;
constexpr std::size_t kMaxPathBytes = 1024;
constexpr std::size_t kMaxIterationCalls = 1u << 16;

struct KindSpec {
  const char* name;
  NodeKind kind;
  std::vector<const char*> fields;  ///< besides id, kind, loc
};

const std::vector<KindSpec>& kinds() {
  static const std::vector<KindSpec> k = {
      {"op", NodeKind::Op, {"op", "args", "kwargs"}},
      {"entry", NodeKind::Entry, {"key", "iteration", "batch_group"}},
      {"save", NodeKind::Save, {"target"}},
      {"swap", NodeKind::Swap, {"target", "value"}},
      {"stop", NodeKind::Stop, {"after"}},
      {"variable", NodeKind::Variable, {}},
      {"condition", NodeKind::Condition, {"condition", "else_of", "end"}},
      {"iterator", NodeKind::Iterator, {"collection", "end"}},
      {"trace", NodeKind::Trace, {"inputs", "invokes", "strict_order", "generate", "end"}},
      {"module_call", NodeKind::ApplyModule, {"module", "args", "kwargs"}},
      {"parameter", NodeKind::Parameter, {"module", "name"}},
      {"grad", NodeKind::Grad, {"target"}},
  };
  return k;
}

std::string kind_list() {
  std::string out;
  for (const auto& k : kinds()) out += (out.empty() ? "" : ", ") + std::string(k.name);
  return out;
}

void check_fields(const json& obj, const JsonPath& at, const std::vector<const char*>& allowed, const char* what) {
  for (const auto& item : obj.items()) {
    const std::string& key = item.key();  // not a structured binding: clang -fopenmp cannot capture those
    if (std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) continue;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    fail(JsonPath(at, key), "unknown field '" + key.substr(0, 64) + "' in " + what, "allowed fields: " + list);
  }
}

bool segment_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/// A dotted module path ("model.layers.2.mlp"); "" is the root.
bool valid_module_path(const std::string& p) {
  if (p.empty()) return true;
  bool segment_empty = true;
  for (char c : p) {
    if (c == '.') {
      if (segment_empty) return false;
      segment_empty = true;
    } else if (!segment_char(c)) {
      return false;
    } else {
      segment_empty = false;
    }
  }
  return !segment_empty;
}

/// "<module path>.output|input|skip" or "output|input|skip" for the root.
bool valid_entry_key(const std::string& key) {
  const auto dot = key.rfind('.');
  const std::string point = dot == std::string::npos ? key : key.substr(dot + 1);
  if (point != "output" && point != "input" && point != "skip") return false;
  return dot == std::string::npos || (dot > 0 && valid_module_path(key.substr(0, dot)));
}

class Decoder {
 public:
  explicit Decoder(const DecodeOptions& options) : options_(options), values_(options.limits, options.source) {}

  GraphDocument run(const json& j);

 private:
  const DecodeLimits& limits() const { return options_.limits; }
  int32_t parent() const { return open_.empty() ? -1 : open_.back(); }
  int32_t end_of(int32_t c) const { return ends_[static_cast<std::size_t>(c)]; }
  void close_until(int32_t i);
  void decode_node(int32_t i, const json& nj, const JsonPath& at);
  void check_ref(int64_t r, const JsonPath& at) const;
  int32_t read_target(const json& nj, const char* field, const JsonPath& at) const;
  Value value(const json& nj, const char* field, const JsonPath& at);
  std::vector<Value> values(const json& nj, const char* field, const JsonPath& at, bool refs);
  Dict kwargs(const json& nj, const JsonPath& at);
  graph::IterationSpec iteration(const json& j, const JsonPath& at);
  int32_t open_context_end(const json& nj, const JsonPath& at, int32_t min_end);
  SourceLocation location(const json& j, const JsonPath& at);
  GenerateOptions generate(const json& j, const JsonPath& at);
  std::string module_path(const json& nj, const JsonPath& at);

  /// Runs a recording call; its Errors get the JSON location.
  template <class F>
  auto record(const JsonPath& at, F&& f) {
    try {
      return f();
    } catch (const Error& e) {
      fail(at, e.message(), e.hint());
    } catch (const std::exception& e) {
      fail(at, e.what());
    }
  }

  const DecodeOptions& options_;
  ValueDecoder values_;
  GraphDocument doc_;
  Graph* g_ = nullptr;
  int32_t count_ = 0;
  int32_t current_ = 0;          ///< node being decoded
  std::vector<NodeKind> kinds_;  ///< kinds of decoded nodes
  std::vector<int32_t> ends_;    ///< body ends of contexts (-1 otherwise)
  std::vector<char> is_open_;    ///< node is an open context
  std::vector<int32_t> open_;    ///< open contexts, innermost last
  int32_t open_trace_ = -1;
  int32_t last_closed_condition_ = -1;  ///< mirrors the Graph's rule for else branches
  int32_t pending_variable_ = -1;       ///< index the open iterator's variable must have
};

GraphDocument Decoder::run(const json& j) {
  const JsonPath root;
  if (!j.is_object()) fail(root, "the graph is " + json_kind(j) + ", expected an object {format, version, nodes}");
  check_fields(j, root, {"format", "version", "nodes"}, "the graph");
  const JsonPath format_at(root, "format");
  const std::string format = read_string(require_field(j, "format", root), format_at, kMaxNameBytes, "format");
  if (format != kGraphFormatName) fail(format_at, "format is '" + format + "', expected '" + kGraphFormatName + "'");
  const JsonPath version_at(root, "version");
  const int64_t version =
      read_int(require_field(j, "version", root), version_at, 1, std::numeric_limits<int32_t>::max(), "version");
  if (version > kGraphFormatVersion)
    fail(version_at,
         "format version " + std::to_string(version) + " is newer than this reader's (" +
             std::to_string(kGraphFormatVersion) + ")",
         "update nnsight-cpp, or write the graph with a client of format version " +
             std::to_string(kGraphFormatVersion));
  const JsonPath nodes_at(root, "nodes");
  const json& nodes = require_field(j, "nodes", root);
  if (!nodes.is_array()) fail(nodes_at, "nodes is " + json_kind(nodes) + ", expected an array");
  if (nodes.size() > limits().max_nodes)
    fail(nodes_at,
         "the graph has " + std::to_string(nodes.size()) + " nodes, over the limit of " +
             std::to_string(limits().max_nodes),
         "split the work into several requests or raise DecodeLimits::max_nodes");
  count_ = static_cast<int32_t>(nodes.size());
  doc_.graph = Graph::create();
  g_ = doc_.graph.get();
  doc_.locations.resize(nodes.size());
  kinds_.reserve(nodes.size());
  ends_.assign(nodes.size(), -1);
  is_open_.assign(nodes.size(), 0);
  for (int32_t i = 0; i < count_; ++i) {
    close_until(i);
    current_ = i;
    const JsonPath at(nodes_at, i);
    decode_node(i, nodes[static_cast<std::size_t>(i)], at);
  }
  close_until(count_);
  if (!open_.empty() || g_->current_context() >= 0)  // ends are validated; kept as a guard
    fail(nodes_at, "a context is not closed at the end of the graph");
  // Errors of the run name the client's lines, not this decoder's.
  std::vector<std::string> texts(nodes.size());
  for (std::size_t k = 0; k < texts.size(); ++k)
    texts[k] = doc_.locations[k].known() ? doc_.locations[k].str() : "graph JSON nodes[" + std::to_string(k) + "]";
  g_->set_location_texts(std::move(texts));
  return std::move(doc_);
}

void Decoder::close_until(int32_t i) {
  while (!open_.empty() && end_of(open_.back()) == i) {
    const int32_t c = open_.back();
    g_->close(c);
    open_.pop_back();
    is_open_[static_cast<std::size_t>(c)] = 0;
    if (c == open_trace_) open_trace_ = -1;
    last_closed_condition_ = kinds_[static_cast<std::size_t>(c)] == NodeKind::Condition ? c : -1;
  }
}

void Decoder::check_ref(int64_t r, const JsonPath& at) const {
  const std::string self = "node " + std::to_string(current_);
  const char* hint = "a node may only use nodes recorded before it (this rules out cycles)";
  if (r == current_) fail(at, self + " refers to itself", hint);
  if (r > current_ && r < count_)
    fail(at, self + " refers to node " + std::to_string(r) + ", which comes after it", hint);
  if (r < 0 || r >= count_)
    fail(at, self + " refers to node " + std::to_string(r) + ", which does not exist (the graph has " +
                 std::to_string(count_) + " nodes)");
  if (is_open_[static_cast<std::size_t>(r)])
    fail(at, self + " refers to node " + std::to_string(r) + ", the context it is in",
         "a context has no value inside its own body");
}

int32_t Decoder::read_target(const json& nj, const char* field, const JsonPath& at) const {
  const JsonPath field_at(at, field);
  const int64_t r = read_int(require_field(nj, field, at), field_at, std::numeric_limits<int64_t>::min(),
                             std::numeric_limits<int64_t>::max(), "a node reference");
  check_ref(r, field_at);
  return static_cast<int32_t>(r);
}

Value Decoder::value(const json& nj, const char* field, const JsonPath& at) {
  const ValueDecoder::RefCheck refs = [this](int64_t r, const JsonPath& p) { check_ref(r, p); };
  return values_.decode(require_field(nj, field, at), JsonPath(at, field), &refs);
}

std::vector<Value> Decoder::values(const json& nj, const char* field, const JsonPath& at, bool refs_allowed) {
  std::vector<Value> out;
  auto it = nj.find(field);
  if (it == nj.end()) return out;
  const JsonPath list_at(at, field);
  if (!it->is_array()) fail(list_at, std::string(field) + " is " + json_kind(*it) + ", expected an array of values");
  const ValueDecoder::RefCheck refs = [this](int64_t r, const JsonPath& p) { check_ref(r, p); };
  out.reserve(it->size());
  for (std::size_t k = 0; k < it->size(); ++k)
    out.push_back(values_.decode((*it)[k], JsonPath(list_at, static_cast<int64_t>(k)), refs_allowed ? &refs : nullptr));
  return out;
}

Dict Decoder::kwargs(const json& nj, const JsonPath& at) {
  Dict d;
  auto it = nj.find("kwargs");
  if (it == nj.end()) return d;
  const JsonPath kw_at(at, "kwargs");
  if (!it->is_array()) fail(kw_at, "kwargs is " + json_kind(*it) + ", expected an array of [name, value] pairs");
  const ValueDecoder::RefCheck refs = [this](int64_t r, const JsonPath& p) { check_ref(r, p); };
  for (std::size_t k = 0; k < it->size(); ++k) {
    const JsonPath pair_at(kw_at, static_cast<int64_t>(k));
    const json& pair = (*it)[k];
    if (!pair.is_array() || pair.size() != 2) fail(pair_at, "a kwarg is not a [name, value] pair");
    std::string name = read_string(pair[0], JsonPath(pair_at, int64_t{0}), kMaxNameBytes, "a kwarg name");
    if (d.find(name) != nullptr) fail(pair_at, "kwarg '" + name + "' appears twice");
    d.keys.push_back(std::move(name));
    d.values.push_back(values_.decode(pair[1], JsonPath(pair_at, int64_t{1}), &refs));
  }
  return d;
}

graph::IterationSpec Decoder::iteration(const json& j, const JsonPath& at) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (j.is_number()) return record(at, [&] { return graph::IterationSpec::at(read_int(j, at, 0, kMax, "iteration")); });
  if (j.is_array()) {
    if (j.empty() || j.size() > kMaxIterationCalls)
      fail(at, "an iteration list has " + std::to_string(j.size()) + " calls, expected 1 to " +
                   std::to_string(kMaxIterationCalls));
    std::vector<int64_t> calls;
    for (std::size_t k = 0; k < j.size(); ++k)
      calls.push_back(read_int(j[k], JsonPath(at, static_cast<int64_t>(k)), 0, kMax, "an iteration"));
    return record(at, [&] { return graph::IterationSpec::list(std::move(calls)); });
  }
  if (j.is_object() && j.size() == 1 && j.contains("slice")) {
    const Value s = values_.decode(j, at);
    return record(at, [&] { return graph::IterationSpec::range(s.as_slice()); });
  }
  fail(at, "iteration is " + json_kind(j) + ", expected a call number, a list of calls or a slice",
       "e.g. 0, [0, 3] or {\"slice\": [1, null, null]} (every call from 1 on)");
}

int32_t Decoder::open_context_end(const json& nj, const JsonPath& at, int32_t min_end) {
  if (static_cast<int>(open_.size()) >= limits().max_context_depth)
    fail(at, "contexts are nested deeper than " + std::to_string(limits().max_context_depth) + " levels",
         "raise DecodeLimits::max_context_depth");
  const JsonPath end_at(at, "end");
  const int32_t max_end = open_.empty() ? count_ : end_of(open_.back());
  const int64_t end = read_int(require_field(nj, "end", at), end_at, std::numeric_limits<int64_t>::min(),
                               std::numeric_limits<int64_t>::max(), "end");
  if (end < min_end || end > max_end)
    fail(end_at,
         "the body of node " + std::to_string(current_) + " ends at " + std::to_string(end) + ", outside [" +
             std::to_string(min_end) + ", " + std::to_string(max_end) + "]",
         "a context's body is the nodes [id + 1, end); it must lie inside the enclosing context's body (or the graph)");
  return static_cast<int32_t>(end);
}

SourceLocation Decoder::location(const json& j, const JsonPath& at) {
  if (!j.is_object()) fail(at, "loc is " + json_kind(j) + ", expected an object {file, line, function}");
  check_fields(j, at, {"file", "line", "function"}, "a source location");
  SourceLocation loc;
  loc.file = read_string(require_field(j, "file", at), JsonPath(at, "file"), kMaxPathBytes * 4, "file");
  loc.line =
      read_int(require_field(j, "line", at), JsonPath(at, "line"), 0, std::numeric_limits<int32_t>::max(), "line");
  if (j.contains("function"))
    loc.function = read_string(j["function"], JsonPath(at, "function"), kMaxPathBytes * 4, "function");
  return loc;
}

GenerateOptions Decoder::generate(const json& j, const JsonPath& at) {
  if (!j.is_object()) fail(at, "generate is " + json_kind(j) + ", expected an object of generation options");
  check_fields(j, at, {"max_new_tokens", "temperature", "top_k", "top_p", "seed", "stop_at_eos"}, "generate");
  GenerateOptions o;
  if (j.contains("max_new_tokens"))
    o.max_new_tokens =
        read_int(j["max_new_tokens"], JsonPath(at, "max_new_tokens"), 1, limits().max_new_tokens, "max_new_tokens");
  if (j.contains("temperature")) {
    o.temperature = read_number(j["temperature"], JsonPath(at, "temperature"), "temperature");
    if (o.temperature < 0) fail(JsonPath(at, "temperature"), "temperature is negative", "0 means greedy decoding");
  }
  if (j.contains("top_k"))
    o.top_k = read_int(j["top_k"], JsonPath(at, "top_k"), 0, std::numeric_limits<int32_t>::max(), "top_k");
  if (j.contains("top_p")) {
    o.top_p = read_number(j["top_p"], JsonPath(at, "top_p"), "top_p");
    if (o.top_p <= 0 || o.top_p > 1) fail(JsonPath(at, "top_p"), "top_p must lie in (0, 1]");
  }
  if (j.contains("seed"))
    o.seed = static_cast<uint64_t>(
        read_int(j["seed"], JsonPath(at, "seed"), 0, std::numeric_limits<int64_t>::max(), "seed"));
  if (j.contains("stop_at_eos"))
    o.stop_at_eos = read_bool(j["stop_at_eos"], JsonPath(at, "stop_at_eos"), "stop_at_eos");
  return o;
}

std::string Decoder::module_path(const json& nj, const JsonPath& at) {
  const JsonPath path_at(at, "module");
  std::string path = read_string(require_field(nj, "module", at), path_at, kMaxPathBytes, "module");
  if (!valid_module_path(path))
    fail(path_at, "'" + path + "' is not a module path", "module paths are dotted names: \"model.layers.2.mlp\"");
  return path;
}

void Decoder::decode_node(int32_t i, const json& nj, const JsonPath& at) {
  if (!nj.is_object()) fail(at, "a node is " + json_kind(nj) + ", expected an object");
  const JsonPath kind_at(at, "kind");
  const std::string kind_str = read_string(require_field(nj, "kind", at), kind_at, kMaxNameBytes, "kind");
  if (kind_str == "apply")
    fail(kind_at, "apply nodes (local C++ functions) cannot be decoded", "use ops of the closed set");
  auto spec = std::find_if(kinds().begin(), kinds().end(), [&](const KindSpec& k) { return kind_str == k.name; });
  if (spec == kinds().end()) fail(kind_at, "unknown node kind '" + kind_str + "'", "node kinds: " + kind_list());
  std::vector<const char*> allowed = spec->fields;
  allowed.insert(allowed.end(), {"id", "kind", "loc"});
  check_fields(nj, at, allowed, std::string("a " + kind_str + " node").c_str());
  if (nj.contains("id") && read_int(nj["id"], JsonPath(at, "id"), 0, std::numeric_limits<int64_t>::max(), "id") != i)
    fail(JsonPath(at, "id"), "id " + nj["id"].dump() + " is not the node's position " + std::to_string(i),
         "node ids are positions in the nodes array");
  if (nj.contains("loc")) doc_.locations[static_cast<std::size_t>(i)] = location(nj["loc"], JsonPath(at, "loc"));

  const NodeKind kind = spec->kind;
  if ((kind == NodeKind::Variable) != (pending_variable_ == i))
    fail(kind_at, kind == NodeKind::Variable
                      ? "a variable node must directly follow its iterator"
                      : "the first node of an iterator's body must be its variable (kind \"variable\")");
  if (kind == NodeKind::Entry && open_trace_ < 0)
    fail(kind_at, "an entry (module value) outside a trace", "entries belong inside a trace node's body");
  kinds_.push_back(kind);

  int32_t expected_size = i + 1;
  switch (kind) {
    case NodeKind::Op: {
      const JsonPath op_at(at, "op");
      const std::string name = read_string(require_field(nj, "op", at), op_at, kMaxNameBytes, "op");
      const graph::OpInfo* op = graph::ops::find(name);
      if (op == nullptr) op = record(op_at, [&] { return &graph::ops::require(name); });  // throws, naming close ops
      std::vector<Value> args = values(nj, "args", at, true);
      const auto n = static_cast<int>(args.size());
      if (n < op->min_args || (op->max_args >= 0 && n > op->max_args))
        fail(JsonPath(at, "args"),
             "op '" + name + "' takes " +
                 (op->max_args < 0 ? "at least " + std::to_string(op->min_args)
                  : op->min_args == op->max_args
                      ? std::to_string(op->min_args)
                      : std::to_string(op->min_args) + " to " + std::to_string(op->max_args)) +
                 " positional argument(s), got " + std::to_string(n),
             "optional arguments may also be given as kwargs by name");
      Dict kw = kwargs(nj, at);
      record(at, [&] { return g_->add_op(*op, std::move(args), std::move(kw)); });
      break;
    }
    case NodeKind::Entry: {
      const JsonPath key_at(at, "key");
      std::string key = read_string(require_field(nj, "key", at), key_at, kMaxPathBytes, "key");
      if (!valid_entry_key(key))
        fail(key_at, "'" + key + "' is not a module value key",
             "keys are \"<module path>.output\", \".input\" or \".skip\", e.g. \"model.layers.2.output\"");
      graph::IterationSpec it =
          nj.contains("iteration") ? iteration(nj["iteration"], JsonPath(at, "iteration")) : graph::IterationSpec();
      int32_t group = -1;
      if (nj.contains("batch_group"))
        group = static_cast<int32_t>(read_int(nj["batch_group"], JsonPath(at, "batch_group"), -1,
                                              std::numeric_limits<int32_t>::max(), "batch_group"));
      g_->set_batch_group(group);
      record(at, [&] { return g_->add_entry(std::move(key), std::move(it)); });
      g_->set_batch_group(-1);
      break;
    }
    case NodeKind::Save:
    case NodeKind::Grad: {
      const int32_t target = read_target(nj, "target", at);
      record(at, [&] { return kind == NodeKind::Save ? g_->add_save(target) : g_->add_grad(target); });
      break;
    }
    case NodeKind::Swap: {
      const int32_t target = read_target(nj, "target", at);
      const NodeKind tk = kinds_[static_cast<std::size_t>(target)];
      if (tk != NodeKind::Entry && tk != NodeKind::Grad)
        fail(JsonPath(at, "target"), "swap target node " + std::to_string(target) + " is not an entry or a grad",
             "only a module value (.output / .input) or a gradient can be replaced");
      Value replacement = value(nj, "value", at);
      record(at, [&] { return g_->add_swap(target, std::move(replacement)); });
      break;
    }
    case NodeKind::Stop: {
      const int32_t after = nj.contains("after") ? read_target(nj, "after", at) : -1;
      record(at, [&] { return g_->add_stop(after); });
      break;
    }
    case NodeKind::Variable:
      pending_variable_ = -1;
      expected_size = i + 1;
      break;
    case NodeKind::Condition: {
      const bool is_else = nj.contains("else_of");
      if (!is_else && !nj.contains("condition"))
        fail(at, "a condition needs 'condition' (if) or 'else_of' (elif / else)");
      if (is_else) {
        const int32_t previous = read_target(nj, "else_of", at);
        if (previous != last_closed_condition_)
          fail(JsonPath(at, "else_of"),
               "node " + std::to_string(previous) + " is not the condition that closed right before this branch",
               "an elif / else follows the condition (or elif) it continues, at the same level, with no other "
               "context in between");
      }
      std::optional<Value> cond;
      if (nj.contains("condition")) cond = value(nj, "condition", at);
      const int32_t end = open_context_end(nj, at, i + 1);
      if (is_else) {
        record(at, [&] { return g_->open_else(std::move(cond)); });
      } else {
        record(at, [&] { return g_->open_condition(std::move(*cond)); });
      }
      ends_[static_cast<std::size_t>(i)] = end;
      break;
    }
    case NodeKind::Iterator: {
      Value collection = value(nj, "collection", at);
      ends_[static_cast<std::size_t>(i)] = open_context_end(nj, at, i + 2);
      record(at, [&] { return g_->open_iterator(std::move(collection)); });
      pending_variable_ = i + 1;
      expected_size = i + 2;
      break;
    }
    case NodeKind::Trace: {
      if (open_trace_ >= 0)
        fail(kind_at, "a trace inside another trace (node " + std::to_string(open_trace_) + ")",
             "traces of a session are siblings; close the outer trace first");
      std::vector<Value> inputs = values(nj, "inputs", at, true);
      TraceSettings settings;
      settings.invokes = values(nj, "invokes", at, false);
      if (inputs.size() > 1 || (!inputs.empty() && !settings.invokes.empty()))
        fail(JsonPath(at, "inputs"), "a trace has either one input or a list of invokes",
             "put every batch entry in 'invokes', or give the trace its single input (which may be a node reference)");
      if (nj.contains("strict_order"))
        settings.strict_order = read_bool(nj["strict_order"], JsonPath(at, "strict_order"), "strict_order");
      if (nj.contains("generate")) settings.generate = generate(nj["generate"], JsonPath(at, "generate"));
      ends_[static_cast<std::size_t>(i)] = open_context_end(nj, at, i + 1);
      record(at, [&] { return g_->open_trace(std::move(inputs)); });
      g_->context(i).trace.strict_order = settings.strict_order;
      doc_.traces[i] = std::move(settings);
      open_trace_ = i;
      break;
    }
    case NodeKind::ApplyModule: {
      std::string path = module_path(nj, at);
      std::vector<Value> args = values(nj, "args", at, true);
      Dict kw = kwargs(nj, at);
      record(at, [&] { return g_->add_module_call(std::move(path), std::move(args), std::move(kw)); });
      break;
    }
    case NodeKind::Parameter: {
      std::string path = module_path(nj, at);
      const JsonPath name_at(at, "name");
      std::string name = read_string(require_field(nj, "name", at), name_at, kMaxNameBytes, "name");
      if (name.empty() || !std::all_of(name.begin(), name.end(), segment_char))
        fail(name_at, "'" + name + "' is not a parameter name", "e.g. \"weight\" or \"bias\"");
      record(at, [&] { return g_->add_parameter(std::move(path), std::move(name)); });
      break;
    }
    case NodeKind::Apply: break;  // rejected above
  }
  if (graph::is_context(kind)) {
    open_.push_back(i);
    is_open_[static_cast<std::size_t>(i)] = 1;
    last_closed_condition_ = -1;
  }
  if (g_->size() != expected_size) fail(at, "node " + std::to_string(i) + " was not recorded at its position");
}

}  // namespace

GraphDocument document_from_json(const json& j, const DecodeOptions& options) { return Decoder(options).run(j); }

std::shared_ptr<graph::Graph> graph_from_json(const json& j, const DecodeOptions& options) {
  return document_from_json(j, options).graph;
}

}  // namespace nnsight::format
