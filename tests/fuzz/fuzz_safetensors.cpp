// safetensors reader: any file gives a ModelFileError or tensors whose every byte lies inside
// the file (reading them all must not fault: ASAN checks).
#include "io/safetensors.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string path = "/tmp/sam3-fuzz-" + std::to_string(getpid()) + ".safetensors";
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    const auto file = sam3::SafetensorsFile::open(path);
    for (const auto &name : file.names()) {
      const auto t = file.tensor(name);
      if (t.numel() > 0)
        (void)t.to(torch::kDouble).sum().item<double>();
    }
  } catch (const sam3::ModelFileError &) {
  }
  return 0;
}
