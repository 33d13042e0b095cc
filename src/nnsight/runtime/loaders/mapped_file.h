#pragma once
/// @file
/// MappedFile: a whole file memory-mapped for reading, shared by every tensor
/// that views into it, plus helpers to make such views.
///
/// The mapping is private copy-on-write: the file is opened read-only and is
/// never modified, but a tensor written in place (an intervention editing a
/// weight) gets private pages instead of a segmentation fault.

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nnsight {

/// A read-only, private copy-on-write mapping of one whole file.
class MappedFile {
 public:
  /// Maps `path`. Throws nnsight::Error naming the file when it does not
  /// exist, is a directory or cannot be read. A zero-byte file gives an
  /// empty mapping (size() == 0); format readers report it.
  static std::shared_ptr<const MappedFile> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }      ///< the first byte of the mapping
  std::size_t size() const { return size_; }         ///< the file's size in bytes
  const std::string& path() const { return path_; }  ///< the path it was opened with

  /// True if [p, p + n) lies inside the mapping.
  bool contains(const void* p, std::size_t n = 1) const;

 private:
  MappedFile(std::string path, uint8_t* data, std::size_t size) : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  uint8_t* data_;
  std::size_t size_;
};

/// Size in bytes of one element of `dtype`.
std::size_t element_size(at::ScalarType dtype);

/// A CPU tensor of `shape`/`dtype` over bytes [offset, offset + numel*size) of
/// `file`, keeping the mapping alive. No copy when the data is aligned for the
/// dtype; a contiguous copy otherwise. The caller has checked the range.
at::Tensor view_mapped(const std::shared_ptr<const MappedFile>& file, std::size_t offset,
                       const std::vector<int64_t>& shape, at::ScalarType dtype);

}  // namespace nnsight
