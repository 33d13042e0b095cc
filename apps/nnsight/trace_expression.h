#pragma once
// The expression language of `nnsight trace` (docs/cli.md, "Expressions"):
// a module value with indexing, and assignments to one.
//
//   model.layers.2.output[0]                  module path, value, chained indexing
//   model.layers[-1].mlp.output[:, -1]         [i] in the path picks a child (negative from the end)
//   model.layers.1.mlp.output[:, -1] = 0       an assignment (--set)
//   model.layers.3.output[0][:, -1] = model.layers.1.output[0][:, -1]
//
// Parsing is separate from the model: parse_* build a syntax tree (or throw
// ExpressionError, whose message shows the expression with a caret under the
// offending character). record_* then turn a tree into proxy operations of the
// C++ tracing API inside a trace, exactly as hand-written C++ would record them
// (`model["model.layers.2"].output()[0]`, `.set({Slice(), -1}, 0)`).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nnsight/api/model.h"
#include "nnsight/base/error.h"
#include "nnsight/base/value.h"
#include "nnsight/graph/proxy.h"

namespace nnsight::cli {

/// A syntax error (or an unknown module path) in an expression: what, the
/// expression with a caret under the offending character, and a hint.
class ExpressionError : public Error {
 public:
  /// @param origin the option the expression came from ("--save"), or empty
  ExpressionError(const std::string& what, std::string_view text, std::size_t position, const std::string& hint,
                  std::string_view origin = {});
  /// Offset of the offending character in the expression text.
  std::size_t position() const { return position_; }

 private:
  std::size_t position_;
};

/// One component of a module path: a name ("layers", "2") or a child index
/// written in brackets ("[-1]").
struct PathPart {
  std::string name;                    ///< empty for an index
  std::optional<int64_t> child_index;  ///< set for [i]
  std::size_t position = 0;            ///< offset in the expression text
};

/// Which value of the module.
enum class Point {
  Output,  ///< .output
  Input,   ///< .input: the first positional input
  Inputs,  ///< .inputs: ((args...), {kwargs})
};

/// One item of a subscript.
struct IndexItem {
  enum class Kind { Int, Slice, Ellipsis, NewAxis, Key };
  Kind kind = Kind::Int;
  int64_t integer = 0;
  Slice slice;
  std::string key;  ///< a dict key ('attention_mask')
};

/// One [...] after the value: a single item, or several (a tuple key).
struct Subscript {
  std::vector<IndexItem> items;
  bool tuple = false;  ///< several items, or one followed by a comma
  std::size_t position = 0;
  /// The key Value the getitem/setitem ops take (a tuple Value for a tuple key).
  Value key() const;
};

/// A module value with its indexing: `model.layers.2.output[0][:, -1]`.
struct ModuleValueExpr {
  std::string text;  ///< the whole expression text (positions refer to it)
  std::vector<PathPart> path;
  Point point = Point::Output;
  std::vector<Subscript> subscripts;
  std::size_t begin = 0, end = 0;  ///< this value's span in `text`

  /// The path as written, with [i] shown as ".i" ("model.layers.-1").
  std::string path_text() const;
};

/// The right-hand side of an assignment: a number or a module value.
struct Operand {
  std::optional<Value> number;  ///< an Int or Float Value
  std::optional<ModuleValueExpr> value;
};

/// `target = operand`.
struct AssignmentExpr {
  ModuleValueExpr target;
  Operand operand;
};

/// Parses a module value; the whole text must be one. `origin` names the
/// option in error messages.
ModuleValueExpr parse_module_value(std::string_view text, std::string_view origin = {});
/// Parses `target = number` or `target = module value`.
AssignmentExpr parse_assignment(std::string_view text, std::string_view origin = {});
/// Parses a number (int or float, optional sign, exponent; inf and nan).
Value parse_number(std::string_view text, std::string_view origin = {});

/// The module an expression names; throws ExpressionError with a caret under
/// the first unknown component and the closest module paths as the hint.
Module& resolve_module(Module& root, const ModuleValueExpr& e, std::string_view origin = {});

/// "model.layers.2.output" / "model.layers.2.input": the interleaver key of the
/// expression's module value (.inputs and .input share the "input" key).
std::string entry_key(Module& root, const ModuleValueExpr& e);

/// Records the expression's value inside the trace being recorded:
/// model[path].output() (or .all().output() when `every_call`) then each subscript.
graph::Proxy record_value(Model& model, const ModuleValueExpr& e, bool every_call, std::string_view origin = {});

/// Records `target = value` in place: the last subscript becomes a setitem on
/// the value before it (`x[0][:, -1] = v` is `x[0].set({Slice(), -1}, v)`); a
/// target without subscripts is assigned as a whole (`x[...] = v`).
void record_assign(Model& model, const ModuleValueExpr& target, graph::Arg value, bool every_call,
                   std::string_view origin = {});

/// Records `target = update(target)` in place (for --scale and --add): the
/// current value is read with the same subscripts, then assigned like record_assign.
void record_update(Model& model, const ModuleValueExpr& target,
                   const std::function<graph::Arg(const graph::Proxy& current)>& update, bool every_call,
                   std::string_view origin = {});

}  // namespace nnsight::cli
