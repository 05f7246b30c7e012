#include "common/threads.h"

#include <ATen/Parallel.h>

#include <sched.h>

#include <cstdlib>
#include <string>

namespace sam3 {

int cpu_threads() {
  if (const char *env = std::getenv("SAM3_THREADS")) {
    char *end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0 && n <= 4096)
      return static_cast<int>(n);
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
    return CPU_COUNT(&set);
  return 1;
}

void use_cpu_threads() {
  thread_local int applied = 0;
  const int n = cpu_threads();
  if (n != applied) {
    at::set_num_threads(n);
    applied = n;
  }
}

} // namespace sam3
