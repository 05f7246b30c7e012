// The SAM 3 vision encoder: ViT backbone + FPN neck (transformers' Sam3VisionModel, registered
// there as "vision_encoder" with children "backbone" and "neck").
#pragma once

#include "model/config.h"
#include "vision/neck.h"
#include "vision/vit.h"

#include <torch/torch.h>

#include <vector>

namespace sam3 {

struct VisionFeatures {
  torch::Tensor backbone;             // ViT output (B, hidden, grid, grid)
  std::vector<torch::Tensor> fpn;     // one (B, fpn_hidden_size, h, w) per scale factor,
                                      // in config order (highest resolution first)
  std::vector<torch::Tensor> fpn_pos; // sine position encodings matching `fpn`
};

class VisionEncoderImpl : public torch::nn::Module {
public:
  explicit VisionEncoderImpl(const VisionConfig &config);
  // pixel_values: (B, channels, image_size, image_size), normalised float.
  VisionFeatures forward(const torch::Tensor &pixel_values);

  ViT backbone{nullptr};
  VisionNeck neck{nullptr};
};
TORCH_MODULE(VisionEncoder);

} // namespace sam3
