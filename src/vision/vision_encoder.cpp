#include "vision/vision_encoder.h"

namespace sam3 {

VisionEncoderImpl::VisionEncoderImpl(const VisionConfig &config) {
  backbone = register_module("backbone", ViT(config.backbone));
  neck = register_module("neck", VisionNeck(config));
}

VisionFeatures VisionEncoderImpl::forward(const torch::Tensor &pixel_values) {
  VisionFeatures features;
  features.backbone = backbone(pixel_values);
  auto levels = neck(features.backbone);
  features.fpn = std::move(levels.fpn);
  features.fpn_pos = std::move(levels.pos);
  return features;
}

} // namespace sam3
