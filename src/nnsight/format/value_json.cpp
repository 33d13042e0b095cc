// Value <-> JSON: constants, node references and tensors of the graph format.

#include "nnsight/format/value_json.h"

#include <ATen/ops/empty.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "nnsight/base/error.h"

namespace nnsight::format {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxNameBytes = 256;  // blob names, dtype names

/// "nan", "inf" or "-inf" for a non-finite double.
const char* special_name(double d) { return std::isnan(d) ? "nan" : (d > 0 ? "inf" : "-inf"); }

/// A tensor element: finite ones as numbers, others by name.
json element_to_json(double d) { return std::isfinite(d) ? json(d) : json(special_name(d)); }

json float_to_json(double d) { return std::isfinite(d) ? json(d) : json{{"float", special_name(d)}}; }

/// A non-finite float written as a string ("nan", "inf", "-inf"), or nullopt.
std::optional<double> special_float(const json& j) {
  if (!j.is_string()) return std::nullopt;
  const auto& s = j.get_ref<const std::string&>();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  return std::nullopt;
}

template <class T>
void write_floats(json& data, const at::Tensor& c) {
  const T* p = c.data_ptr<T>();
  for (int64_t k = 0; k < c.numel(); ++k)
    data.push_back(element_to_json(static_cast<double>(static_cast<float>(p[k]))));
}

template <class T>
void write_ints(json& data, const at::Tensor& c) {
  const T* p = c.data_ptr<T>();
  for (int64_t k = 0; k < c.numel(); ++k) data.push_back(static_cast<int64_t>(p[k]));
}

double read_float_element(const json& e, const JsonPath& at, double max_magnitude, const char* dtype) {
  if (auto s = special_float(e)) return *s;
  if (!e.is_number())
    fail(at, "a " + std::string(dtype) + " tensor element is " + json_kind(e) + ", expected a number",
         "write non-finite elements as \"nan\", \"inf\" or \"-inf\"");
  const double d = e.get<double>();
  if (!std::isfinite(d) || std::fabs(d) > max_magnitude)
    fail(at, "tensor element " + e.dump() + " is out of range for " + dtype);
  return d;
}

int64_t read_int_element(const json& e, const JsonPath& at, int64_t min, int64_t max, const char* dtype) {
  if (!e.is_number_integer())
    fail(at, "an " + std::string(dtype) + " tensor element is " + json_kind(e) + ", expected an integer");
  if (e.is_number_unsigned() && e.get<uint64_t>() > static_cast<uint64_t>(max))
    fail(at, "tensor element " + e.dump() + " is out of range for " + dtype);
  const int64_t v = e.get<int64_t>();
  if (v < min || v > max) fail(at, "tensor element " + e.dump() + " is out of range for " + dtype);
  return v;
}

template <class T, class Read>
void fill(at::Tensor& t, const json& data, const JsonPath& at, Read&& read) {
  T* p = t.data_ptr<T>();
  for (std::size_t k = 0; k < data.size(); ++k) p[k] = read(data[k], JsonPath(at, static_cast<int64_t>(k)));
}

}  // namespace

// ---- Checked field readers --------------------------------------------------------

std::string json_kind(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a bool";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a float";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "binary data";
  }
}

const json& require_field(const json& obj, const char* name, const JsonPath& at) {
  auto it = obj.find(name);
  if (it == obj.end()) fail(at, std::string("missing field '") + name + "'");
  return *it;
}

int64_t read_int(const json& j, const JsonPath& at, int64_t min, int64_t max, const char* what) {
  if (!j.is_number_integer()) fail(at, std::string(what) + " is " + json_kind(j) + ", expected an integer");
  const bool too_big = j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(max);
  if (too_big || j.get<int64_t>() < min || j.get<int64_t>() > max)
    fail(at, std::string(what) + " " + j.dump() + " is out of range [" + std::to_string(min) + ", " +
                 std::to_string(max) + "]");
  return j.get<int64_t>();
}

std::string read_string(const json& j, const JsonPath& at, std::size_t max_bytes, const char* what) {
  if (!j.is_string()) fail(at, std::string(what) + " is " + json_kind(j) + ", expected a string");
  const auto& s = j.get_ref<const std::string&>();
  if (s.size() > max_bytes)
    fail(at, std::string(what) + " is " + std::to_string(s.size()) + " bytes long, over the limit of " +
                 std::to_string(max_bytes));
  return s;
}

bool read_bool(const json& j, const JsonPath& at, const char* what) {
  if (!j.is_boolean()) fail(at, std::string(what) + " is " + json_kind(j) + ", expected true or false");
  return j.get<bool>();
}

double read_number(const json& j, const JsonPath& at, const char* what) {
  if (!j.is_number()) fail(at, std::string(what) + " is " + json_kind(j) + ", expected a number");
  const double d = j.get<double>();
  if (!std::isfinite(d)) fail(at, std::string(what) + " is not finite");
  return d;
}

// ---- Encoding -----------------------------------------------------------------------

json tensor_to_json(const at::Tensor& t, const ValueEncodeOptions& options) {
  if (!t.defined()) throw Error("an undefined tensor cannot be written to a graph", "", "use None instead");
  const char* name = dtype_name(t.scalar_type());
  if (name == nullptr)
    throw Error(std::string("tensors of dtype ") + c10::toString(t.scalar_type()) + " cannot be written to a graph", "",
                "convert it to one of " + dtype_names());
  const at::Tensor c = t.detach().to(at::kCPU).contiguous();
  json body = {{"dtype", name}, {"shape", c.sizes().vec()}};
  const std::size_t bytes = static_cast<std::size_t>(c.numel()) * c.element_size();
  if (options.sink != nullptr && bytes > options.inline_tensor_bytes) {
    body["blob"] = options.sink->put(c);
    return json{{"tensor", std::move(body)}};
  }
  json data = json::array();
  switch (c.scalar_type()) {
    case at::kFloat: write_floats<float>(data, c); break;
    case at::kHalf: write_floats<c10::Half>(data, c); break;
    case at::kBFloat16: write_floats<c10::BFloat16>(data, c); break;
    case at::kDouble: {
      const double* p = c.data_ptr<double>();
      for (int64_t k = 0; k < c.numel(); ++k) data.push_back(element_to_json(p[k]));
      break;
    }
    case at::kLong: write_ints<int64_t>(data, c); break;
    case at::kInt: write_ints<int32_t>(data, c); break;
    case at::kShort: write_ints<int16_t>(data, c); break;
    case at::kChar: write_ints<int8_t>(data, c); break;
    case at::kByte: write_ints<uint8_t>(data, c); break;
    case at::kBool: {
      const bool* p = c.data_ptr<bool>();
      for (int64_t k = 0; k < c.numel(); ++k) data.push_back(p[k]);
      break;
    }
    default: break;  // dtype_name() admitted only the cases above
  }
  body["data"] = std::move(data);
  return json{{"tensor", std::move(body)}};
}

json value_to_json(const Value& v, const ValueEncodeOptions& options) {
  switch (v.kind()) {
    case Value::Kind::None: return nullptr;
    case Value::Kind::Bool: return v.as_bool();
    case Value::Kind::Int: return v.as_int();
    case Value::Kind::Float: return float_to_json(v.as_double());
    case Value::Kind::String: return v.as_string();
    case Value::Kind::Tensor: return tensor_to_json(v.as_tensor(), options);
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      json items = json::array();
      for (const auto& item : v.items()) items.push_back(value_to_json(item, options));
      return v.kind() == Value::Kind::List ? items : json{{"tuple", std::move(items)}};
    }
    case Value::Kind::Dict: {
      json pairs = json::array();
      const Dict& d = v.as_dict();
      for (std::size_t k = 0; k < d.size(); ++k)
        pairs.push_back(json::array({d.keys[k], value_to_json(d.values[k], options)}));
      return json{{"dict", std::move(pairs)}};
    }
    case Value::Kind::Slice: {
      const Slice& s = v.as_slice();
      auto part = [](const std::optional<int64_t>& x) { return x ? json(*x) : json(nullptr); };
      return json{{"slice", json::array({part(s.start), part(s.stop), part(s.step)})}};
    }
    case Value::Kind::Ellipsis: return json{{"ellipsis", true}};
    case Value::Kind::Ref: return json{{"ref", v.as_ref()}};
  }
  return nullptr;
}

// ---- Decoding -----------------------------------------------------------------------

Value ValueDecoder::decode(const json& j, const JsonPath& at, const RefCheck* refs) {
  return decode_at_depth(j, at, refs, 0);
}

Value ValueDecoder::decode_at_depth(const json& j, const JsonPath& at, const RefCheck* refs, int depth) {
  if (depth > limits_.max_value_depth)
    fail(at, "the value is nested deeper than " + std::to_string(limits_.max_value_depth) + " levels",
         "flatten the value or raise DecodeLimits::max_value_depth");
  switch (j.type()) {
    case json::value_t::null: return Value();
    case json::value_t::boolean: return Value(j.get<bool>());
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return Value(
          read_int(j, at, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), "integer"));
    case json::value_t::number_float: {
      const double d = j.get<double>();
      if (!std::isfinite(d)) fail(at, "a float is not finite", "write it as {\"float\": \"nan\" | \"inf\" | \"-inf\"}");
      return Value(d);
    }
    case json::value_t::string: return Value(read_string(j, at, limits_.max_string_bytes, "a string"));
    case json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (std::size_t k = 0; k < j.size(); ++k)
        items.push_back(decode_at_depth(j[k], JsonPath(at, static_cast<int64_t>(k)), refs, depth + 1));
      return Value::list(std::move(items));
    }
    case json::value_t::object: return decode_tagged(j, at, refs, depth);
    default: fail(at, "a value is " + json_kind(j));
  }
}

Value ValueDecoder::decode_tagged(const json& j, const JsonPath& at, const RefCheck* refs, int depth) {
  static const char* kTags = "ref, tuple, dict, slice, ellipsis, float, tensor";
  if (j.size() != 1)
    fail(at, "a value object has " + std::to_string(j.size()) + " fields, expected exactly one",
         std::string("value objects are tagged by one key: ") + kTags);
  const std::string& tag = j.begin().key();
  const json& body = j.begin().value();
  const JsonPath inner(at, tag);
  if (tag == "ref") {
    if (refs == nullptr)
      fail(inner, "a node reference is not allowed here", "invoke inputs and attached values must be constants");
    const int64_t index = read_int(body, inner, std::numeric_limits<int64_t>::min(),
                                   std::numeric_limits<int64_t>::max(), "a node reference");
    (*refs)(index, inner);
    return Value::ref(index);
  }
  if (tag == "tuple") {
    if (!body.is_array()) fail(inner, "a tuple is " + json_kind(body) + ", expected an array of values");
    std::vector<Value> items;
    items.reserve(body.size());
    for (std::size_t k = 0; k < body.size(); ++k)
      items.push_back(decode_at_depth(body[k], JsonPath(inner, static_cast<int64_t>(k)), refs, depth + 1));
    return Value::tuple(std::move(items));
  }
  if (tag == "dict") {
    if (!body.is_array()) fail(inner, "a dict is " + json_kind(body) + ", expected an array of [key, value] pairs");
    Dict d;
    for (std::size_t k = 0; k < body.size(); ++k) {
      const JsonPath pair_at(inner, static_cast<int64_t>(k));
      const json& pair = body[k];
      if (!pair.is_array() || pair.size() != 2) fail(pair_at, "a dict entry is not a [key, value] pair");
      std::string key = read_string(pair[0], JsonPath(pair_at, int64_t{0}), limits_.max_string_bytes, "a dict key");
      if (d.find(key) != nullptr) fail(pair_at, "dict key '" + key + "' appears twice");
      d.keys.push_back(std::move(key));
      d.values.push_back(decode_at_depth(pair[1], JsonPath(pair_at, int64_t{1}), refs, depth + 1));
    }
    return Value(std::move(d));
  }
  if (tag == "slice") {
    if (!body.is_array() || body.size() != 3) fail(inner, "a slice is not an array [start, stop, step]");
    std::optional<int64_t> parts[3];
    for (std::size_t k = 0; k < 3; ++k)
      if (!body[k].is_null())
        parts[k] = read_int(body[k], JsonPath(inner, static_cast<int64_t>(k)), std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max(), "a slice bound");
    return Value(Slice{parts[0], parts[1], parts[2]});
  }
  if (tag == "ellipsis") {
    if (!body.is_boolean() || !body.get<bool>()) fail(inner, "an ellipsis is written {\"ellipsis\": true}");
    return Value(Ellipsis{});
  }
  if (tag == "float") {
    auto d = special_float(body);
    if (!d) fail(inner, "a tagged float must be \"nan\", \"inf\" or \"-inf\"", "write finite floats as numbers");
    return Value(*d);
  }
  if (tag == "tensor") return Value(decode_tensor(body, inner));
  fail(at, "unknown value tag '" + tag.substr(0, 64) + "'",
       std::string("value objects are tagged by one of: ") + kTags);
}

void ValueDecoder::charge(std::size_t bytes, const JsonPath& at) {
  if (bytes > limits_.max_tensor_bytes)
    fail(at,
         "a tensor of " + std::to_string(bytes) + " bytes exceeds the limit of " +
             std::to_string(limits_.max_tensor_bytes) + " bytes",
         "send smaller tensors or raise DecodeLimits::max_tensor_bytes");
  if (bytes > limits_.max_total_tensor_bytes - std::min(tensor_bytes_, limits_.max_total_tensor_bytes))
    fail(at, "the graph's tensors exceed the limit of " + std::to_string(limits_.max_total_tensor_bytes) + " bytes",
         "send fewer tensors or raise DecodeLimits::max_total_tensor_bytes");
  tensor_bytes_ += bytes;
}

at::Tensor ValueDecoder::decode_tensor(const json& body, const JsonPath& at) {
  if (!body.is_object()) fail(at, "a tensor is " + json_kind(body) + ", expected an object {dtype, shape, data|blob}");
  for (const auto& [key, unused] : body.items())
    if (key != "dtype" && key != "shape" && key != "data" && key != "blob")
      fail(JsonPath(at, key), "unknown tensor field '" + key.substr(0, 64) + "'",
           "a tensor has dtype, shape and data or blob");
  const JsonPath dtype_at(at, "dtype");
  const std::string dtype_str = read_string(require_field(body, "dtype", at), dtype_at, kMaxNameBytes, "dtype");
  const auto dtype = dtype_from_name(dtype_str);
  if (!dtype) fail(dtype_at, "unknown dtype '" + dtype_str + "'", "dtypes: " + dtype_names());

  const JsonPath shape_at(at, "shape");
  const json& shape_json = require_field(body, "shape", at);
  if (!shape_json.is_array()) fail(shape_at, "shape is " + json_kind(shape_json) + ", expected an array of sizes");
  if (shape_json.size() > limits_.max_tensor_dims)
    fail(shape_at, "shape has " + std::to_string(shape_json.size()) + " dimensions, over the limit of " +
                       std::to_string(limits_.max_tensor_dims));
  std::vector<int64_t> shape;
  std::size_t numel = 1;
  bool overflow = false;
  for (std::size_t k = 0; k < shape_json.size(); ++k) {
    const int64_t d = read_int(shape_json[k], JsonPath(shape_at, static_cast<int64_t>(k)), 0,
                               std::numeric_limits<int64_t>::max(), "a tensor size");
    shape.push_back(d);
    const auto ud = static_cast<std::size_t>(d);
    if (ud != 0 && numel > std::numeric_limits<std::size_t>::max() / ud) overflow = true;
    numel = overflow ? 0 : numel * ud;
  }
  const std::size_t element = c10::elementSize(*dtype);
  if (overflow || (numel != 0 && element > std::numeric_limits<std::size_t>::max() / numel))
    fail(shape_at, "the tensor's size overflows", "the shape is absurd; check it");
  for (int64_t d : shape)  // a zero dimension hides absurd other ones
    if (static_cast<std::size_t>(d) > limits_.max_tensor_bytes)
      fail(shape_at, "tensor size " + std::to_string(d) + " is absurd (over the tensor byte limit)");
  charge(numel * element, at);

  const bool has_data = body.contains("data"), has_blob = body.contains("blob");
  if (has_data == has_blob) fail(at, "a tensor needs exactly one of 'data' (inline) or 'blob' (attached)");
  if (has_blob) {
    const JsonPath blob_at(at, "blob");
    const std::string name = read_string(body["blob"], blob_at, kMaxNameBytes, "blob name");
    if (source_ == nullptr)
      fail(blob_at, "the graph refers to attached tensor '" + name + "' but no tensor blob is attached",
           "send the safetensors blob with the graph");
    std::optional<at::Tensor> t = source_->get(name);
    if (!t) {
      std::string names;
      for (const auto& n : source_->names()) {
        if (names.size() > 200) {
          names += ", ...";
          break;
        }
        names += (names.empty() ? "" : ", ") + n;
      }
      fail(blob_at, "attached tensor '" + name + "' is not in the blob", "the blob holds: " + names);
    }
    if (t->scalar_type() != *dtype || t->sizes().vec() != shape)
      fail(blob_at, "attached tensor '" + name + "' is " + dtype_name(t->scalar_type()) + " " +
                        format_shape(t->sizes()) + " but the graph declares " + dtype_str + " " + format_shape(shape));
    return *t;
  }
  const JsonPath data_at(at, "data");
  const json& data = body["data"];
  if (!data.is_array()) fail(data_at, "data is " + json_kind(data) + ", expected a flat array of elements");
  if (data.size() != numel)
    fail(data_at,
         "data has " + std::to_string(data.size()) + " elements but shape " + format_shape(shape) + " needs " +
             std::to_string(numel),
         "data lists the elements flat, in row-major order");
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(*dtype));
  constexpr double kF32 = std::numeric_limits<float>::max();
  constexpr double kF64 = std::numeric_limits<double>::max();
  using L = std::numeric_limits<int64_t>;
  switch (*dtype) {
    case at::kFloat:
      fill<float>(t, data, data_at, [&](const json& e, const JsonPath& p) {
        return static_cast<float>(read_float_element(e, p, kF32, "float32"));
      });
      break;
    case at::kDouble:
      fill<double>(t, data, data_at,
                   [&](const json& e, const JsonPath& p) { return read_float_element(e, p, kF64, "float64"); });
      break;
    case at::kHalf:
      fill<c10::Half>(t, data, data_at, [&](const json& e, const JsonPath& p) {
        return c10::Half(static_cast<float>(read_float_element(e, p, 65504.0, "float16")));
      });
      break;
    case at::kBFloat16:
      fill<c10::BFloat16>(t, data, data_at, [&](const json& e, const JsonPath& p) {
        return c10::BFloat16(static_cast<float>(read_float_element(e, p, kF32, "bfloat16")));
      });
      break;
    case at::kLong:
      fill<int64_t>(t, data, data_at, [&](const json& e, const JsonPath& p) {
        return read_int_element(e, p, L::min(), L::max(), "int64");
      });
      break;
    case at::kInt:
      fill<int32_t>(t, data, data_at, [&](const json& e, const JsonPath& p) {
        return static_cast<int32_t>(read_int_element(e, p, INT32_MIN, INT32_MAX, "int32"));
      });
      break;
    case at::kShort:
      fill<int16_t>(t, data, data_at, [&](const json& e, const JsonPath& p) {
        return static_cast<int16_t>(read_int_element(e, p, INT16_MIN, INT16_MAX, "int16"));
      });
      break;
    case at::kChar:
      fill<int8_t>(t, data, data_at, [&](const json& e, const JsonPath& p) {
        return static_cast<int8_t>(read_int_element(e, p, INT8_MIN, INT8_MAX, "int8"));
      });
      break;
    case at::kByte:
      fill<uint8_t>(t, data, data_at, [&](const json& e, const JsonPath& p) {
        return static_cast<uint8_t>(read_int_element(e, p, 0, UINT8_MAX, "uint8"));
      });
      break;
    case at::kBool:
      fill<bool>(t, data, data_at,
                 [&](const json& e, const JsonPath& p) { return read_bool(e, p, "a bool tensor element"); });
      break;
    default: fail(dtype_at, "unsupported dtype '" + dtype_str + "'");
  }
  return t;
}

}  // namespace nnsight::format
