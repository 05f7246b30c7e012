// Reading and writing safetensors files (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape
// and byte range, then the raw little-endian tensor data.
//
// The reader memory-maps the file and checks the whole header before it builds a single
// tensor, because model files come from users and a hostile header must give an error,
// never a crash or a huge allocation.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace sam3 {

// A model file (safetensors, config.json) that cannot be used. The message starts with the
// file's path and names the problem.
class ModelFileError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct SafetensorsTensorInfo {
  torch::ScalarType dtype;
  std::string dtype_name; // as spelled in the file: "F32", "BF16", ...
  std::vector<int64_t> shape;
  // Byte range inside the data section (which starts right after the header).
  uint64_t data_begin = 0;
  uint64_t data_end = 0;
};

class SafetensorsFile {
public:
  // Maps `path` and validates its header. Throws ModelFileError.
  static SafetensorsFile open(const std::string &path);

  const std::string &path() const { return path_; }
  // Tensor names, sorted.
  std::vector<std::string> names() const;
  bool has(const std::string &name) const;
  // Throws ModelFileError if there is no tensor `name`.
  const SafetensorsTensorInfo &info(const std::string &name) const;
  // A CPU tensor viewing the mapped bytes (no copy). The mapping is read-only: clone before
  // modifying in place. Each tensor keeps the mapping alive, so tensors may outlive this
  // object. A tensor whose bytes are not aligned to its element size (possible in files
  // from other writers) is copied instead, as CPU kernels assume aligned elements.
  torch::Tensor tensor(const std::string &name) const;
  // The optional "__metadata__" string map.
  const std::map<std::string, std::string> &metadata() const { return metadata_; }

private:
  struct Mapping;

  SafetensorsFile() = default;

  std::string path_;
  std::shared_ptr<const Mapping> mapping_;
  const uint8_t *data_ = nullptr; // start of the data section inside the mapping
  std::map<std::string, SafetensorsTensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (any device and layout; stored as contiguous CPU data) and `metadata`
// to `path`. The header lists names in sorted order; the data is laid out by decreasing
// element size so that every tensor stays aligned to its element size. Throws
// ModelFileError on a duplicate or reserved name, an unsupported dtype or an I/O failure.
void write_safetensors(const std::string &path,
                       const std::vector<std::pair<std::string, torch::Tensor>> &tensors,
                       const std::map<std::string, std::string> &metadata = {});
// The map form. A template only so that a braced list, which cannot deduce it, picks the
// vector form above unambiguously.
template <class Compare, class Allocator>
void write_safetensors(const std::string &path,
                       const std::map<std::string, torch::Tensor, Compare, Allocator> &tensors,
                       const std::map<std::string, std::string> &metadata = {}) {
  write_safetensors(
      path, std::vector<std::pair<std::string, torch::Tensor>>(tensors.begin(), tensors.end()),
      metadata);
}

} // namespace sam3
