#include "common/threads.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <sched.h>

#include <cstdlib>
#include <string>

namespace sam3 {

int cpu_threads() {
  int available = 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
    available = CPU_COUNT(&set);
  const char *env = std::getenv("SAM3_THREADS");
  if (!env || !*env)
    return available;
  char *end = nullptr;
  const long n = std::strtol(env, &end, 10);
  if (*end == '\0' && n > 0 && n <= 4096)
    return static_cast<int>(n);
  TORCH_WARN_ONCE("SAM3_THREADS=\"", env, "\" is not a thread count (1 to 4096): using all ",
                  available, " CPUs this process may run on");
  return available;
}

void use_cpu_threads() {
  // Once per thread: the count is fixed for the process, and this runs on every frame.
  thread_local const bool applied = [] {
    at::set_num_threads(cpu_threads());
    return true;
  }();
  (void)applied;
}

} // namespace sam3
