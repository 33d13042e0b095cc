#include "nnsight/runtime/loaders/mapped_file.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "nnsight/base/error.h"

namespace nnsight {

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  // O_NONBLOCK: a FIFO must be refused below, not block the open until some writer appears.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    throw Error(std::string("cannot open model file: ") + std::strerror(err), "file " + path,
                err == ENOENT ? "check the path" : "check the file permissions");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("not a regular file", "file " + path, "pass a model file (or a model directory where one is expected)");
  }
  auto size = static_cast<std::size_t>(st.st_size);
  uint8_t* data = nullptr;
  if (size > 0) {
    // Private + writable = copy-on-write; the file itself is never written (opened O_RDONLY).
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw Error(std::string("cannot memory-map model file: ") + std::strerror(err), "file " + path,
                  err == ENOMEM ? "not enough address space for the whole file"
                                : "the file system does not support memory mapping; copy the file to a local disk");
    }
    data = static_cast<uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps its own reference to the file
  return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

bool MappedFile::contains(const void* p, std::size_t n) const {
  auto* b = static_cast<const uint8_t*>(p);
  return data_ != nullptr && b >= data_ && n <= size_ && b - data_ <= static_cast<std::ptrdiff_t>(size_ - n);
}

std::size_t element_size(at::ScalarType dtype) { return c10::elementSize(dtype); }

at::Tensor view_mapped(const std::shared_ptr<const MappedFile>& file, std::size_t offset,
                       const std::vector<int64_t>& shape, at::ScalarType dtype) {
  // from_blob wants a mutable pointer; the mapping is copy-on-write so writes are safe.
  void* ptr = const_cast<uint8_t*>(file->data()) + offset;
  std::size_t esize = element_size(dtype);
  if (reinterpret_cast<uintptr_t>(ptr) % esize != 0) {
    // Misaligned for the dtype: ATen kernels may assume alignment, so copy.
    at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dtype));
    if (out.numel() > 0) std::memcpy(out.data_ptr(), ptr, out.numel() * esize);  // an empty tensor has no data_ptr
    return out;
  }
  std::shared_ptr<const MappedFile> keep = file;
  return at::from_blob(
      ptr, shape, [keep](void*) mutable { keep.reset(); }, at::TensorOptions().dtype(dtype));
}

}  // namespace nnsight
