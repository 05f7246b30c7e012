// Mask operations of SAM 3's video loop, on stacks of (N, H, W) mask logits (> 0 is the
// object). They follow the official sam3 code (perflib/masks_ops.py mask_iou, perflib/nms.py,
// sam3_tracker_utils.py fill_holes_in_mask_scores, the tracking predictor's non-overlap
// constraints). Tensors stay on their device except for the connected components, which are
// labelled on the CPU.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <vector>

namespace sam3 {

// IoU between every mask of `a` (N, H, W) and of `b` (M, H, W), both bool: (N, M) float. A pair
// of empty masks has IoU 0.
torch::Tensor mask_iou(const torch::Tensor &a, const torch::Tensor &b);

// Greedy NMS over masks (N, H, W logits) with probabilities (N): visiting by decreasing score,
// drops every mask whose IoU with a kept one is above `iou_threshold`. Returns the kept indices
// in ascending order.
std::vector<int64_t> mask_nms(const torch::Tensor &mask_logits, const torch::Tensor &scores,
                              double iou_threshold);

// For each pixel of the bool masks (N, H, W), the area of its 8-connected component (0 outside
// the mask), int32, on the CPU.
torch::Tensor connected_component_areas(const torch::Tensor &masks);

// Small holes and sprinkles (fill_holes_in_mask_scores): background components of at most
// `max_area` pixels become foreground (logit 0.1); then foreground components of at most
// min(max_area, half the mask's area) become background (logit -0.1). max_area <= 0: no change.
torch::Tensor fill_holes(const torch::Tensor &mask_logits, int64_t max_area);

// Every pixel kept only by the object with the highest logit there; the others clamped to
// at most -10.
torch::Tensor non_overlap_by_pixel(const torch::Tensor &mask_logits);

// Which masks (N, bool) keep at least `min_kept_fraction` of their area under
// non_overlap_by_pixel (an empty mask counts as kept only for a fraction of 0).
torch::Tensor shrinkage_keep(const torch::Tensor &mask_logits, double min_kept_fraction = 0.3);

// Masks that would keep less than `min_kept_fraction` of their area under non_overlap_by_pixel
// are suppressed entirely (clamped to at most -10); the others are returned unchanged,
// overlapping or not (_suppress_object_pw_area_shrinkage).
torch::Tensor suppress_shrinkage(const torch::Tensor &mask_logits, double min_kept_fraction = 0.3);

// A pixel claimed by several objects goes to the one with the highest probability (N); ties go
// to the lower index. The losers' logits there are clamped to at most -10.
torch::Tensor non_overlap_by_object(const torch::Tensor &mask_logits,
                                    const torch::Tensor &probabilities);

// Normalised xyxy boxes around bool masks (N, H, W), on pixel edges: a mask covering columns
// x0..x1 gives x0 / W and (x1 + 1) / W. Empty masks give all zeros.
std::vector<std::array<float, 4>> boxes_from_masks(const torch::Tensor &masks);

// One object's mask at the frame's size, where the official loop reports it (build_outputs,
// _postprocess_output): the low-resolution logits bilinearly resized to the frame
// (align_corners false), > 0 is the object.
struct FrameMask {
  // The box around the mask's pixels, in frame pixels; 0 x 0 when it has none.
  int64_t x = 0, y = 0, width = 0, height = 0;
  torch::Tensor logits; // (height, width) float, CPU; undefined when empty
  bool empty() const { return width == 0; }
};

// `mask_logits` (S, S) resized to a frame_width x frame_height frame, computed only where the
// resize can be positive (within one low-resolution pixel of a positive one) and cropped to
// the box around the positive pixels.
FrameMask frame_mask(const torch::Tensor &mask_logits, int64_t frame_width, int64_t frame_height);

// non_overlap_by_object on frame masks: a pixel covered by several masks goes to the one with
// the highest probability, ties to the lower index, and a probability of 0 or less keeps no
// pixel; the others' logits there are clamped to at most -10. Boxes do not change.
void non_overlap_frame_masks(std::vector<FrameMask> &masks,
                             const std::vector<float> &probabilities);

} // namespace sam3
