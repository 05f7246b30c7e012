// Image pre-processing for the detector (sam3-reference.md §2.1, transformers'
// Sam3ImageProcessorFast): resize to the model's square input without keeping the aspect
// ratio, scale to [0, 1], normalise with mean = std = 0.5.
#pragma once

#include <torch/torch.h>

namespace sam3 {

// `rgb`: (H, W, 3) uint8 RGB, any device. Returns (1, 3, size, size) in `dtype` on `device`.
// The resize (bilinear, antialias) runs on the uint8 image as the official code and
// transformers do, so on the CPU the pixels are theirs exactly; on a GPU the float resize is
// rounded to whole grey levels (at most one level off).
torch::Tensor preprocess_image(const torch::Tensor &rgb, int64_t size, torch::Device device,
                               torch::ScalarType dtype);

} // namespace sam3
