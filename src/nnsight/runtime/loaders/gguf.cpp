#include "nnsight/runtime/loaders/gguf.h"

#include <ATen/ops/empty.h>

#include <c10/util/Half.h>

#include <cstring>
#include <limits>

#include "nnsight/base/error.h"

namespace nnsight {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian uint32

// ggml tensor types: name, elements per block, bytes per block (0 = unknown size).
struct GgmlType {
  const char* name;
  uint32_t block_elems;
  uint32_t block_bytes;
};
constexpr GgmlType kGgmlTypes[] = {
    {"F32", 1, 4},      {"F16", 1, 2},      {"Q4_0", 32, 18},   {"Q4_1", 32, 20},   {"Q4_2", 0, 0},
    {"Q4_3", 0, 0},     {"Q5_0", 32, 22},   {"Q5_1", 32, 24},   {"Q8_0", 32, 34},   {"Q8_1", 32, 36},
    {"Q2_K", 256, 84},  {"Q3_K", 256, 110}, {"Q4_K", 256, 144}, {"Q5_K", 256, 176}, {"Q6_K", 256, 210},
    {"Q8_K", 256, 292}, {"IQ2_XXS", 0, 0},  {"IQ2_XS", 0, 0},   {"IQ3_XXS", 0, 0},  {"IQ1_S", 0, 0},
    {"IQ4_NL", 0, 0},   {"IQ3_S", 0, 0},    {"IQ2_S", 0, 0},    {"IQ4_XS", 0, 0},   {"I8", 1, 1},
    {"I16", 1, 2},      {"I32", 1, 4},      {"I64", 1, 8},      {"F64", 1, 8},      {"IQ1_M", 0, 0},
    {"BF16", 1, 2},
};
constexpr uint32_t kF32 = 0, kF16 = 1, kQ8_0 = 8, kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kBF16 = 30;

const GgmlType* ggml_type(uint32_t t) {
  return t < std::size(kGgmlTypes) && kGgmlTypes[t].block_elems != 0 ? &kGgmlTypes[t] : nullptr;
}

}  // namespace

std::string ggml_type_name(uint32_t type) {
  return type < std::size(kGgmlTypes) ? kGgmlTypes[type].name : "type " + std::to_string(type);
}

const char* to_string(GgufValueType type) {
  static const char* const kNames[] = {"uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
                                       "bool",  "string", "array",  "uint64", "int64",  "float64"};
  auto i = static_cast<uint32_t>(type);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

// Sequential bounds-checked reader over the mapping; every failure names the file and what was being read.
class GgufParser {
 public:
  explicit GgufParser(GgufFile& out) : g_(out), f_(*out.file_) {}

  void parse() {
    if (f_.size() < 24)
      fail("file is too short to be GGUF (" + std::to_string(f_.size()) + " bytes)", "the file is empty or truncated");
    if (read<uint32_t>("magic") != kMagic) fail("not a GGUF file (bad magic)", "pass a .gguf model file");
    g_.version_ = read<uint32_t>("version");
    if (g_.version_ != 2 && g_.version_ != 3)
      fail("unsupported GGUF version " + std::to_string(g_.version_),
           "versions 2 and 3 are supported; re-convert the model with a current llama.cpp");
    const uint64_t n_tensors = read<uint64_t>("tensor count"), n_kv = read<uint64_t>("metadata count");
    // Every entry takes at least 8 bytes, which bounds absurd counts before allocating.
    if (n_tensors > f_.size() / 8 || n_kv > f_.size() / 8) fail("tensor or metadata count exceeds the file size");
    for (uint64_t i = 0; i < n_kv; ++i) {
      std::string key = read_string("metadata key");
      auto type = static_cast<GgufValueType>(read<uint32_t>("metadata type of " + key));
      GgufValue v = read_value(type, key, 0);
      g_.kv_[key] = std::move(v);
    }
    if (auto it = g_.kv_.find("general.alignment"); it != g_.kv_.end()) {
      const GgufValue& a = it->second;
      if (a.type != GgufValueType::UInt32 || a.i <= 0 || (a.i & (a.i - 1)) != 0)
        fail("general.alignment must be a power-of-two uint32", "the file is corrupt");
      g_.alignment_ = static_cast<std::size_t>(a.i);
    }
    for (uint64_t i = 0; i < n_tensors; ++i) {
      GgufTensorInfo t;
      t.name = read_string("tensor name");
      const uint32_t n_dims = read<uint32_t>("dimension count of " + t.name);
      if (n_dims > 4) fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions (at most 4)");
      for (uint32_t d = 0; d < n_dims; ++d) {
        uint64_t ne = read<uint64_t>("dimensions of " + t.name);
        if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          fail("tensor '" + t.name + "' has an impossible dimension");
        t.ne.push_back(static_cast<int64_t>(ne));
      }
      t.type = read<uint32_t>("type of " + t.name);
      t.offset = read<uint64_t>("offset of " + t.name);  // relative for now
      if (g_.index_.count(t.name)) fail("tensor '" + t.name + "' appears twice");
      g_.index_[t.name] = g_.tensors_.size();
      g_.tensors_.push_back(std::move(t));
    }
    const std::size_t data_start = (pos_ + g_.alignment_ - 1) / g_.alignment_ * g_.alignment_;
    for (auto& t : g_.tensors_) check_tensor(t, data_start);
  }

 private:
  [[noreturn]] void fail(const std::string& what, const std::string& hint = "the file is truncated or corrupt") {
    throw Error(what, "file " + f_.path(), hint);
  }

  void need(std::size_t n, const std::string& what) {
    if (n > f_.size() - pos_) fail("file ends while reading " + what + " at byte " + std::to_string(pos_));
  }

  template <class T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, f_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const std::string& what) {
    const uint64_t n = read<uint64_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(f_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  GgufValue read_value(GgufValueType type, const std::string& key, int depth) {
    GgufValue v;
    v.type = type;
    using T = GgufValueType;
    switch (type) {
      case T::UInt8: v.i = read<uint8_t>(key); break;
      case T::Int8: v.i = read<int8_t>(key); break;
      case T::UInt16: v.i = read<uint16_t>(key); break;
      case T::Int16: v.i = read<int16_t>(key); break;
      case T::UInt32: v.i = read<uint32_t>(key); break;
      case T::Int32: v.i = read<int32_t>(key); break;
      case T::UInt64: v.i = static_cast<int64_t>(read<uint64_t>(key)); break;
      case T::Int64: v.i = read<int64_t>(key); break;
      case T::Float32: v.f = read<float>(key); break;
      case T::Float64: v.f = read<double>(key); break;
      case T::Bool: v.i = read<uint8_t>(key) != 0; break;
      case T::String: v.s = read_string(key); break;
      case T::Array: {
        if (depth > 2) fail("metadata '" + key + "' nests arrays too deeply");
        v.array_type = static_cast<GgufValueType>(read<uint32_t>("array type of " + key));
        v.array_size = read<uint64_t>("array length of " + key);
        if (v.array_size > f_.size() - pos_) fail("metadata array '" + key + "' is longer than the file");
        for (uint64_t i = 0; i < v.array_size; ++i) {
          GgufValue e = read_value(v.array_type, key, depth + 1);
          switch (v.array_type) {
            case T::String: v.strings.push_back(std::move(e.s)); break;
            case T::Float32:
            case T::Float64: v.floats.push_back(e.f); break;
            case T::Array: break;  // nested arrays are skipped
            default: v.ints.push_back(e.i);
          }
        }
        break;
      }
      default: fail("metadata '" + key + "' has unknown value type " + std::to_string(static_cast<uint32_t>(type)));
    }
    return v;
  }

  void check_tensor(GgufTensorInfo& t, std::size_t data_start) {
    // Multiplied in PyTorch order (outermost first) and refused on any overflow, even if a later dimension
    // is 0: LibTorch computes numel that way and would throw a c10::Error for [2^62, 2^62, 0].
    uint64_t numel = 1;
    for (auto it = t.ne.rbegin(); it != t.ne.rend(); ++it) {
      const auto d = static_cast<uint64_t>(*it);
      if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / d)
        fail("tensor '" + t.name + "' has too many elements");
      numel *= d;
    }
    if (data_start > f_.size() || t.offset > f_.size() - data_start)
      fail("tensor '" + t.name + "' starts beyond the end of the file");
    t.offset += data_start;
    const GgmlType* gt = ggml_type(t.type);
    if (gt == nullptr) return;  // unknown block size: reported when read
    if (!t.ne.empty() && t.ne[0] % gt->block_elems != 0)
      fail("tensor '" + t.name + "' has a row length not divisible by the " + gt->name + " block size");
    const unsigned __int128 bytes = static_cast<unsigned __int128>(numel / gt->block_elems) * gt->block_bytes;
    if (bytes > f_.size() - t.offset)
      fail("tensor '" + t.name + "' (" + gt->name + ", " + std::to_string(static_cast<uint64_t>(bytes)) +
           " bytes) extends beyond the end of the file");
    t.nbytes = static_cast<std::size_t>(bytes);
  }

  GgufFile& g_;
  const MappedFile& f_;
  std::size_t pos_ = 0;
};

std::shared_ptr<const GgufFile> GgufFile::open(const std::string& path) {
  auto g = std::make_shared<GgufFile>();
  g->file_ = MappedFile::open(path);
  GgufParser(*g).parse();
  return g;
}

const GgufValue& GgufFile::value(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end())
    throw Error("metadata key '" + key + "' is missing", "file " + path(),
                "the GGUF file was not converted for this architecture or is incomplete");
  return it->second;
}

std::vector<std::string> GgufFile::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : kv_) out.push_back(k);
  return out;
}

namespace {
bool is_integer(GgufValueType t) {
  using T = GgufValueType;
  return t == T::UInt8 || t == T::Int8 || t == T::UInt16 || t == T::Int16 || t == T::UInt32 || t == T::Int32 ||
         t == T::UInt64 || t == T::Int64;
}
bool is_float(GgufValueType t) { return t == GgufValueType::Float32 || t == GgufValueType::Float64; }

[[noreturn]] void wrong_type(const GgufFile& g, const std::string& key, const GgufValue& v, const char* wanted) {
  std::string got = to_string(v.type);
  if (v.type == GgufValueType::Array) got += std::string(" of ") + to_string(v.array_type);
  throw Error("metadata key '" + key + "' is " + got + ", expected " + wanted, "file " + g.path(),
              "the GGUF file was written by an incompatible converter");
}
}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::String) wrong_type(*this, key, v, "a string");
  return v.s;
}
int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = value(key);
  if (!is_integer(v.type)) wrong_type(*this, key, v, "an integer");
  return v.i;
}
double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = value(key);
  if (is_float(v.type)) return v.f;
  if (is_integer(v.type)) return static_cast<double>(v.i);
  wrong_type(*this, key, v, "a number");
}
bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::Bool) wrong_type(*this, key, v, "a bool");
  return v.i != 0;
}
std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::Array || v.array_type != GgufValueType::String)
    wrong_type(*this, key, v, "an array of strings");
  return v.strings;
}
std::vector<double> GgufFile::get_float_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::Array) wrong_type(*this, key, v, "an array of numbers");
  if (is_float(v.array_type)) return v.floats;
  if (is_integer(v.array_type)) return {v.ints.begin(), v.ints.end()};
  wrong_type(*this, key, v, "an array of numbers");
}
std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::Array || !(is_integer(v.array_type) || v.array_type == GgufValueType::Bool))
    wrong_type(*this, key, v, "an array of integers");
  return v.ints;
}
std::string GgufFile::get_string(const std::string& key, const std::string& def) const {
  return has(key) ? get_string(key) : def;
}
int64_t GgufFile::get_int(const std::string& key, int64_t def) const { return has(key) ? get_int(key) : def; }
double GgufFile::get_float(const std::string& key, double def) const { return has(key) ? get_float(key) : def; }

const GgufTensorInfo& GgufFile::tensor_info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end())
    throw Error("tensor '" + name + "' is not in the file", "file " + path(), "the GGUF file is incomplete");
  return tensors_[it->second];
}

bool GgufFile::same_data(const std::string& a, const std::string& b) const {
  if (!has_tensor(a) || !has_tensor(b)) return false;
  const GgufTensorInfo &x = tensor_info(a), &y = tensor_info(b);
  return x.type == y.type && x.ne == y.ne && x.nbytes != 0 && x.nbytes == y.nbytes &&
         std::memcmp(file_->data() + x.offset, file_->data() + y.offset, x.nbytes) == 0;
}

at::Tensor GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo& t = tensor_info(name);
  const std::vector<int64_t> shape = t.shape();
  switch (t.type) {
    case kF32: return view_mapped(file_, t.offset, shape, at::kFloat);
    case kBF16: return view_mapped(file_, t.offset, shape, at::kBFloat16);
    case kF64: return view_mapped(file_, t.offset, shape, at::kDouble);
    case kI8: return view_mapped(file_, t.offset, shape, at::kChar);
    case kI16: return view_mapped(file_, t.offset, shape, at::kShort);
    case kI32: return view_mapped(file_, t.offset, shape, at::kInt);
    case kI64: return view_mapped(file_, t.offset, shape, at::kLong);
    case kF16: return view_mapped(file_, t.offset, shape, at::kHalf).to(at::kFloat);
    case kQ8_0: {
      // Blocks of 32 values: an fp16 scale followed by 32 int8 quants; value = scale * quant.
      at::Tensor out = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
      float* dst = out.data_ptr<float>();
      const uint8_t* src = file_->data() + t.offset;
      const int64_t blocks = out.numel() / 32;
      for (int64_t b = 0; b < blocks; ++b, src += 34) {
        uint16_t bits;
        std::memcpy(&bits, src, 2);
        const float scale = static_cast<float>(c10::Half(bits, c10::Half::from_bits()));
        const auto* q = reinterpret_cast<const int8_t*>(src + 2);
        for (int i = 0; i < 32; ++i) *dst++ = scale * static_cast<float>(q[i]);
      }
      return out;
    }
    default:
      throw Error("tensor type " + ggml_type_name(t.type) + " is not supported", "file " + path() + ", tensor " + name,
                  "re-convert the model to F16, F32 or Q8_0 (e.g. llama.cpp's convert_hf_to_gguf.py --outtype f16)");
  }
}

}  // namespace nnsight
