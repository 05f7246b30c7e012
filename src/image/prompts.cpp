#include "image/prompts.h"

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace sam3 {
namespace {

std::string trim(const std::string &s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos)
    return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const auto pos = s.find(sep, start);
    out.push_back(
        trim(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start)));
    if (pos == std::string::npos)
      break;
    start = pos + 1;
  }
  return out;
}

// `what` names the item for the message: "exemplar box \"1,2,x,4\"".
float parse_number(const std::string &s, const std::string &what) {
  if (s.empty())
    throw std::invalid_argument(what + ": empty number");
  char *end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v))
    throw std::invalid_argument(what + ": \"" + s + "\" is not a number");
  return static_cast<float>(v);
}

} // namespace

std::vector<std::string> split_prompts(const std::string &text) {
  std::vector<std::string> out;
  for (auto &p : split(text, ';'))
    if (!p.empty())
      out.push_back(p);
  return out;
}

std::vector<ExemplarBox> parse_exemplar_boxes(const std::string &text) {
  std::vector<ExemplarBox> boxes;
  for (const auto &item : split(text, ';')) {
    if (item.empty())
      continue;
    const auto parts = split(item, ',');
    if (parts.size() != 4 && parts.size() != 5)
      throw std::invalid_argument("exemplar box \"" + item +
                                  "\": expected x,y,w,h or x,y,w,h,pos|neg in pixels");
    ExemplarBox box;
    const std::string what = "exemplar box \"" + item + "\"";
    const float x = parse_number(parts[0], what), y = parse_number(parts[1], what);
    const float w = parse_number(parts[2], what), h = parse_number(parts[3], what);
    if (w <= 0 || h <= 0)
      throw std::invalid_argument("exemplar box \"" + item + "\": width and height must be > 0");
    box.x0 = x;
    box.y0 = y;
    box.x1 = x + w;
    box.y1 = y + h;
    // Far from the origin a small width vanishes in float arithmetic (found by
    // tests/fuzz/fuzz_prompts): such a box would be empty.
    if (!(box.x1 > box.x0 && box.y1 > box.y0))
      throw std::invalid_argument("exemplar box \"" + item +
                                  "\": width or height vanishes at this position");
    if (parts.size() == 5) {
      if (parts[4] == "neg")
        box.positive = false;
      else if (parts[4] != "pos")
        throw std::invalid_argument("exemplar box \"" + item +
                                    "\": the fifth field must be pos or neg");
    }
    boxes.push_back(box);
  }
  return boxes;
}

std::vector<ClickPoint> parse_points(const std::string &text) {
  std::vector<ClickPoint> points;
  for (const auto &item : split(text, ';')) {
    if (item.empty())
      continue;
    const auto parts = split(item, ',');
    if (parts.size() != 2 && parts.size() != 3)
      throw std::invalid_argument("point \"" + item + "\": expected x,y or x,y,pos|neg in pixels");
    ClickPoint point;
    const std::string what = "point \"" + item + "\"";
    point.x = parse_number(parts[0], what);
    point.y = parse_number(parts[1], what);
    if (parts.size() == 3) {
      if (parts[2] == "neg")
        point.positive = false;
      else if (parts[2] != "pos")
        throw std::invalid_argument("point \"" + item + "\": the third field must be pos or neg");
    }
    points.push_back(point);
  }
  if (points.empty())
    throw std::invalid_argument("no points in \"" + text + "\": expected x,y[,pos|neg];...");
  return points;
}

std::string format_exemplar_boxes(const std::vector<ExemplarBox> &boxes) {
  std::ostringstream s;
  for (size_t i = 0; i < boxes.size(); ++i) {
    const auto &b = boxes[i];
    s << (i ? ";" : "") << b.x0 << "," << b.y0 << "," << (b.x1 - b.x0) << "," << (b.y1 - b.y0)
      << (b.positive ? "" : ",neg");
  }
  return s.str();
}

} // namespace sam3
