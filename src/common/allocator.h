// How the process's C allocator serves the model's activations on the CPU.
#pragma once

#include <cstddef>

namespace sam3 {

// The glibc mmap and trim thresholds keep_activations_in_the_heap() sets.
constexpr std::size_t kActivationMmapThreshold = std::size_t{1} << 30;
constexpr std::size_t kActivationTrimThreshold = std::size_t{1} << 30;

// LibTorch's CPU tensors come from malloc. glibc hands every block above its mmap threshold
// (which adapts up to 32 MiB) a fresh mmap and returns it on free, so each of the full-size
// ViT's activations (40 to 90 MiB) faults its pages in anew on every operation; in bf16, where
// the matrix products are fast, that was about a tenth of the frame. This raises the threshold
// to kActivationMmapThreshold, and the trim threshold (which glibc then no longer adapts) to
// kActivationTrimThreshold, so freed activations are reused from the heap rather than handed
// back to the system from its top. Process-wide and once: the memory a frame used stays with
// the process for the next (as a caching allocator keeps it). Nothing changes where the user set
// the threshold (MALLOC_MMAP_THRESHOLD_, or GLIBC_TUNABLES naming mmap_threshold), or without
// glibc. Returns whether it changed it.
bool keep_activations_in_the_heap();

} // namespace sam3
