// The expression language of `nnsight trace`: a recursive-descent parser with
// caret errors, and the lowering of its trees to proxy operations.

#include "trace_expression.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "nnsight/api/envoy.h"
#include "nnsight/base/edit_distance.h"

namespace nnsight::cli {
namespace {

std::string where_text(std::string_view text, std::size_t position, std::string_view origin) {
  const std::string line = origin.empty() ? std::string(text) : std::string(origin) + " '" + std::string(text) + "'";
  const std::size_t offset = origin.empty() ? position : origin.size() + 2 + position;
  return line + "\n" + std::string(offset, ' ') + "^";
}

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

const char* kItemHint = "an index item is an integer, a slice a:b:c, '...', None or a quoted dict key";

class Parser {
 public:
  Parser(std::string_view text, std::string_view origin) : text_(text), origin_(origin) {}

  [[noreturn]] void fail(const std::string& what, std::size_t at, const std::string& hint) const {
    throw ExpressionError(what, text_, at, hint, origin_);
  }

  void skip_spaces() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  std::size_t pos() const { return pos_; }
  char peek_at(std::size_t ahead) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }
  void advance() { ++pos_; }
  /// The text continues with `word` as a whole name.
  bool at_word(std::string_view word) const {
    return text_.substr(pos_, word.size()) == word && !is_name_char(peek_at(word.size()));
  }

  void expect_end(const char* hint) {
    skip_spaces();
    if (!at_end()) fail("unexpected '" + std::string(1, peek()) + "' after the expression", pos_, hint);
  }

  std::string name() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  ModuleValueExpr module_value() {
    skip_spaces();
    ModuleValueExpr e;
    e.text = std::string(text_);
    e.begin = pos_;
    if (!is_name_start(peek()))
      fail(at_end() ? "expected a module value, found the end of the text" : "expected a module path", pos_,
           "a module value is a dotted module path and .output, .input or .inputs, e.g. model.layers.0.mlp.output");
    bool point = false;
    while (!point) {
      const std::size_t start = pos_;
      std::string part = name();
      if (part == "output" || part == "input" || part == "inputs") {
        if (e.path.empty())
          fail("'" + part + "' needs a module path before it", start, "write e.g. model.layers.0." + part);
        e.point = part == "output" ? Point::Output : part == "input" ? Point::Input : Point::Inputs;
        point = true;
        break;
      }
      e.path.push_back({part, std::nullopt, start});
      while (peek() == '[') {  // model.layers[2]: a child by index
        const std::size_t open = pos_++;
        skip_spaces();
        const std::size_t num = pos_;
        std::optional<int64_t> i = integer();
        if (!i)
          fail("expected a child index", num, "in a module path, [i] picks child i (negative counts from the end)");
        skip_spaces();
        if (peek() != ']') fail("expected ']' to close the child index", pos_, "write e.g. model.layers[2].output");
        ++pos_;
        e.path.push_back({"", *i, open});
      }
      if (peek() != '.') {
        if (peek() == '(')
          fail("calls are not part of the expression syntax", pos_,
               "write .output / .input / .inputs without parentheses");
        fail("expected '.output', '.input' or '.inputs' after the module path", pos_,
             "a module value is a module path followed by .output, .input or .inputs");
      }
      ++pos_;
      if (!is_name_char(peek()))
        fail("expected a module name, a number or output/input/inputs after '.'", pos_,
             "module paths are dotted names such as model.layers.2.mlp");
    }
    for (;;) {
      const std::size_t before = pos_;
      skip_spaces();
      if (peek() != '[') {
        pos_ = before;
        break;
      }
      e.subscripts.push_back(subscript());
    }
    if (peek() == '(')
      fail("calls are not part of the expression syntax", pos_,
           "write .output / .input / .inputs without parentheses; methods such as .sum() are not supported");
    if (peek() == '.')
      fail("nothing may follow a module value but indexing", pos_,
           "index with [...]; attribute and method access are not supported");
    e.end = pos_;
    return e;
  }

  Value number() {
    skip_spaces();
    const std::size_t start = pos_;
    std::size_t end = pos_;
    while (end < text_.size() &&
           (is_name_char(text_[end]) || text_[end] == '.' || text_[end] == '+' || text_[end] == '-'))
      ++end;
    // Signs only at the start or right after an exponent marker.
    std::size_t stop = start;
    for (; stop < end; ++stop) {
      const char c = text_[stop];
      if ((c == '+' || c == '-') && stop != start && text_[stop - 1] != 'e' && text_[stop - 1] != 'E') break;
    }
    const std::string token(text_.substr(start, stop - start));
    const char* hint = "write a number such as 0, -1.5 or 2e-3";
    if (token.empty()) fail("expected a number", start, hint);
    const bool is_float = token.find_first_of(".eEnN") != std::string::npos;
    if (!is_float) {
      int64_t v = 0;
      const char* first = token.data() + (token[0] == '+' ? 1 : 0);
      auto [ptr, ec] = std::from_chars(first, token.data() + token.size(), v);
      if (ec == std::errc::result_out_of_range) fail("the integer is too large", start, hint);
      if (ec != std::errc() || ptr != token.data() + token.size())
        fail("'" + token + "' is not a number", start + static_cast<std::size_t>(ptr - token.data()), hint);
      pos_ = stop;
      return Value(v);
    }
    char* ptr = nullptr;
    const double v = std::strtod(token.c_str(), &ptr);
    if (ptr != token.c_str() + token.size())
      fail("'" + token + "' is not a number", start + static_cast<std::size_t>(ptr - token.c_str()), hint);
    pos_ = stop;
    return Value(v);
  }

 private:
  std::optional<int64_t> integer() {
    const std::size_t start = pos_;
    if (peek() == '-' || peek() == '+') ++pos_;
    if (!is_digit(peek())) {
      pos_ = start;
      return std::nullopt;
    }
    while (is_digit(peek())) ++pos_;
    int64_t v = 0;
    const char* first = text_.data() + start + (text_[start] == '+' ? 1 : 0);
    auto [ptr, ec] = std::from_chars(first, text_.data() + pos_, v);
    if (ec != std::errc()) fail("the integer is too large", start, "indices must fit in 64 bits");
    if (peek() == '.' || peek() == 'e' || peek() == 'E') fail("indices must be integers", start, kItemHint);
    return v;
  }

  IndexItem item() {
    skip_spaces();
    const std::size_t start = pos_;
    IndexItem it;
    if (text_.substr(pos_, 3) == "...") {
      pos_ += 3;
      it.kind = IndexItem::Kind::Ellipsis;
      return it;
    }
    if (is_name_start(peek())) {
      const std::string word = name();
      if (word == "None") {
        it.kind = IndexItem::Kind::NewAxis;
        return it;
      }
      fail("'" + word + "' is not an index", start,
           std::string(kItemHint) + " (indices cannot be computed from other values)");
    }
    if (peek() == '\'' || peek() == '"') {
      const char quote = text_[pos_++];
      const std::size_t close = text_.find(quote, pos_);
      if (close == std::string_view::npos)
        fail("unterminated string", start, "close the key with " + std::string(1, quote));
      it.kind = IndexItem::Kind::Key;
      it.key = std::string(text_.substr(pos_, close - pos_));
      pos_ = close + 1;
      return it;
    }
    std::optional<int64_t> first = integer();
    skip_spaces();
    if (peek() != ':') {
      if (!first)
        fail(at_end() ? "the index is not closed" : "expected an index", pos_,
             at_end() ? "close it with ']'" : kItemHint);
      it.integer = *first;
      return it;
    }
    it.kind = IndexItem::Kind::Slice;
    it.slice.start = first;
    ++pos_;
    skip_spaces();
    it.slice.stop = integer();
    skip_spaces();
    if (peek() == ':') {
      ++pos_;
      skip_spaces();
      const std::size_t at = pos_;
      it.slice.step = integer();
      if (it.slice.step && *it.slice.step == 0)
        fail("a slice step cannot be zero", at, "use a positive step such as 1 or 2");
      if (it.slice.step && *it.slice.step < 0)
        fail("negative slice steps are not supported on tensors", at, "use a positive step");
    }
    skip_spaces();
    if (peek() != ',' && peek() != ']' && !at_end())
      fail("expected ',' or ']' after the slice", pos_, "slices are start:stop:step with integers");
    return it;
  }

  Subscript subscript() {
    Subscript s;
    s.position = pos_;
    ++pos_;  // '['
    skip_spaces();
    if (peek() == ']') fail("empty index", pos_, std::string(kItemHint) + "; write [...] for the whole value");
    for (;;) {
      s.items.push_back(item());
      skip_spaces();
      if (peek() == ',') {
        s.tuple = true;
        ++pos_;
        skip_spaces();
        if (peek() == ']') break;  // trailing comma
        continue;
      }
      if (peek() == ']') break;
      if (at_end()) fail("the index opened here is not closed", s.position, "close it with ']'");
      fail("expected ',' or ']'", pos_, "separate index items with commas and close the index with ']'");
    }
    ++pos_;  // ']'
    return s;
  }

  std::string_view text_;
  std::string_view origin_;
  std::size_t pos_ = 0;
};

std::string close_matches(Module& root, const std::string& wanted) {
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (Module* m : root.modules()) {
    if (m->path().empty()) continue;
    const std::size_t d = edit_distance(m->path(), wanted);
    if (d <= std::max<std::size_t>(2, wanted.size() / 4)) scored.emplace_back(d, m->path());
  }
  std::sort(scored.begin(), scored.end());
  std::string out;  // the closest ones only (ties: up to 3)
  for (std::size_t i = 0; i < scored.size() && i < 3 && scored[i].first == scored[0].first; ++i)
    out += (out.empty() ? "" : ", ") + scored[i].second;
  return out;
}

std::string children_of(const Module& m) {
  std::string names;
  for (const auto& [n, c] : m.children()) names += (names.empty() ? "" : ", ") + n;
  return names;
}

graph::Proxy entry_of(Model& model, const ModuleValueExpr& e, bool every_call, std::string_view origin) {
  Envoy envoy(model, resolve_module(model.module(), e, origin));
  if (every_call) envoy = envoy.all();
  switch (e.point) {
    case Point::Output: return envoy.output();
    case Point::Input: return envoy.input();
    case Point::Inputs: return envoy.inputs();
  }
  return {};
}

}  // namespace

ExpressionError::ExpressionError(const std::string& what, std::string_view text, std::size_t position,
                                 const std::string& hint, std::string_view origin)
    : Error(what, where_text(text, position, origin), hint), position_(position) {}

Value Subscript::key() const {
  auto one = [](const IndexItem& it) -> Value {
    switch (it.kind) {
      case IndexItem::Kind::Int: return Value(it.integer);
      case IndexItem::Kind::Slice: return Value(it.slice);
      case IndexItem::Kind::Ellipsis: return Value(Ellipsis{});
      case IndexItem::Kind::NewAxis: return Value();
      case IndexItem::Kind::Key: return Value(it.key);
    }
    return Value();
  };
  if (!tuple) return one(items.at(0));
  std::vector<Value> values;
  for (const IndexItem& it : items) values.push_back(one(it));
  return Value::tuple(std::move(values));
}

std::string ModuleValueExpr::path_text() const {
  std::string out;
  for (const PathPart& p : path)
    out += (out.empty() ? "" : ".") + (p.child_index ? std::to_string(*p.child_index) : p.name);
  return out;
}

ModuleValueExpr parse_module_value(std::string_view text, std::string_view origin) {
  Parser p(text, origin);
  ModuleValueExpr e = p.module_value();
  p.skip_spaces();
  p.expect_end(p.peek() == '=' ? "assignments belong in --set" : "one module value per expression");
  return e;
}

AssignmentExpr parse_assignment(std::string_view text, std::string_view origin) {
  Parser p(text, origin);
  AssignmentExpr a;
  a.target = p.module_value();
  p.skip_spaces();
  const char* hint = "write TARGET = VALUE, e.g. model.layers.1.mlp.output[:, -1] = 0";
  if (p.peek() != '=') p.fail(p.at_end() ? "expected '=' and a value after the target" : "expected '='", p.pos(), hint);
  if (p.peek_at(1) == '=') p.fail("'==' is a comparison; an assignment takes one '='", p.pos(), hint);
  p.advance();
  p.skip_spaces();
  if (p.at_end()) p.fail("expected a value after '='", p.pos(), "a value is a number or a module value");
  if (p.at_word("inf") || p.at_word("nan") || !is_name_start(p.peek())) {
    a.operand.number = p.number();
  } else {
    a.operand.value = p.module_value();
  }
  p.expect_end("the value is one number or one module value");
  return a;
}

Value parse_number(std::string_view text, std::string_view origin) {
  Parser p(text, origin);
  Value v = p.number();
  p.expect_end("write a single number such as 0.5");
  return v;
}

Module& resolve_module(Module& root, const ModuleValueExpr& e, std::string_view origin) {
  Module* current = &root;
  for (const PathPart& part : e.path) {
    Module* next = nullptr;
    if (part.child_index) {
      const auto n = static_cast<int64_t>(current->children().size());
      const int64_t j = *part.child_index < 0 ? *part.child_index + n : *part.child_index;
      if (j >= 0 && j < n) next = current->children()[static_cast<std::size_t>(j)].second;
      if (next == nullptr)
        throw ExpressionError(
            "child " + std::to_string(*part.child_index) + " of '" + current->path() + "' does not exist", e.text,
            part.position, "'" + current->path() + "' has " + std::to_string(n) + " children", origin);
    } else {
      next = current->child(part.name);
      if (next == nullptr) {
        const std::string here = current->path().empty() ? "the model root" : "'" + current->path() + "'";
        const std::string matches = close_matches(root, e.path_text());
        const std::string children = children_of(*current);
        std::string hint = matches.empty() ? "" : "did you mean " + matches + "? ";
        hint += children.empty() ? here + " has no children" : "children of " + here + ": " + children;
        hint += " (`nnsight inspect --model ...` lists every module)";
        throw ExpressionError("no module named '" + part.name + "' in " + here, e.text, part.position, hint, origin);
      }
    }
    current = next;
  }
  return *current;
}

std::string entry_key(Module& root, const ModuleValueExpr& e) {
  const std::string& path = resolve_module(root, e).path();
  const char* point = e.point == Point::Output ? "output" : "input";
  return path.empty() ? std::string(point) : path + "." + point;
}

graph::Proxy record_value(Model& model, const ModuleValueExpr& e, bool every_call, std::string_view origin) {
  graph::Proxy p = entry_of(model, e, every_call, origin);
  for (const Subscript& s : e.subscripts) p = p[graph::Arg(s.key())];
  return p;
}

namespace {

/// Where an assignment writes: `site.set(key, v)`. A last subscript that is a
/// tensor index (a slice, ..., None or several items) is the key, on the value
/// before it, as hand-written C++ does (`x[0].set({Slice(), -1}, v)`). A last
/// single int or dict key may pick an element of a tuple (`output[0]`), which
/// cannot be assigned in place: the site is then the whole value and the key
/// `...` (writing into the element's tensor, or the view an int selects).
struct Site {
  graph::Proxy value;
  Value key;
  bool whole = false;  ///< key is `...` (the whole site)
};

bool element_like(const Subscript& s) {
  return !s.tuple && (s.items[0].kind == IndexItem::Kind::Int || s.items[0].kind == IndexItem::Kind::Key);
}

Site assignment_site(Model& model, const ModuleValueExpr& target, bool every_call, std::string_view origin) {
  graph::Proxy p = entry_of(model, target, every_call, origin);
  const std::size_t n = target.subscripts.size();
  const bool whole = n == 0 || element_like(target.subscripts.back());
  const std::size_t chain = whole ? n : n - 1;
  for (std::size_t i = 0; i < chain; ++i) p = p[graph::Arg(target.subscripts[i].key())];
  if (whole) return {p, Value(Ellipsis{}), true};
  return {p, target.subscripts.back().key(), false};
}

}  // namespace

void record_assign(Model& model, const ModuleValueExpr& target, graph::Arg value, bool every_call,
                   std::string_view origin) {
  Site site = assignment_site(model, target, every_call, origin);
  site.value.set(graph::Arg(std::move(site.key)), std::move(value));
}

void record_update(Model& model, const ModuleValueExpr& target,
                   const std::function<graph::Arg(const graph::Proxy& current)>& update, bool every_call,
                   std::string_view origin) {
  Site site = assignment_site(model, target, every_call, origin);
  graph::Proxy current = site.whole ? site.value : site.value[graph::Arg(site.key)];
  site.value.set(graph::Arg(std::move(site.key)), update(current));
}

}  // namespace nnsight::cli
