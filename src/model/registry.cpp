#include "model/registry.h"

#include <climits>
#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>

namespace sam3 {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::tuple<std::string, std::string, int>, std::weak_ptr<Model>> models;
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

} // namespace

std::shared_ptr<Model> acquire_model(const std::string &path, const std::string &device,
                                     Precision precision) {
  const auto files = locate_model(path);
  const auto dev = parse_device(device);
  const auto key =
      std::make_tuple(canonical(files.weights), dev.str(), static_cast<int>(precision));
  auto &r = registry();
  // Loading holds the lock: two elements starting together must not load twice.
  std::lock_guard<std::mutex> lock(r.mutex);
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
