// The structured strings users type into properties: prompt lists, exemplar boxes, points.
// Bad text gives std::invalid_argument; good text survives format/parse unchanged in count.
#include "image/prompts.h"

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  for (const auto &p : sam3::split_prompts(text))
    if (p.empty() || p.find(';') != std::string::npos)
      std::abort();
  try {
    const auto boxes = sam3::parse_exemplar_boxes(text);
    for (const auto &b : boxes)
      if (!(b.x1 > b.x0 && b.y1 > b.y0))
        std::abort();
    // Formatting may round a box down to an empty one; it must then be refused, not crash.
    try {
      if (sam3::parse_exemplar_boxes(sam3::format_exemplar_boxes(boxes)).size() != boxes.size())
        std::abort();
    } catch (const std::invalid_argument &) {
    }
  } catch (const std::invalid_argument &) {
  }
  try {
    if (sam3::parse_points(text).empty())
      std::abort();
  } catch (const std::invalid_argument &) {
  }
  return 0;
}
