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

namespace {

/// SAX pass that only checks syntax and nesting depth.
struct DepthCheck : nlohmann::json_sax<json> {
  int max_depth = 0;
  int depth = 0;
  bool too_deep = false;
  std::size_t error_byte = 0;
  std::string error;

  bool open() {
    too_deep = ++depth > max_depth;
    return !too_deep;
  }
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return open(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return --depth, true; }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override { return --depth, true; }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    error_byte = position;
    error = e.what();
    return false;
  }
};

}  // namespace

json parse_graph_text(std::string_view text, const DecodeLimits& limits) {
  // Syntax and depth first, in one linear SAX pass (nlohmann's callback parser rescans a parent array for
  // every element that closes: quadratic, minutes for a million nodes), then a plain parse.
  DepthCheck check;
  check.max_depth = limits.max_json_depth();
  if (!json::sax_parse(text.begin(), text.end(), &check)) {
    if (check.too_deep)
      throw Error("the graph JSON is nested deeper than " + std::to_string(check.max_depth) + " levels", "graph JSON",
                  "flatten the values or raise DecodeLimits::max_value_depth");
    throw Error("the graph is not valid JSON: " + check.error, "graph JSON at byte " + std::to_string(check.error_byte),
                "send the JSON the client library writes");
  }
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    throw Error(std::string("the graph is not valid JSON: ") + e.what(), "graph JSON");
  }
}

}  // namespace nnsight::format
