#include "video/mask_ops.h"

#include <algorithm>
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

} // namespace sam3
