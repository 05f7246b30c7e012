// config.json parser: any bytes give a ConfigError or a config whose to_json round trip is
// stable (a config we write must read back as itself).
#include "model/config.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  sam3::ModelConfig config;
  try {
    config = sam3::parse_config(text, "fuzz.json");
  } catch (const sam3::ConfigError &) {
    return 0;
  }
  try {
    sam3::validate(config);
  } catch (const sam3::ConfigError &) {
  }
  const std::string once = sam3::to_json(config);
  if (sam3::to_json(sam3::parse_config(once, "again.json")) != once)
    std::abort();
  return 0;
}
