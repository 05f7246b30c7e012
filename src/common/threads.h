// How many threads LibTorch's CPU kernels use.
#pragma once

namespace sam3 {

// The CPU thread count the model runs with: SAM3_THREADS when it is set to a positive
// number, else every CPU this process may run on (its affinity mask, which containers and
// taskset narrow). Any other SAM3_THREADS is reported once as a warning and ignored.
int cpu_threads();

// Makes the calling thread's CPU kernels use cpu_threads() threads. LibTorch's OpenMP pool
// keeps its size per calling thread, so each thread that runs the model (a GStreamer
// streaming thread, a tool's main thread) calls this before it does; the first call of a
// thread decides, later ones are free.
void use_cpu_threads();

} // namespace sam3
