// JsonPath rendering, the decoder's error helper, and depth-limited parsing of
// untrusted JSON text.

#include "nnsight/format/decode_limits.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "nnsight/base/error.h"
#include "nnsight/format/graph_json.h"

namespace nnsight::format {

std::string JsonPath::str() const {
  std::vector<const JsonPath*> chain;
  for (const JsonPath* p = this; p != nullptr; p = p->parent_) chain.push_back(p);
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const JsonPath& p = **it;
    if (p.index_ >= 0) {
      out += "[" + std::to_string(p.index_) + "]";
    } else if (!p.field_.empty()) {
      if (!out.empty()) out += ".";
      out += p.field_;
    }
  }
  return out;
}

void fail(const JsonPath& at, const std::string& what, const std::string& hint) {
  const std::string where = at.str();
  throw Error(what, where.empty() ? "graph JSON, top level" : "graph JSON at " + where, hint);
}

using json = nlohmann::json;

json parse_graph_text(std::string_view text, const DecodeLimits& limits) {
  struct TooDeep {};
  const int max_depth = limits.max_json_depth();
  try {
    return json::parse(text.begin(), text.end(), [max_depth](int depth, json::parse_event_t, json&) {
      if (depth > max_depth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    throw Error("the graph JSON is nested deeper than " + std::to_string(max_depth) + " levels", "graph JSON",
                "flatten the values or raise DecodeLimits::max_value_depth");
  } catch (const json::parse_error& e) {
    throw Error(std::string("the graph is not valid JSON: ") + e.what(), "graph JSON at byte " + std::to_string(e.byte),
                "send the JSON the client library writes");
  } catch (const json::exception& e) {
    throw Error(std::string("the graph is not valid JSON: ") + e.what(), "graph JSON");
  }
}

}  // namespace nnsight::format
