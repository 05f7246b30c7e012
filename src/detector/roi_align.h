// RoIAlign with the semantics of torchvision.ops.roi_align, the op transformers'
// Sam3GeometryEncoder calls to pool exemplar-box features.
#pragma once

#include <torch/torch.h>

namespace sam3 {

struct RoiAlignOptions {
  int64_t pooled_height = 7;
  int64_t pooled_width = 7;
  // Multiplies box coordinates to bring them into feature-map pixels.
  double spatial_scale = 1.0;
  // Samples per bin along each axis; <= 0 picks ceil(roi_size / pooled_size) per box, as
  // torchvision does.
  int64_t sampling_ratio = -1;
  // false: torchvision's legacy convention (no half-pixel shift, roi size at least 1 pixel).
  bool aligned = false;
};

// features (B, C, H, W); boxes (B, N, 4) as x1, y1, x2, y2 in input coordinates, N boxes per
// batch element (torchvision's list-of-tensors form with one tensor per image).
// Returns (B, N, C, pooled_height, pooled_width) in the dtype of `features`.
//
// Samples outside [-1, size] contribute 0 and samples in [-1, 0] are clamped to the border,
// exactly as torchvision's bilinear_interpolate. Half-precision inputs are pooled in fp32.
torch::Tensor roi_align(const torch::Tensor &features, const torch::Tensor &boxes,
                        const RoiAlignOptions &options = {});

} // namespace sam3
