// The SAM 3 FPN neck (transformers' Sam3VisionNeck / Sam3FPNLayer; the original's
// Sam3DualViTDetNeck, one of its two identical necks). Parameter names follow transformers.
#pragma once

#include "model/config.h"
#include "vision/position_encoding.h"

#include <torch/torch.h>

#include <vector>

namespace sam3 {

// One pyramid level: rescale the ViT map by `scale_factor` (4: two stride-2 transposed convs
// with GELU between, 2: one, 1: nothing, 0.5: 2x2 max-pool), then a 1x1 and a 3x3 conv to
// fpn_dim channels.
class FpnLayerImpl : public torch::nn::Module {
public:
  FpnLayerImpl(int64_t in_channels, int64_t fpn_dim, double scale_factor);
  // (B, in_channels, h, w) -> (B, fpn_dim, h * scale_factor, w * scale_factor).
  torch::Tensor forward(const torch::Tensor &x);

  torch::nn::Sequential scale_layers{nullptr};
  torch::nn::Conv2d proj1{nullptr}, proj2{nullptr};
};
TORCH_MODULE(FpnLayer);

class VisionNeckImpl : public torch::nn::Module {
public:
  explicit VisionNeckImpl(const VisionConfig &config);

  struct Output {
    std::vector<torch::Tensor> fpn; // one (B, fpn_hidden_size, h_i, w_i) per scale factor
    std::vector<torch::Tensor> pos; // the matching sine encodings, same shapes
  };
  // x: the ViT output (B, backbone hidden, grid, grid).
  Output forward(const torch::Tensor &x);

  torch::nn::ModuleList fpn_layers{nullptr};

private:
  PositionEmbeddingSine position_encoding_;
};
TORCH_MODULE(VisionNeck);

} // namespace sam3
