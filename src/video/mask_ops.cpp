#include "video/mask_ops.h"

#include "image/image_predictor.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace sam3 {
namespace {

// The logit the reference clamps losing or suppressed pixels to (sigmoid(-10) ~ 4.5e-5).
constexpr double kSuppressedLogit = -10.0;

void check_stack(const torch::Tensor &masks, const char *what) {
  if (!masks.defined() || masks.dim() != 3)
    throw std::invalid_argument(std::string(what) + ": expected an (N, H, W) mask stack, got " +
                                (masks.defined() ? std::to_string(masks.dim()) + " dimensions"
                                                 : std::string("an undefined tensor")));
}

void check_bool(const torch::Tensor &masks, const char *what) {
  check_stack(masks, what);
  if (masks.scalar_type() != torch::kBool)
    throw std::invalid_argument(std::string(what) + ": expected bool masks");
}

void check_float(const torch::Tensor &masks, const char *what) {
  check_stack(masks, what);
  if (!masks.is_floating_point())
    throw std::invalid_argument(std::string(what) + ": expected floating-point mask logits");
}

void check_scores(const torch::Tensor &scores, int64_t n, const char *what) {
  if (!scores.defined() || scores.dim() != 1 || scores.size(0) != n)
    throw std::invalid_argument(std::string(what) + ": expected " + std::to_string(n) +
                                " scores, one per mask");
}

// Union-find root with path halving.
int32_t find_root(std::vector<int32_t> &parent, int32_t i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

} // namespace

torch::Tensor mask_iou(const torch::Tensor &a, const torch::Tensor &b) {
  check_bool(a, "mask_iou");
  check_bool(b, "mask_iou");
  if (a.sizes().slice(1) != b.sizes().slice(1))
    throw std::invalid_argument("mask_iou: the two stacks have different mask sizes");
  // Counts stay exact in float up to 2^24 pixels, far above any mask side used here.
  auto af = a.flatten(1).to(torch::kFloat);
  auto bf = b.flatten(1).to(torch::kFloat);
  auto intersection = af.matmul(bf.t());
  auto uni = af.sum(1).unsqueeze(1) + bf.sum(1).unsqueeze(0) - intersection;
  return intersection / uni.clamp_min(1.0);
}

std::vector<int64_t> mask_nms(const torch::Tensor &mask_logits, const torch::Tensor &scores,
                              double iou_threshold) {
  check_float(mask_logits, "mask_nms");
  const int64_t n = mask_logits.size(0);
  check_scores(scores, n, "mask_nms");
  auto masks = mask_logits > 0;
  auto ious = mask_iou(masks, masks).to(torch::kCPU).contiguous();
  auto s = scores.to(torch::kCPU, torch::kFloat).contiguous();
  const float *sp = s.data_ptr<float>();
  const float *iou = ious.data_ptr<float>();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return sp[x] > sp[y]; });
  std::vector<bool> dropped(n, false);
  std::vector<int64_t> kept;
  for (size_t oi = 0; oi < order.size(); ++oi) {
    const int64_t i = order[oi];
    if (dropped[i])
      continue;
    kept.push_back(i);
    for (size_t oj = oi + 1; oj < order.size(); ++oj)
      if (iou[i * n + order[oj]] > iou_threshold)
        dropped[order[oj]] = true;
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

torch::Tensor connected_component_areas(const torch::Tensor &masks) {
  check_bool(masks, "connected_component_areas");
  auto cpu = masks.to(torch::kCPU).contiguous();
  const int64_t n = cpu.size(0), h = cpu.size(1), w = cpu.size(2);
  auto areas = torch::zeros({n, h, w}, torch::kInt32);
  const bool *m = cpu.data_ptr<bool>();
  int32_t *out = areas.data_ptr<int32_t>();
  const int32_t hw = static_cast<int32_t>(h * w);
  std::vector<int32_t> parent(hw), count(hw);
  for (int64_t b = 0; b < n; ++b) {
    const bool *mb = m + b * hw;
    int32_t *ob = out + b * hw;
    std::iota(parent.begin(), parent.end(), 0);
    auto unite = [&](int32_t i, int32_t j) {
      i = find_root(parent, i);
      j = find_root(parent, j);
      if (i != j)
        parent[std::max(i, j)] = std::min(i, j);
    };
    // 8-connectivity, as skimage.measure.label's default on 2-D input (the reference's CPU
    // path and cc_torch agree on it): join each pixel with its four already-visited neighbours.
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        const int32_t i = static_cast<int32_t>(y * w + x);
        if (!mb[i])
          continue;
        if (x > 0 && mb[i - 1])
          unite(i, i - 1);
        if (y > 0) {
          const int32_t up = i - static_cast<int32_t>(w);
          if (mb[up])
            unite(i, up);
          if (x > 0 && mb[up - 1])
            unite(i, up - 1);
          if (x + 1 < w && mb[up + 1])
            unite(i, up + 1);
        }
      }
    }
    std::fill(count.begin(), count.end(), 0);
    for (int32_t i = 0; i < hw; ++i)
      if (mb[i])
        ++count[find_root(parent, i)];
    for (int32_t i = 0; i < hw; ++i)
      ob[i] = mb[i] ? count[find_root(parent, i)] : 0;
  }
  return areas;
}

torch::Tensor fill_holes(const torch::Tensor &mask_logits, int64_t max_area) {
  check_float(mask_logits, "fill_holes");
  if (max_area <= 0 || mask_logits.size(0) == 0)
    return mask_logits;
  const auto device = mask_logits.device();
  auto background = mask_logits <= 0;
  auto bg_areas = connected_component_areas(background).to(device);
  auto mask = mask_logits.masked_fill(background & (bg_areas <= max_area), 0.1);

  // Only components under half the mask's area count as sprinkles, so a tiny object that
  // is the whole mask survives.
  auto foreground = mask > 0;
  auto fg_limit = foreground.sum({1, 2}, /*keepdim=*/true).floor_divide(2).clamp_max(max_area);
  auto fg_areas = connected_component_areas(foreground).to(device);
  return mask.masked_fill(foreground & (fg_areas <= fg_limit), -0.1);
}

torch::Tensor non_overlap_by_pixel(const torch::Tensor &mask_logits) {
  check_float(mask_logits, "non_overlap_by_pixel");
  const int64_t n = mask_logits.size(0);
  if (n <= 1)
    return mask_logits;
  auto winner = mask_logits.argmax(0, /*keepdim=*/true);
  auto index = torch::arange(n, winner.options()).view({n, 1, 1});
  return torch::where(winner == index, mask_logits, mask_logits.clamp_max(kSuppressedLogit));
}

torch::Tensor shrinkage_keep(const torch::Tensor &mask_logits, double min_kept_fraction) {
  check_float(mask_logits, "shrinkage_keep");
  auto before = (mask_logits > 0).sum({1, 2}).to(torch::kFloat).clamp_min(1.0);
  auto after = (non_overlap_by_pixel(mask_logits) > 0).sum({1, 2}).to(torch::kFloat);
  return after / before >= min_kept_fraction;
}

torch::Tensor suppress_shrinkage(const torch::Tensor &mask_logits, double min_kept_fraction) {
  check_float(mask_logits, "suppress_shrinkage");
  const int64_t n = mask_logits.size(0);
  auto keep = shrinkage_keep(mask_logits, min_kept_fraction).view({n, 1, 1});
  return torch::where(keep, mask_logits, mask_logits.clamp_max(kSuppressedLogit));
}

torch::Tensor non_overlap_by_object(const torch::Tensor &mask_logits,
                                    const torch::Tensor &probabilities) {
  check_float(mask_logits, "non_overlap_by_object");
  const int64_t n = mask_logits.size(0);
  check_scores(probabilities, n, "non_overlap_by_object");
  if (n <= 1)
    return mask_logits;
  auto inside = mask_logits > 0;
  auto probs = probabilities.to(mask_logits.device(), torch::kFloat).view({n, 1, 1});
  // Each pixel scored by its object's probability, 0 outside the mask, as the reference's
  // object-wise constraint does with background_value = 0.
  auto claim = torch::where(inside, probs.expand_as(mask_logits),
                            torch::zeros({}, mask_logits.options().dtype(torch::kFloat)));
  auto winner = claim.argmax(0, /*keepdim=*/true);
  auto index = torch::arange(n, winner.options()).view({n, 1, 1});
  auto keep = (winner == index) & (claim > 0);
  return torch::where(keep, mask_logits, mask_logits.clamp_max(kSuppressedLogit));
}

std::vector<std::array<float, 4>> boxes_from_masks(const torch::Tensor &masks) {
  check_bool(masks, "boxes_from_masks");
  const int64_t n = masks.size(0), h = masks.size(1), w = masks.size(2);
  auto rows = masks.any(2).to(torch::kCPU).contiguous();
  auto cols = masks.any(1).to(torch::kCPU).contiguous();
  const bool *r = rows.data_ptr<bool>();
  const bool *c = cols.data_ptr<bool>();
  std::vector<std::array<float, 4>> boxes(n, std::array<float, 4>{0.f, 0.f, 0.f, 0.f});
  for (int64_t b = 0; b < n; ++b) {
    const bool *rb = r + b * h;
    const bool *cb = c + b * w;
    const auto y0 = std::find(rb, rb + h, true) - rb;
    const auto x0 = std::find(cb, cb + w, true) - cb;
    if (y0 == h || x0 == w)
      continue;
    const auto y1 = h - (std::find(std::reverse_iterator<const bool *>(rb + h),
                                   std::reverse_iterator<const bool *>(rb), true) -
                         std::reverse_iterator<const bool *>(rb + h));
    const auto x1 = w - (std::find(std::reverse_iterator<const bool *>(cb + w),
                                   std::reverse_iterator<const bool *>(cb), true) -
                         std::reverse_iterator<const bool *>(cb + w));
    boxes[b] = {static_cast<float>(x0) / w, static_cast<float>(y0) / h, static_cast<float>(x1) / w,
                static_cast<float>(y1) / h};
  }
  return boxes;
}

namespace {

// First and last true index of a 1-D bool CPU tensor; {-1, -1} when none is.
std::pair<int64_t, int64_t> true_span(const torch::Tensor &flags) {
  const auto index = flags.nonzero();
  if (index.size(0) == 0)
    return {-1, -1};
  return {index[0][0].item<int64_t>(), index[-1][0].item<int64_t>()};
}

// The frame pixels [begin, end) along one axis of `frame` pixels whose resized value can be
// positive, for positive low-resolution pixels first..last of `side`: pixel p samples the
// low-resolution coordinate u = (p + 0.5) * side / frame - 0.5 between floor(u) and floor(u) + 1,
// so it can be positive only for first - 1 < u < last + 1.
std::pair<int64_t, int64_t> reach(int64_t first, int64_t last, int64_t side, int64_t frame) {
  const double scale = static_cast<double>(frame) / static_cast<double>(side);
  const auto begin = static_cast<int64_t>(std::floor((first - 0.5) * scale - 0.5));
  const auto end = static_cast<int64_t>(std::ceil((last + 1.5) * scale - 0.5)) + 1;
  return {std::clamp<int64_t>(begin, 0, frame), std::clamp<int64_t>(end, 0, frame)};
}

} // namespace

FrameMask frame_mask(const torch::Tensor &mask_logits, int64_t frame_width, int64_t frame_height) {
  check_float(mask_logits.unsqueeze(0), "frame_mask");
  if (frame_width <= 0 || frame_height <= 0)
    throw std::invalid_argument("frame_mask: empty frame");
  const auto positive = (mask_logits > 0).to(torch::kCPU);
  const auto rows = true_span(positive.any(1)), cols = true_span(positive.any(0));
  if (rows.first < 0)
    return {};
  const auto xs = reach(cols.first, cols.second, mask_logits.size(1), frame_width);
  const auto ys = reach(rows.first, rows.second, mask_logits.size(0), frame_height);
  if (xs.second <= xs.first || ys.second <= ys.first)
    return {};
  const auto logits = resize_mask_logits(mask_logits, frame_width, frame_height, xs.first, ys.first,
                                         xs.second - xs.first, ys.second - ys.first);
  const auto inside = logits > 0;
  const auto y = true_span(inside.any(1)), x = true_span(inside.any(0));
  if (y.first < 0)
    return {};
  FrameMask mask;
  mask.x = xs.first + x.first;
  mask.y = ys.first + y.first;
  mask.width = x.second - x.first + 1;
  mask.height = y.second - y.first + 1;
  mask.logits = logits.slice(0, y.first, y.second + 1).slice(1, x.first, x.second + 1).contiguous();
  return mask;
}

void non_overlap_frame_masks(std::vector<FrameMask> &masks,
                             const std::vector<float> &probabilities) {
  if (probabilities.size() != masks.size())
    throw std::invalid_argument("non_overlap_frame_masks: " + std::to_string(masks.size()) +
                                " masks, " + std::to_string(probabilities.size()) +
                                " probabilities");
  // Every decision is taken on the masks as they came in.
  std::vector<torch::Tensor> positive;
  for (const auto &m : masks)
    positive.push_back(m.empty() ? torch::Tensor() : m.logits > 0);
  std::vector<torch::Tensor> out;
  for (const auto &m : masks)
    out.push_back(m.empty() ? torch::Tensor() : m.logits.clone());
  const auto n = masks.size();
  for (size_t i = 0; i < n; ++i) {
    if (masks[i].empty())
      continue;
    if (!(probabilities[i] > 0)) {
      out[i].clamp_max_(kSuppressedLogit);
      continue;
    }
    for (size_t j = 0; j < n; ++j) {
      const bool beats =
          probabilities[j] > probabilities[i] || (probabilities[j] == probabilities[i] && j < i);
      if (j == i || masks[j].empty() || !beats)
        continue;
      const auto &a = masks[i], &b = masks[j];
      const int64_t x0 = std::max(a.x, b.x), x1 = std::min(a.x + a.width, b.x + b.width);
      const int64_t y0 = std::max(a.y, b.y), y1 = std::min(a.y + a.height, b.y + b.height);
      if (x1 <= x0 || y1 <= y0)
        continue;
      auto region = out[i].slice(0, y0 - a.y, y1 - a.y).slice(1, x0 - a.x, x1 - a.x);
      const auto lost = positive[j].slice(0, y0 - b.y, y1 - b.y).slice(1, x0 - b.x, x1 - b.x);
      region.copy_(torch::where(lost, region.clamp_max(kSuppressedLogit), region));
    }
  }
  for (size_t i = 0; i < n; ++i)
    masks[i].logits = out[i];
}

} // namespace sam3
