#include "nnsight/runtime/loaders/safetensors.h"

#include <ATen/ops/empty.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "nnsight/base/error.h"

namespace nnsight {
namespace {

using json = nlohmann::json;

struct DtypeName {
  const char* name;
  at::ScalarType type;
};
constexpr DtypeName kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"I64", at::kLong},
    {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},  {"U8", at::kByte},       {"BOOL", at::kBool},
};

std::string supported_dtypes() {
  std::string s;
  for (const auto& d : kDtypes) s += (s.empty() ? "" : ", ") + std::string(d.name);
  return s;
}

// Checked multiply: false on overflow.
bool mul_ok(std::size_t a, std::size_t b, std::size_t& out) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) return false;
  out = a * b;
  return true;
}

SafetensorsEntry parse_entry(const std::string& path, const std::string& name, const json& v, std::size_t data_start,
                             std::size_t data_size) {
  const std::string where = "file " + path + ", tensor " + name;
  const std::string hint =
      "the file is corrupt or was not written by a safetensors writer; re-download or re-convert it";
  if (!v.is_object()) throw Error("header entry is not a JSON object", where, hint);
  SafetensorsEntry e;
  e.name = name;
  auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string()) throw Error("header entry has no string 'dtype'", where, hint);
  e.dtype_name = dt->get<std::string>();
  bool known = false;
  for (const auto& d : kDtypes)
    if (e.dtype_name == d.name) e.dtype = d.type, known = true;
  if (!known)
    throw Error("unsupported safetensors dtype '" + e.dtype_name + "'", where,
                "supported dtypes: " + supported_dtypes() + "; convert the checkpoint to one of them");
  auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array()) throw Error("header entry has no 'shape' array", where, hint);
  std::size_t numel = 1;
  for (const auto& d : *sh) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      throw Error("shape has a non-integer or negative dimension", where, hint);
    e.shape.push_back(d.get<int64_t>());
    if (!mul_ok(numel, static_cast<std::size_t>(e.shape.back()), numel)) throw Error("shape overflows", where, hint);
  }
  auto off = v.find("data_offsets");
  if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    throw Error("header entry has no 'data_offsets' pair of non-negative integers", where, hint);
  auto b = (*off)[0].get<uint64_t>(), en = (*off)[1].get<uint64_t>();
  if (b > en || en > data_size)
    throw Error("data_offsets [" + std::to_string(b) + ", " + std::to_string(en) +
                    ") lie outside the data section of " + std::to_string(data_size) + " bytes",
                where, "the file is truncated or corrupt; re-download it");
  std::size_t nbytes = 0;
  const bool fits = mul_ok(numel, c10::elementSize(e.dtype), nbytes);
  if (!fits || nbytes != en - b)
    throw Error("data_offsets span " + std::to_string(en - b) + " bytes but shape and dtype " + e.dtype_name +
                    " need " + (fits ? std::to_string(nbytes) : std::string("more than 2^64")),
                where, hint);
  e.begin = data_start + b;
  e.end = data_start + en;
  return e;
}

}  // namespace

const char* safetensors_dtype_name(at::ScalarType dtype) {
  for (const auto& d : kDtypes)
    if (d.type == dtype) return d.name;
  return nullptr;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.file_ = MappedFile::open(path);
  const std::string where = "file " + path;
  const std::size_t size = f.file_->size();
  if (size < 8)
    throw Error("file is too short to be safetensors (" + std::to_string(size) + " bytes, need at least 8)", where,
                "the file is empty or truncated; re-download it");
  uint64_t header_len = 0;
  std::memcpy(&header_len, f.file_->data(), 8);  // little-endian, as is the host
  if (header_len > size - 8)
    throw Error(
        "header length " + std::to_string(header_len) + " exceeds the file size of " + std::to_string(size) + " bytes",
        where, "the file is truncated or not a safetensors file");
  const char* hb = reinterpret_cast<const char*>(f.file_->data() + 8);
  json header;
  try {
    header = json::parse(hb, hb + header_len);
  } catch (const json::exception& e) {
    throw Error(std::string("header is not valid JSON: ") + e.what(), where,
                "the file is corrupt or not a safetensors file");
  }
  if (!header.is_object()) throw Error("header is not a JSON object", where, "the file is corrupt");
  const std::size_t data_start = 8 + header_len;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) throw Error("__metadata__ is not a JSON object", where, "the file is corrupt");
      for (const auto& [mk, mv] : value.items())
        if (mv.is_string()) f.metadata_[mk] = mv.get<std::string>();
      continue;
    }
    f.entries_.emplace(key, parse_entry(path, key, value, data_start, size - data_start));
  }
  return f;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<const SafetensorsEntry*> es;
  for (const auto& [n, e] : entries_) es.push_back(&e);
  std::stable_sort(es.begin(), es.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  std::vector<std::string> out;
  for (auto* e : es) out.push_back(e->name);
  return out;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    throw Error("tensor '" + name + "' is not in the file", "file " + path(), "list the tensor names the file holds");
  return it->second;
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  return view_mapped(file_, e.begin, e.shape, e.dtype);
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  std::set<std::string> seen;
  std::size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    const std::string where = "file " + path + ", tensor " + name;
    if (name == "__metadata__" || !seen.insert(name).second)
      throw Error("duplicate or reserved tensor name '" + name + "'", where, "give every tensor a unique name");
    if (!t.defined()) throw Error("tensor is undefined", where, "only defined tensors can be saved");
    const char* dn = safetensors_dtype_name(t.scalar_type());
    if (dn == nullptr)
      throw Error(std::string("dtype ") + c10::toString(t.scalar_type()) + " has no safetensors equivalent", where,
                  "convert the tensor to float32 first");
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    std::size_t n = c.numel() * c.element_size();
    header[name] = {{"dtype", dn}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
    data.push_back(std::move(c));
  }
  std::string hs = header.dump();
  hs.append((8 - hs.size() % 8) % 8, ' ');  // keep the data section 8-byte aligned
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot create output file", "file " + path, "check the directory exists and is writable");
    uint64_t len = hs.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out.write(hs.data(), static_cast<std::streamsize>(hs.size()));
    for (const auto& c : data)
      out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * c.element_size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw Error("writing the output file failed", "file " + path, "check free disk space");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error("cannot move the written file into place: " + ec.message(), "file " + path,
                "the path must not be a directory, and its directory must be writable");
  }
}

std::map<std::string, std::string> read_safetensors_index(const std::string& index_path) {
  const std::string where = "file " + index_path;
  std::ifstream in(index_path, std::ios::binary);
  if (!in) throw Error("cannot open sharded-checkpoint index", where, "check the path");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw Error(std::string("index is not valid JSON: ") + e.what(), where, "re-download the checkpoint");
  } catch (const std::ios_base::failure& e) {  // the parser reads the stream buffer directly, which throws
    throw Error(std::string("cannot read sharded-checkpoint index: ") + e.what(), where,
                "the index must be a readable regular file");
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw Error("index has no 'weight_map' object", where, "re-download the checkpoint");
  const auto dir = std::filesystem::path(index_path).parent_path();
  std::map<std::string, std::string> out;
  for (const auto& [name, shard] : j["weight_map"].items()) {
    if (!shard.is_string())
      throw Error("weight_map entry for '" + name + "' is not a file name", where, "re-download the checkpoint");
    const std::string s = shard.get<std::string>();
    if (s.empty() || s.find('/') != std::string::npos || s == "." || s == "..")
      throw Error("weight_map entry for '" + name + "' names an unexpected shard path '" + s + "'", where,
                  "shards must be files next to the index");
    auto p = (dir / s).string();
    if (!std::filesystem::exists(p))
      throw Error("shard '" + s + "' listed for tensor '" + name + "' does not exist", where,
                  "download all shard files of the checkpoint");
    out[name] = p;
  }
  return out;
}

}  // namespace nnsight
