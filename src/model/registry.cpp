#include "model/registry.h"

#include "io/safetensors.h"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>

namespace sam3 {
namespace {

// A weights file replaced on disk (renamed over, or rewritten in place) is a different model
// under the same path: its identity is the path plus what stat() says of the file now.
using FileIdentity = std::tuple<dev_t, ino_t, off_t, time_t, long>;
using Key = std::tuple<std::string, FileIdentity, std::string, int>;

struct Registry {
  std::mutex mutex;
  std::map<Key, std::weak_ptr<Model>> models;
  uint64_t loads = 0;
};

Registry &registry() {
  static Registry r;
  return r;
}

std::string canonical(const std::string &path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

FileIdentity identity(const std::string &path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw ModelFileError(path + ": cannot stat: " + std::strerror(errno));
  return {st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
}

} // namespace

std::shared_ptr<Model> acquire_model(const std::string &path, const std::string &device,
                                     Precision precision) {
  const auto files = locate_model(path);
  const auto dev = parse_device(device);
  const auto weights = canonical(files.weights);
  const Key key{weights, identity(weights), dev.str(), static_cast<int>(precision)};
  auto &r = registry();
  // Loading holds the lock: two elements starting together must not load twice.
  std::lock_guard<std::mutex> lock(r.mutex);
  // Entries of freed models and of files since replaced would pile up in a process that
  // runs for months.
  for (auto it = r.models.begin(); it != r.models.end();)
    it = it->second.expired() ? r.models.erase(it) : std::next(it);
  if (auto existing = r.models[key].lock())
    return existing;
  auto model = Model::load(path, dev, precision);
  r.models[key] = model;
  ++r.loads;
  return model;
}

uint64_t model_load_count() {
  auto &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.loads;
}

} // namespace sam3
