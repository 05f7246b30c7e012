#include "common/allocator.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace sam3 {

namespace {

bool user_set_threshold() {
  if (std::getenv("MALLOC_MMAP_THRESHOLD_"))
    return true;
  const char *tunables = std::getenv("GLIBC_TUNABLES");
  return tunables && std::strstr(tunables, "mmap_threshold");
}

} // namespace

bool keep_activations_in_the_heap() {
  static std::once_flag once;
  static bool changed = false;
  std::call_once(once, [] {
#ifdef __GLIBC__
    if (!user_set_threshold())
      changed = mallopt(M_MMAP_THRESHOLD, static_cast<int>(kActivationMmapThreshold)) == 1;
#endif
  });
  return changed;
}

} // namespace sam3
