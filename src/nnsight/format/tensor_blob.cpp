// TensorBlob: named tensors as safetensors bytes, parsed defensively.

#include "nnsight/format/tensor_blob.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <tuple>

#include "nnsight/base/error.h"
#include "nnsight/runtime/loaders/safetensors.h"

namespace nnsight::format {
namespace {

using json = nlohmann::json;

struct DtypeEntry {
  const char* name;
  at::ScalarType type;
};
constexpr DtypeEntry kDtypes[] = {
    {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16},
    {"int64", at::kLong},    {"int32", at::kInt},      {"int16", at::kShort},  {"int8", at::kChar},
    {"uint8", at::kByte},    {"bool", at::kBool},
};

/// The safetensors header is JSON of bounded depth: {name: {dtype, shape: [..], data_offsets: [..]}}.
constexpr int kMaxHeaderDepth = 4;
/// The safetensors specification caps the header at 100 MB.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

const std::string kWhere = "attached tensor blob";

/// Untrusted bool bytes other than 0 / 1 are not valid bools (reading one is undefined behaviour).
void normalize_bools(at::Tensor& t) {
  if (t.scalar_type() != at::kBool) return;
  auto* p = static_cast<uint8_t*>(t.data_ptr());
  for (int64_t k = 0; k < t.numel(); ++k) p[k] = p[k] != 0 ? 1 : 0;
}

[[noreturn]] void corrupt(const std::string& what, const std::string& name = {}) {
  throw Error(what, name.empty() ? kWhere : kWhere + ", tensor " + name,
              "send the blob written by TensorBlob::to_bytes or a safetensors writer");
}

/// The tensor of header entry `name` (a copy of its bytes) and its data offset.
std::pair<uint64_t, at::Tensor> parse_entry(const std::string& name, const json& v, std::string_view data,
                                            const DecodeLimits& limits, std::size_t& total) {
  if (!v.is_object()) corrupt("header entry is not an object", name);
  auto dt = v.find("dtype");
  auto sh = v.find("shape");
  auto off = v.find("data_offsets");
  if (dt == v.end() || !dt->is_string() || sh == v.end() || !sh->is_array() || off == v.end() || !off->is_array() ||
      off->size() != 2 || !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
    corrupt("header entry needs dtype, shape and data_offsets [begin, end]", name);
  at::ScalarType dtype = at::kFloat;
  bool known = false;
  for (auto t : {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16, at::kLong, at::kInt, at::kShort, at::kChar,
                 at::kByte, at::kBool})
    if (const char* n = safetensors_dtype_name(t); n != nullptr && dt->get_ref<const std::string&>() == n) {
      dtype = t;
      known = true;
    }
  if (!known) corrupt("unsupported dtype '" + dt->get<std::string>().substr(0, 32) + "'", name);
  if (sh->size() > limits.max_tensor_dims) corrupt("too many dimensions", name);
  std::vector<int64_t> shape;
  std::size_t numel = 1;
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > limits.max_tensor_bytes) corrupt("invalid or absurd size", name);
    const auto ud = static_cast<std::size_t>(d.get<uint64_t>());
    shape.push_back(static_cast<int64_t>(ud));
    if (ud != 0 && numel > limits.max_tensor_bytes / ud) corrupt("the tensor is too large", name);
    numel *= ud;
  }
  const std::size_t bytes = numel * c10::elementSize(dtype);
  if (bytes > limits.max_tensor_bytes)
    throw Error(
        "tensor of " + std::to_string(bytes) + " bytes exceeds the limit of " + std::to_string(limits.max_tensor_bytes),
        kWhere + ", tensor " + name, "send smaller tensors or raise DecodeLimits::max_tensor_bytes");
  total += bytes;
  if (total > limits.max_total_tensor_bytes)
    throw Error("the blob's tensors exceed the limit of " + std::to_string(limits.max_total_tensor_bytes) + " bytes",
                kWhere, "send fewer tensors or raise DecodeLimits::max_total_tensor_bytes");
  const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
  if (begin > end || end > data.size()) corrupt("data_offsets lie outside the data section", name);
  if (end - begin != bytes)
    corrupt(
        "data_offsets span " + std::to_string(end - begin) + " bytes but dtype and shape need " + std::to_string(bytes),
        name);
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (bytes != 0) std::memcpy(t.data_ptr(), data.data() + begin, bytes);  // copy: aligned and owned
  normalize_bools(t);
  return {begin, t};
}

}  // namespace

const char* dtype_name(at::ScalarType dtype) {
  for (const auto& d : kDtypes)
    if (d.type == dtype) return d.name;
  return nullptr;
}

std::optional<at::ScalarType> dtype_from_name(std::string_view name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.type;
  return std::nullopt;
}

std::string dtype_names() {
  std::string out;
  for (const auto& d : kDtypes) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

std::string TensorBlob::put(const at::Tensor& t) {
  // Keyed by the bytes, not the TensorImpl: callers pass fresh views (detach, contiguous) of one tensor.
  auto key =
      std::make_tuple(static_cast<const void*>(t.data_ptr()), t.sizes().vec(), static_cast<int>(t.scalar_type()));
  if (t.is_contiguous())
    if (auto it = by_data_.find(key); it != by_data_.end()) return it->second;
  std::string name = "t" + std::to_string(tensors_.size());
  while (by_name_.count(name) != 0) name += "_";
  add(name, t);
  if (t.is_contiguous()) by_data_[key] = name;
  return name;
}

void TensorBlob::add(const std::string& name, const at::Tensor& t) {
  if (name.empty() || name == "__metadata__" || by_name_.count(name) != 0)
    throw Error("tensor name '" + name + "' is empty, reserved or already used", kWhere,
                "give every tensor a unique name");
  if (!t.defined()) throw Error("tensor '" + name + "' is undefined", kWhere);
  by_name_[name] = tensors_.size();
  tensors_.emplace_back(name, t.detach().to(at::kCPU).contiguous());
}

std::optional<at::Tensor> TensorBlob::get(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return tensors_[it->second].second;
}

std::vector<std::string> TensorBlob::names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : tensors_) out.push_back(name);
  return out;
}

std::string TensorBlob::to_bytes() const {
  json header = json::object();
  std::size_t offset = 0;
  for (const auto& [name, t] : tensors_) {
    const char* dn = safetensors_dtype_name(t.scalar_type());
    if (dn == nullptr)
      throw Error(std::string("dtype ") + c10::toString(t.scalar_type()) + " has no safetensors name",
                  kWhere + ", tensor " + name, "convert it to float32");
    const std::size_t n = static_cast<std::size_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", dn}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string hs = header.dump();
  hs.append((8 - hs.size() % 8) % 8, ' ');  // 8-byte aligned data section
  std::string out(8, '\0');
  const uint64_t len = hs.size();
  std::memcpy(out.data(), &len, 8);  // little-endian, as is the host
  out += hs;
  out.reserve(out.size() + offset);
  for (const auto& [name, t] : tensors_)
    out.append(static_cast<const char*>(t.data_ptr()), static_cast<std::size_t>(t.numel()) * t.element_size());
  return out;
}

TensorBlob TensorBlob::from_bytes(std::string_view bytes, const DecodeLimits& limits) {
  if (bytes.size() < 8)
    corrupt("the blob is " + std::to_string(bytes.size()) + " bytes long, too short for safetensors");
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8)
    corrupt("header length " + std::to_string(header_len) + " exceeds the blob's " + std::to_string(bytes.size()) +
            " bytes");
  const std::string_view header_text = bytes.substr(8, header_len);
  const std::string_view data = bytes.substr(8 + header_len);
  json header;
  try {
    header = json::parse(header_text.begin(), header_text.end(), [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxHeaderDepth) throw Error("the header is nested too deeply", kWhere);
      return true;
    });
  } catch (const json::exception& e) {
    corrupt(std::string("the header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) corrupt("the header is not a JSON object");
  std::vector<std::tuple<uint64_t, std::string, at::Tensor>> entries;
  std::size_t total = 0;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    if (name.empty() || name.size() > 256) corrupt("a tensor name is empty or longer than 256 bytes");
    auto [begin, t] = parse_entry(name, entry, data, limits, total);
    entries.emplace_back(begin, name, std::move(t));
  }
  // In data order, as written (the header's JSON object order is not kept).
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
  TensorBlob blob;
  for (auto& [begin, name, t] : entries) blob.add(name, t);
  return blob;
}

void TensorBlob::save(const std::string& path) const { write_safetensors(path, tensors_); }

TensorBlob TensorBlob::load(const std::string& path, const DecodeLimits& limits) {
  SafetensorsFile file = SafetensorsFile::open(path);
  TensorBlob blob;
  std::size_t total = 0;
  for (const auto& name : file.names()) {
    const SafetensorsEntry& e = file.entry(name);
    const std::size_t bytes = e.end - e.begin;
    total += bytes;
    if (bytes > limits.max_tensor_bytes || total > limits.max_total_tensor_bytes)
      throw Error("tensor of " + std::to_string(bytes) + " bytes exceeds the blob limits",
                  "file " + path + ", tensor " + name, "raise DecodeLimits::max_tensor_bytes / max_total_tensor_bytes");
    at::Tensor t = file.tensor(name);
    if (t.scalar_type() == at::kBool) {
      t = t.clone();
      normalize_bools(t);
    }
    blob.add(name, t);
  }
  return blob;
}

}  // namespace nnsight::format
