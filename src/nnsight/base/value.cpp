#include "nnsight/base/value.h"

#include <c10/core/ScalarType.h>

#include <sstream>

#include "nnsight/base/error.h"

namespace nnsight {

Value* Dict::find(const std::string& key) {
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == key) return &values[i];
  return nullptr;
}

const Value* Dict::find(const std::string& key) const { return const_cast<Dict*>(this)->find(key); }

void Dict::set(const std::string& key, Value value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
    return;
  }
  keys.push_back(key);
  values.push_back(std::move(value));
}

Value::Value() : kind_(Kind::None), i_(0) {}
Value::Value(bool b) : kind_(Kind::Bool), i_(0) { b_ = b; }
Value::Value(int v) : kind_(Kind::Int), i_(v) {}
Value::Value(int64_t v) : kind_(Kind::Int), i_(v) {}
Value::Value(double v) : kind_(Kind::Float), d_(v) {}
Value::Value(const char* s) : kind_(Kind::String), i_(0), box_(std::make_shared<std::string>(s)) {}
Value::Value(std::string s) : kind_(Kind::String), i_(0), box_(std::make_shared<std::string>(std::move(s))) {}
Value::Value(at::Tensor t) : kind_(Kind::Tensor), i_(0), t_(std::move(t)) {}
Value::Value(Slice s) : kind_(Kind::Slice), i_(0), box_(std::make_shared<Slice>(s)) {}
Value::Value(Ellipsis) : kind_(Kind::Ellipsis), i_(0) {}
Value::Value(Dict d) : kind_(Kind::Dict), i_(0), box_(std::make_shared<Dict>(std::move(d))) {}

Value Value::list(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::List;
  v.box_ = std::make_shared<std::vector<Value>>(std::move(items));
  return v;
}

Value Value::ref(int64_t index) {
  Value v;
  v.kind_ = Kind::Ref;
  v.i_ = index;
  return v;
}

int64_t Value::as_ref() const {
  if (kind_ != Kind::Ref) kind_error("reference");
  return i_;
}

Value Value::tuple(std::vector<Value> items) {
  Value v = list(std::move(items));
  v.kind_ = Kind::Tuple;
  return v;
}

const char* Value::kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Tensor: return "Tensor";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Slice: return "slice";
    case Kind::Ellipsis: return "ellipsis";
    case Kind::Ref: return "ref";
  }
  return "?";
}

void Value::kind_error(const char* wanted) const {
  throw Error(std::string("expected a value of type ") + wanted + ", got " + kind_name(kind_) + " (" + repr() + ")");
}

bool Value::as_bool() const {
  if (kind_ == Kind::Bool) return b_;
  if (kind_ == Kind::Int) return i_ != 0;
  kind_error("bool");
}

int64_t Value::as_int() const {
  if (kind_ == Kind::Int) return i_;
  if (kind_ == Kind::Bool) return b_ ? 1 : 0;
  kind_error("int");
}

double Value::as_double() const {
  if (kind_ == Kind::Float) return d_;
  if (kind_ == Kind::Int) return static_cast<double>(i_);
  if (kind_ == Kind::Bool) return b_ ? 1.0 : 0.0;
  kind_error("float");
}

const std::string& Value::as_string() const {
  if (kind_ != Kind::String) kind_error("str");
  return boxed<std::string>();
}

const at::Tensor& Value::as_tensor() const {
  if (kind_ != Kind::Tensor) kind_error("Tensor");
  return t_;
}

at::Tensor& Value::as_tensor() {
  if (kind_ != Kind::Tensor) kind_error("Tensor");
  return t_;
}

const std::vector<Value>& Value::items() const {
  if (!is_sequence()) kind_error("list or tuple");
  return boxed<std::vector<Value>>();
}

std::vector<Value>& Value::items() {
  if (!is_sequence()) kind_error("list or tuple");
  return boxed<std::vector<Value>>();
}

const Dict& Value::as_dict() const {
  if (kind_ != Kind::Dict) kind_error("dict");
  return boxed<Dict>();
}

Dict& Value::as_dict() {
  if (kind_ != Kind::Dict) kind_error("dict");
  return boxed<Dict>();
}

const Slice& Value::as_slice() const {
  if (kind_ != Kind::Slice) kind_error("slice");
  return boxed<Slice>();
}

const Value& Value::operator[](int64_t i) const { return const_cast<Value*>(this)->operator[](i); }

Value& Value::operator[](int64_t i) {
  auto& seq = items();
  const auto n = static_cast<int64_t>(seq.size());
  const int64_t k = i < 0 ? i + n : i;
  if (k < 0 || k >= n)
    throw Error("index " + std::to_string(i) + " is out of range for a " + kind_name(kind_) + " of length " +
                std::to_string(n));
  return seq[static_cast<std::size_t>(k)];
}

Value Value::deep_copy() const {
  switch (kind_) {
    case Kind::List:
    case Kind::Tuple: {
      const auto& seq = boxed<std::vector<Value>>();
      std::vector<Value> out;
      out.reserve(seq.size());
      for (const auto& item : seq) out.push_back(item.deep_copy());
      return kind_ == Kind::List ? list(std::move(out)) : tuple(std::move(out));
    }
    case Kind::Dict: {
      const auto& dict = boxed<Dict>();
      Dict d;
      d.keys = dict.keys;
      for (const auto& item : dict.values) d.values.push_back(item.deep_copy());
      return Value(std::move(d));
    }
    default: return *this;
  }
}

std::string format_shape(at::IntArrayRef sizes) {
  std::string s = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

namespace {
std::string opt_repr(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "None"; }
}  // namespace

std::string Value::repr() const {
  std::ostringstream os;
  switch (kind_) {
    case Kind::None: return "None";
    case Kind::Bool: return b_ ? "True" : "False";
    case Kind::Int: return std::to_string(i_);
    case Kind::Float: os << d_; return os.str();
    case Kind::String: return "'" + boxed<std::string>() + "'";
    case Kind::Tensor: {
      if (!t_.defined()) return "Tensor(undefined)";
      os << "Tensor" << format_shape(t_.sizes()) << " " << c10::toString(t_.scalar_type());
      return os.str();
    }
    case Kind::List:
    case Kind::Tuple: {
      const auto& seq = boxed<std::vector<Value>>();
      os << (kind_ == Kind::List ? "[" : "(");
      for (std::size_t i = 0; i < seq.size(); ++i) os << (i ? ", " : "") << seq[i].repr();
      if (kind_ == Kind::Tuple && seq.size() == 1) os << ",";
      os << (kind_ == Kind::List ? "]" : ")");
      return os.str();
    }
    case Kind::Dict: {
      const auto& dict = boxed<Dict>();
      os << "{";
      for (std::size_t i = 0; i < dict.keys.size(); ++i)
        os << (i ? ", " : "") << "'" << dict.keys[i] << "': " << dict.values[i].repr();
      os << "}";
      return os.str();
    }
    case Kind::Slice: {
      const auto& slice = boxed<Slice>();
      return "slice(" + opt_repr(slice.start) + ", " + opt_repr(slice.stop) + ", " + opt_repr(slice.step) + ")";
    }
    case Kind::Ellipsis: return "...";
    case Kind::Ref: return "%" + std::to_string(i_);
  }
  return "?";
}

}  // namespace nnsight
