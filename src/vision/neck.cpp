#include "vision/neck.h"

#include "common/pointwise_conv.h"

namespace sam3 {

namespace {

torch::nn::ConvTranspose2d upsample2x(int64_t in_channels, int64_t out_channels) {
  return torch::nn::ConvTranspose2d(
      torch::nn::ConvTranspose2dOptions(in_channels, out_channels, 2).stride(2));
}

// The sine encoding splits fpn_hidden_size into y and x halves of sin/cos pairs.
PositionEmbeddingSine fpn_position_encoding(const VisionConfig &config) {
  TORCH_CHECK(config.fpn_hidden_size > 0 && config.fpn_hidden_size % 4 == 0,
              "fpn_hidden_size must be a positive multiple of 4, got ", config.fpn_hidden_size);
  return PositionEmbeddingSine(config.fpn_hidden_size / 2, 10000.0, true);
}

} // namespace

FpnLayerImpl::FpnLayerImpl(int64_t in_channels, int64_t fpn_dim, double scale_factor) {
  scale_layers = register_module("scale_layers", torch::nn::Sequential());
  int64_t channels = in_channels;
  if (scale_factor == 4.0) {
    TORCH_CHECK(in_channels % 4 == 0, "FPN scale 4 needs input channels divisible by 4, got ",
                in_channels);
    scale_layers->push_back(upsample2x(in_channels, in_channels / 2));
    scale_layers->push_back(torch::nn::GELU());
    scale_layers->push_back(upsample2x(in_channels / 2, in_channels / 4));
    channels = in_channels / 4;
  } else if (scale_factor == 2.0) {
    TORCH_CHECK(in_channels % 2 == 0, "FPN scale 2 needs even input channels, got ", in_channels);
    scale_layers->push_back(upsample2x(in_channels, in_channels / 2));
    channels = in_channels / 2;
  } else if (scale_factor == 0.5) {
    scale_layers->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
  } else {
    TORCH_CHECK(scale_factor == 1.0, "FPN scale factor ", scale_factor,
                " is not supported (use 4, 2, 1 or 0.5)");
  }
  proj1 =
      register_module("proj1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, fpn_dim, 1)));
  proj2 = register_module(
      "proj2", torch::nn::Conv2d(torch::nn::Conv2dOptions(fpn_dim, fpn_dim, 3).padding(1)));
}

torch::Tensor FpnLayerImpl::forward(const torch::Tensor &x) {
  auto hidden = x.to(proj1->weight.scalar_type());
  if (!scale_layers->is_empty())
    hidden = scale_layers->forward(hidden);
  return proj2(pointwise_conv(proj1, hidden));
}

VisionNeckImpl::VisionNeckImpl(const VisionConfig &config)
    : position_encoding_(fpn_position_encoding(config)) {
  TORCH_CHECK(!config.scale_factors.empty(), "vision config has no FPN scale_factors");
  fpn_layers = register_module("fpn_layers", torch::nn::ModuleList());
  for (auto scale : config.scale_factors)
    fpn_layers->push_back(FpnLayer(config.backbone.hidden_size, config.fpn_hidden_size, scale));
}

VisionNeckImpl::Output VisionNeckImpl::forward(const torch::Tensor &x) {
  TORCH_CHECK(x.dim() == 4, "vision neck expects (B, C, H, W), got ", x.sizes());
  Output out;
  for (const auto &layer : *fpn_layers) {
    auto level = layer->as<FpnLayerImpl>()->forward(x);
    out.pos.push_back(
        position_encoding_(level.size(0), level.size(2), level.size(3), level.options()));
    out.fpn.push_back(std::move(level));
  }
  return out;
}

} // namespace sam3
