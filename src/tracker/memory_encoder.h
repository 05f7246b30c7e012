// The tracker's memory encoder (transformers' Sam3TrackerVideoMemoryEncoder, the original's
// SimpleMaskEncoder): fuses a frame's g x g features with the object's mask into the
// mem-channel memory that later frames attend to. Parameter names follow transformers,
// relative to "tracker_model.memory_encoder.".
#pragma once

#include "common/layers.h"

#include "model/config.h"
#include "vision/position_encoding.h"

#include <torch/torch.h>

#include <utility>

namespace sam3 {

// Conv (stride 2) -> channels-first LayerNorm (eps 1e-6) -> activation: one 2x step of the
// mask downsampler. Parameters conv, layer_norm.
class MaskDownSamplerLayerImpl : public torch::nn::Module {
public:
  MaskDownSamplerLayerImpl(const TrackerConfig &config, int64_t in_channels, int64_t out_channels);

  torch::Tensor forward(const torch::Tensor &x);

  torch::nn::Conv2d conv{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};

private:
  bool gelu_;
};
TORCH_MODULE(MaskDownSamplerLayer);

// Mask (N,1,16g,16g) -> (N, embed_dim, g, g): log2(total_stride) downsampling layers, the
// channels growing by stride^2 each, then a 1x1 final_conv. A mask of another size is first
// resized to 16g x 16g (bilinear, antialiased), as the original's interpol_size does.
class MaskDownSamplerImpl : public torch::nn::Module {
public:
  explicit MaskDownSamplerImpl(const TrackerConfig &config);

  torch::Tensor forward(const torch::Tensor &masks);

  torch::nn::ModuleList layers{nullptr};
  torch::nn::Conv2d final_conv{nullptr};

private:
  int64_t input_size_;
};
TORCH_MODULE(MaskDownSampler);

// ConvNeXt block (transformers' Sam3TrackerVideoMemoryFuserCXBlock): depthwise conv ->
// channels-first LayerNorm (eps 1e-6) -> Linear -> activation -> Linear -> per-channel
// layer scale, plus the residual. Parameters depthwise_conv, layer_norm, pointwise_conv1,
// pointwise_conv2, scale.
class MemoryFuserBlockImpl : public torch::nn::Module {
public:
  explicit MemoryFuserBlockImpl(const TrackerConfig &config);

  torch::Tensor forward(const torch::Tensor &x);

  torch::nn::Conv2d depthwise_conv{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
  Linear pointwise_conv1{nullptr}, pointwise_conv2{nullptr};
  torch::Tensor scale;

private:
  bool gelu_;
};
TORCH_MODULE(MemoryFuserBlock);

// memory_fuser_num_layers ConvNeXt blocks in sequence. Parameters layers.N.*.
class MemoryFuserImpl : public torch::nn::Module {
public:
  explicit MemoryFuserImpl(const TrackerConfig &config);

  torch::Tensor forward(torch::Tensor x);

  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(MemoryFuser);

class TrackerMemoryEncoderImpl : public torch::nn::Module {
public:
  explicit TrackerMemoryEncoderImpl(const TrackerConfig &config);

  // vision_features (N,C,g,g): the tracker neck's g x g level of the frame (raw, not
  // memory-conditioned). masks (N,1,H,W): mask values already mapped for memory
  // (sigmoid(logits)*20-10, or binary*20-10); resized here to 16g x 16g (bilinear,
  // antialiased) unless already that size -- the original's order (map, then resize).
  // Returns {memory features (N,mem,g,g), memory position encoding (N,mem,g,g)}; the
  // encoding is the normalised sine encoding of the g x g grid in the features' dtype.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor &vision_features,
                                                  const torch::Tensor &masks);

  MaskDownSampler mask_downsampler{nullptr};
  torch::nn::Conv2d feature_projection{nullptr};
  MemoryFuser memory_fuser{nullptr};
  torch::nn::Conv2d projection{nullptr};

private:
  PositionEmbeddingSine position_encoding_;
  int64_t grid_;
  int64_t hidden_size_;
};
TORCH_MODULE(TrackerMemoryEncoder);

} // namespace sam3
