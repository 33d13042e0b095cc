#pragma once
/// @file
/// nnsight::Value: the dynamically typed value that flows through modules and
/// intervention graphs.
///
/// A module's output is a Value (a tensor, or a tuple whose element 0 is the
/// hidden states, as in Hugging Face); a graph node's arguments and result are
/// Values too. The set of kinds is closed and mirrors what NNsight graphs carry
/// in their JSON form: None, bool, int, float, string, tensor, list, tuple,
/// dict (string keys, insertion ordered), slice and ellipsis, plus Ref: a
/// reference to another value by index (an intervention graph's node
/// arguments refer to earlier nodes this way; outside graphs it is unused).
///
/// Copying a Value is cheap: tensors are reference counted and containers are
/// shared; use deep_copy() when an independent container is wanted.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nnsight {

class Value;

/// Python-style slice; an empty optional is Python's None.
struct Slice {
  std::optional<int64_t> start;                   ///< first index; None = from the start
  std::optional<int64_t> stop;                    ///< end (exclusive); None = to the end
  std::optional<int64_t> step;                    ///< None = 1
  bool operator==(const Slice&) const = default;  ///< field-wise
};

/// Python's `...`.
struct Ellipsis {
  bool operator==(const Ellipsis&) const = default;  ///< always true
};

/// Ordered string-keyed map (kwargs, dict values).
struct Dict {
  std::vector<std::string> keys;  ///< in insertion order
  std::vector<Value> values;      ///< values[i] belongs to keys[i]

  /// The value of `key`, or nullptr.
  ///@{
  Value* find(const std::string& key);
  const Value* find(const std::string& key) const;
  ///@}
  /// Replaces the value of `key`, or appends the pair.
  void set(const std::string& key, Value value);
  std::size_t size() const { return keys.size(); }  ///< number of pairs
};

/// A dynamically typed value of one of a closed set of kinds (see the file comment).
class Value {
 public:
  /// The kinds, mirroring the values NNsight graphs carry.
  enum class Kind { None, Bool, Int, Float, String, Tensor, List, Tuple, Dict, Slice, Ellipsis, Ref };

  Value();  ///< None
  /// A value of the matching kind (int and int64_t: Int; const char* and std::string: String).
  ///@{
  Value(bool b);
  Value(int v);
  Value(int64_t v);
  Value(double v);
  Value(const char* s);
  Value(std::string s);
  Value(at::Tensor t);
  Value(Slice s);
  Value(Ellipsis e);
  Value(Dict d);
  ///@}

  /// A List / Tuple of `items`.
  ///@{
  static Value list(std::vector<Value> items = {});
  static Value tuple(std::vector<Value> items = {});
  ///@}
  /// A reference to value number `index` of some table (a graph's nodes).
  static Value ref(int64_t index);

  Kind kind() const { return kind_; }                       ///< which kind this is
  bool is_none() const { return kind_ == Kind::None; }      ///< kind() == None
  bool is_tensor() const { return kind_ == Kind::Tensor; }  ///< kind() == Tensor
  /// List or Tuple.
  bool is_sequence() const { return kind_ == Kind::List || kind_ == Kind::Tuple; }
  /// Int, Float or Bool.
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }

  /// Typed access; each throws nnsight::Error naming the actual kind on mismatch.
  /// as_double() also converts Int and Bool; items() is for List and Tuple.
  ///@{
  bool as_bool() const;
  int64_t as_int() const;
  double as_double() const;  // Int and Bool convert
  const std::string& as_string() const;
  const at::Tensor& as_tensor() const;
  at::Tensor& as_tensor();
  const std::vector<Value>& items() const;  // List or Tuple
  std::vector<Value>& items();
  const Dict& as_dict() const;
  Dict& as_dict();
  const Slice& as_slice() const;
  int64_t as_ref() const;
  ///@}
  bool is_ref() const { return kind_ == Kind::Ref; }  ///< kind() == Ref

  /// Element i of a list/tuple (negative counts from the end).
  ///@{
  const Value& operator[](int64_t i) const;
  Value& operator[](int64_t i);
  ///@}

  /// A copy whose containers are not shared with this one (tensors still are).
  Value deep_copy() const;

  /// Python-like rendering for messages and `log`: tensors as "Tensor[1, 5, 64] float32".
  std::string repr() const;
  /// "None", "bool", "int", "float", "str", ...: Python's name of a kind, for messages.
  static const char* kind_name(Kind k);

 private:
  // Compact (40 bytes): graphs copy Values on every node they run.
  Kind kind_;
  union {
    bool b_;
    int64_t i_;  ///< Int, Ref
    double d_;
  };
  at::Tensor t_;
  /// String: std::string; List/Tuple: std::vector<Value>; Dict: Dict; Slice: Slice. Shared by copies.
  std::shared_ptr<void> box_;

  template <class T>
  T& boxed() const {
    return *static_cast<T*>(box_.get());
  }

  [[noreturn]] void kind_error(const char* wanted) const;
};

/// "[1, 5, 64]": a tensor shape as messages print it.
std::string format_shape(at::IntArrayRef sizes);

/// Calls fn on every tensor inside v (depth first, in order).
template <class Fn>
void for_each_tensor(const Value& v, Fn&& fn) {
  switch (v.kind()) {
    case Value::Kind::Tensor: fn(v.as_tensor()); break;
    case Value::Kind::List:
    case Value::Kind::Tuple:
      for (const auto& item : v.items()) for_each_tensor(item, fn);
      break;
    case Value::Kind::Dict:
      for (const auto& item : v.as_dict().values) for_each_tensor(item, fn);
      break;
    default: break;
  }
}

/// A new Value with every tensor replaced by fn(tensor); structure is copied.
template <class Fn>
Value map_tensors(const Value& v, Fn&& fn) {
  switch (v.kind()) {
    case Value::Kind::Tensor: return Value(fn(v.as_tensor()));
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      std::vector<Value> out;
      out.reserve(v.items().size());
      for (const auto& item : v.items()) out.push_back(map_tensors(item, fn));
      return v.kind() == Value::Kind::List ? Value::list(std::move(out)) : Value::tuple(std::move(out));
    }
    case Value::Kind::Dict: {
      Dict d;
      d.keys = v.as_dict().keys;
      for (const auto& item : v.as_dict().values) d.values.push_back(map_tensors(item, fn));
      return Value(std::move(d));
    }
    default: return v;
  }
}

}  // namespace nnsight
