#include "common/allocator.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace sam3 {

namespace {

bool user_set(const char *variable, const char *tunable) {
  if (std::getenv(variable))
    return true;
  const char *tunables = std::getenv("GLIBC_TUNABLES");
  return tunables && std::strstr(tunables, tunable);
}

} // namespace

bool keep_activations_in_the_heap() {
  static std::once_flag once;
  static bool changed = false;
  std::call_once(once, [] {
#ifdef __GLIBC__
    if (!user_set("MALLOC_MMAP_THRESHOLD_", "mmap_threshold"))
      changed = mallopt(M_MMAP_THRESHOLD, static_cast<int>(kActivationMmapThreshold)) == 1;
    // Setting the mmap threshold stops glibc adapting the trim threshold with it: left at
    // 128 KiB, a free at the top of the heap gave the pages back, and the next activation
    // there faulted them in again.
    if (changed && !user_set("MALLOC_TRIM_THRESHOLD_", "trim_threshold"))
      mallopt(M_TRIM_THRESHOLD, static_cast<int>(kActivationTrimThreshold));
#endif
  });
  return changed;
}

} // namespace sam3
