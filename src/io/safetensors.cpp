#include "io/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace sam3 {
namespace {

using json = nlohmann::json;

// The reference reader (safetensors' Rust crate) refuses headers above this size.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// No model tensor comes near this; the bound keeps a hostile shape list from building
// an absurd tensor.
constexpr size_t kMaxRank = 64;
constexpr const char *kMetadataKey = "__metadata__";

struct DtypeEntry {
  const char *name;
  torch::ScalarType type;
  uint64_t size;
};

constexpr DtypeEntry kDtypes[] = {
    {"F64", torch::kDouble, 8},    {"F32", torch::kFloat, 4}, {"F16", torch::kHalf, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kLong, 8},  {"I32", torch::kInt, 4},
    {"I16", torch::kShort, 2},     {"I8", torch::kChar, 1},   {"U8", torch::kByte, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeEntry *dtype_by_name(const std::string &name) {
  for (const auto &d : kDtypes)
    if (name == d.name)
      return &d;
  return nullptr;
}

const DtypeEntry *dtype_by_type(torch::ScalarType type) {
  for (const auto &d : kDtypes)
    if (type == d.type)
      return &d;
  return nullptr;
}

std::string supported_dtypes() {
  std::string s;
  for (const auto &d : kDtypes)
    s += (s.empty() ? "" : ", ") + std::string(d.name);
  return s;
}

[[noreturn]] void fail(const std::string &path, const std::string &problem) {
  throw ModelFileError(path + ": " + problem);
}

std::string quoted(const std::string &name) {
  return "'" + name + "'";
}

// nlohmann keeps the last of two equal keys silently; a duplicate tensor name makes the
// file ambiguous, so the parse callback records the first one and the reader refuses it.
class DuplicateKeyFinder {
public:
  bool operator()(int, json::parse_event_t event, json &parsed) {
    switch (event) {
    case json::parse_event_t::object_start:
      keys_.emplace_back();
      break;
    case json::parse_event_t::object_end:
      keys_.pop_back();
      break;
    case json::parse_event_t::key:
      if (!keys_.empty() && !keys_.back().insert(parsed.get<std::string>()).second &&
          duplicate_.empty())
        duplicate_ = parsed.get<std::string>();
      break;
    default:
      break;
    }
    return true;
  }
  const std::string &duplicate() const { return duplicate_; }

private:
  std::vector<std::set<std::string>> keys_;
  std::string duplicate_;
};

bool as_u64(const json &v, uint64_t &out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    out = static_cast<uint64_t>(v.get<int64_t>());
    return true;
  }
  return false;
}

SafetensorsTensorInfo parse_entry(const std::string &path, const std::string &name,
                                  const json &entry, uint64_t data_size) {
  const std::string what = "tensor " + quoted(name);
  if (!entry.is_object())
    fail(path, what + " entry is not a JSON object");
  for (const char *key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key))
      fail(path, what + " has no \"" + key + "\"");

  const json &dtype = entry.at("dtype");
  if (!dtype.is_string())
    fail(path, what + " dtype is not a string");
  const DtypeEntry *d = dtype_by_name(dtype.get<std::string>());
  if (d == nullptr)
    fail(path, what + " has unsupported dtype " + quoted(dtype.get<std::string>()) +
                   " (supported: " + supported_dtypes() + ")");

  const json &shape = entry.at("shape");
  if (!shape.is_array())
    fail(path, what + " shape is not an array");
  if (shape.size() > kMaxRank)
    fail(path, what + " shape has rank " + std::to_string(shape.size()) + ", more than " +
                   std::to_string(kMaxRank));
  SafetensorsTensorInfo info;
  info.dtype = d->type;
  info.dtype_name = d->name;
  // Zero dimensions are left out of the product so that a zero-size tensor with absurd
  // other dimensions is refused too: torch computes strides without overflow checks.
  uint64_t span = d->size;
  bool has_zero = false;
  for (const json &dim : shape) {
    uint64_t n = 0;
    if (!as_u64(dim, n) || n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(path, what + " shape " + shape.dump() + " has an entry that is not a non-negative " +
                     "integer below 2^63");
    info.shape.push_back(static_cast<int64_t>(n));
    has_zero = has_zero || n == 0;
    if (n != 0 && (__builtin_mul_overflow(span, n, &span) ||
                   span > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())))
      fail(path, what + " shape " + shape.dump() + " overflows: its byte size exceeds 2^63");
  }
  const uint64_t bytes = has_zero ? 0 : span;

  const json &offsets = entry.at("data_offsets");
  uint64_t begin = 0, end = 0;
  if (!offsets.is_array() || offsets.size() != 2 || !as_u64(offsets[0], begin) ||
      !as_u64(offsets[1], end))
    fail(path,
         what + " data_offsets " + offsets.dump() + " is not a pair of non-negative integers");
  if (begin > end)
    fail(path, what + " data_offsets " + offsets.dump() + ": begin > end");
  if (end > data_size)
    fail(path, what + " data_offsets " + offsets.dump() + " run past the end of the data (" +
                   std::to_string(data_size) + " bytes)");
  if (end - begin != bytes)
    fail(path, what + " size mismatch: shape " + shape.dump() + " of " + d->name + " needs " +
                   std::to_string(bytes) + " bytes but data_offsets " + offsets.dump() + " hold " +
                   std::to_string(end - begin));
  info.data_begin = begin;
  info.data_end = end;
  return info;
}

// The format requires the tensors to cover the data section exactly (no overlap, no gap,
// nothing after the last tensor), which keeps a file from hiding a second payload.
void check_coverage(const std::string &path,
                    const std::map<std::string, SafetensorsTensorInfo> &tensors,
                    uint64_t data_size) {
  std::vector<std::pair<const std::string *, const SafetensorsTensorInfo *>> order;
  for (const auto &[name, info] : tensors)
    order.emplace_back(&name, &info);
  std::sort(order.begin(), order.end(), [](const auto &a, const auto &b) {
    return std::make_pair(a.second->data_begin, a.second->data_end) <
           std::make_pair(b.second->data_begin, b.second->data_end);
  });
  uint64_t covered = 0;
  const std::string *previous = nullptr;
  for (const auto &[name, info] : order) {
    if (info->data_begin < covered)
      fail(path, "tensor " + quoted(*name) + " overlaps tensor " + quoted(*previous) + " (bytes " +
                     std::to_string(info->data_begin) + ".." + std::to_string(covered) + ")");
    if (info->data_begin > covered)
      fail(path, "data bytes " + std::to_string(covered) + ".." + std::to_string(info->data_begin) +
                     " belong to no tensor (gap before " + quoted(*name) + ")");
    covered = info->data_end;
    previous = name;
  }
  if (covered != data_size)
    fail(path, "data bytes " + std::to_string(covered) + ".." + std::to_string(data_size) +
                   " belong to no tensor (trailing data)");
}

} // namespace

struct SafetensorsFile::Mapping {
  void *address = nullptr;
  size_t size = 0;

  Mapping(void *a, size_t s) : address(a), size(s) {}
  Mapping(const Mapping &) = delete;
  Mapping &operator=(const Mapping &) = delete;
  ~Mapping() { munmap(address, size); }
};

SafetensorsFile SafetensorsFile::open(const std::string &path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail(path, std::string("cannot stat: ") + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail(path, "is a directory, not a safetensors file");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "is not a regular file");
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    fail(path, "file too short: " + std::to_string(file_size) +
                   " bytes, a safetensors file starts with an 8-byte header length");
  }
  void *address = mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (address == MAP_FAILED)
    fail(path, std::string("cannot map: ") + std::strerror(map_errno));

  SafetensorsFile file;
  file.path_ = path;
  file.mapping_ = std::make_shared<const Mapping>(address, file_size);
  const auto *bytes = static_cast<const uint8_t *>(address);

  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i)
    header_size = (header_size << 8) | bytes[i];
  if (header_size > file_size - 8)
    fail(path, "header length " + std::to_string(header_size) + " runs past the end of the file (" +
                   std::to_string(file_size) + " bytes)");
  if (header_size > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_size) + " exceeds the limit of " +
                   std::to_string(kMaxHeaderBytes) + " bytes");
  const uint64_t data_size = file_size - 8 - header_size;
  file.data_ = bytes + 8 + header_size;

  DuplicateKeyFinder duplicates;
  json header;
  try {
    header = json::parse(bytes + 8, bytes + 8 + header_size, std::ref(duplicates));
  } catch (const json::exception &e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object())
    fail(path, "header is not a JSON object");
  if (!duplicates.duplicate().empty())
    fail(path, "header has duplicate key " + quoted(duplicates.duplicate()));

  for (const auto &[name, entry] : header.items()) {
    if (name == kMetadataKey) {
      if (!entry.is_object())
        fail(path, "__metadata__ is not a JSON object");
      for (const auto &[key, value] : entry.items()) {
        if (!value.is_string())
          fail(path, "__metadata__ value for " + quoted(key) + " is not a string");
        file.metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    file.tensors_[name] = parse_entry(path, name, entry, data_size);
  }
  check_coverage(path, file.tensors_, data_size);
  return file;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto &entry : tensors_)
    out.push_back(entry.first);
  return out;
}

bool SafetensorsFile::has(const std::string &name) const {
  return tensors_.count(name) != 0;
}

const SafetensorsTensorInfo &SafetensorsFile::info(const std::string &name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end())
    fail(path_, "no tensor " + quoted(name));
  return it->second;
}

torch::Tensor SafetensorsFile::tensor(const std::string &name) const {
  const SafetensorsTensorInfo &i = info(name);
  const uint8_t *begin = data_ + i.data_begin;
  const uint64_t count = i.data_end - i.data_begin;
  if (i.dtype == torch::kBool) {
    // Any byte but 0 and 1 is an invalid bool for torch; the check is cheap (masks only).
    for (uint64_t k = 0; k < count; ++k)
      if (begin[k] > 1)
        fail(path_, "BOOL tensor " + quoted(name) + " holds a byte other than 0 and 1");
  }
  const auto options = torch::TensorOptions().dtype(i.dtype).device(torch::kCPU);
  const uint64_t element_size = dtype_by_type(i.dtype)->size;
  auto keep_alive = mapping_;
  torch::Tensor view = torch::from_blob(
      const_cast<uint8_t *>(begin), i.shape, [keep_alive](void *) {}, options);
  if (reinterpret_cast<uintptr_t>(begin) % element_size != 0)
    return view.clone();
  return view;
}

namespace {

struct Pending {
  std::string name;
  torch::Tensor data;
  const DtypeEntry *dtype;
};

void write_all(const std::string &path, std::FILE *out, const void *data, size_t size) {
  if (size != 0 && std::fwrite(data, 1, size, out) != size) {
    const int err = errno;
    std::fclose(out);
    fail(path, std::string("write failed: ") + std::strerror(err));
  }
}

} // namespace

void write_safetensors(const std::string &path,
                       const std::vector<std::pair<std::string, torch::Tensor>> &tensors,
                       const std::map<std::string, std::string> &metadata) {
  std::vector<Pending> pending;
  std::set<std::string> seen;
  for (const auto &[name, tensor] : tensors) {
    if (name == kMetadataKey)
      fail(path, "tensor name " + quoted(name) + " is reserved for metadata");
    if (!seen.insert(name).second)
      fail(path, "duplicate tensor name " + quoted(name));
    if (!tensor.defined())
      fail(path, "tensor " + quoted(name) + " is undefined");
    const DtypeEntry *d = dtype_by_type(tensor.scalar_type());
    if (d == nullptr)
      fail(path, "tensor " + quoted(name) + " has unsupported dtype " +
                     std::string(c10::toString(tensor.scalar_type())) +
                     " (supported: " + supported_dtypes() + ")");
    pending.push_back({name, tensor.to(torch::kCPU).contiguous(), d});
  }
  std::stable_sort(pending.begin(), pending.end(), [](const Pending &a, const Pending &b) {
    return a.dtype->size != b.dtype->size ? a.dtype->size > b.dtype->size : a.name < b.name;
  });

  json header = json::object();
  if (!metadata.empty())
    header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (const Pending &p : pending) {
    const uint64_t size = static_cast<uint64_t>(p.data.numel()) * p.dtype->size;
    header[p.name] = {{"dtype", p.dtype->name},
                      {"shape", p.data.sizes().vec()},
                      {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string text = header.dump();
  // Padding with spaces (allowed by the format) puts the data section on an 8-byte boundary.
  text.append((8 - text.size() % 8) % 8, ' ');

  uint8_t length[8];
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

  std::FILE *out = std::fopen(path.c_str(), "wb");
  if (out == nullptr)
    fail(path, std::string("cannot create: ") + std::strerror(errno));
  write_all(path, out, length, sizeof length);
  write_all(path, out, text.data(), text.size());
  for (const Pending &p : pending)
    write_all(path, out, p.data.data_ptr(), static_cast<size_t>(p.data.numel()) * p.dtype->size);
  if (std::fclose(out) != 0)
    fail(path, std::string("write failed: ") + std::strerror(errno));
}

} // namespace sam3
