// The text forms users type prompts in (element properties, command-line options).
#pragma once

#include "image/image_predictor.h"

#include <string>
#include <vector>

namespace sam3 {

// "person; red car;;" -> {"person", "red car"}: split on ';', spaces trimmed, empty parts
// dropped.
std::vector<std::string> split_prompts(const std::string &text);

// "x,y,w,h[,pos|neg]; ..." in pixels -> boxes. Throws std::invalid_argument naming the bad
// part (not four numbers, a non-finite value, a non-positive width or height, a bad flag).
std::vector<ExemplarBox> parse_exemplar_boxes(const std::string &text);

// A click on an object, in pixels: positive (on the object) or negative (not on it).
struct ClickPoint {
  float x = 0, y = 0;
  bool positive = true;
};

// "x,y[,pos|neg]; ..." in pixels -> clicks (positive unless marked neg). Throws
// std::invalid_argument naming the bad part; an empty list is an error too (a click prompt
// without clicks means nothing).
std::vector<ClickPoint> parse_points(const std::string &text);

// The inverse of parse_exemplar_boxes (used to show the current value).
std::string format_exemplar_boxes(const std::vector<ExemplarBox> &boxes);

} // namespace sam3
