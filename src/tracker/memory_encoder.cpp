#include "tracker/memory_encoder.h"

#include "common/pointwise_conv.h"

#include <string>

namespace sam3 {
namespace {

bool is_gelu(const std::string &activation, const char *what) {
  TORCH_CHECK(activation == "gelu" || activation == "relu", what, ": unsupported hidden_act '",
              activation, "' (relu or gelu)");
  return activation == "gelu";
}

torch::Tensor activate(const torch::Tensor &x, bool gelu) {
  return gelu ? torch::gelu(x) : torch::relu(x);
}

// transformers' channels_first LayerNorm: an ordinary LayerNorm over C of (N,C,H,W).
torch::Tensor channels_first(torch::nn::LayerNorm &norm, const torch::Tensor &x) {
  return norm(x.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}

torch::nn::LayerNorm channel_norm(int64_t channels) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels}).eps(1e-6));
}

} // namespace

MaskDownSamplerLayerImpl::MaskDownSamplerLayerImpl(const TrackerConfig &config, int64_t in_channels,
                                                   int64_t out_channels)
    : gelu_(is_gelu(config.mask_downsampler_hidden_act, "mask downsampler")) {
  conv = register_module(
      "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels,
                                                         config.mask_downsampler_kernel_size)
                                    .stride(config.mask_downsampler_stride)
                                    .padding(config.mask_downsampler_padding)));
  layer_norm = register_module("layer_norm", channel_norm(out_channels));
}

torch::Tensor MaskDownSamplerLayerImpl::forward(const torch::Tensor &x) {
  return activate(channels_first(layer_norm, conv(x)), gelu_);
}

MaskDownSamplerImpl::MaskDownSamplerImpl(const TrackerConfig &config)
    : input_size_(16 * config.grid()) {
  const int64_t stride = config.mask_downsampler_stride;
  const int64_t total = config.mask_downsampler_total_stride;
  TORCH_CHECK(stride >= 2, "mask downsampler: mask_downsampler_stride must be at least 2, got ",
              stride);
  int64_t num_layers = 0;
  for (int64_t reached = 1; reached < total; reached *= stride)
    ++num_layers;
  int64_t power = 1;
  for (int64_t i = 0; i < num_layers; ++i)
    power *= stride;
  TORCH_CHECK(num_layers > 0 && power == total, "mask downsampler: mask_downsampler_total_stride ",
              total, " is not a positive power of mask_downsampler_stride ", stride);

  layers = register_module("layers", torch::nn::ModuleList());
  int64_t channels = 1;
  for (int64_t i = 0; i < num_layers; ++i) {
    layers->push_back(MaskDownSamplerLayer(config, channels, channels * stride * stride));
    channels *= stride * stride;
  }
  final_conv = register_module("final_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(
                                                 channels, config.mask_downsampler_embed_dim, 1)));
}

torch::Tensor MaskDownSamplerImpl::forward(const torch::Tensor &masks) {
  torch::Tensor x = masks;
  if (x.size(-2) != input_size_ || x.size(-1) != input_size_) {
    namespace F = torch::nn::functional;
    // In float32, as the original does, so half inputs get the same filter weights.
    x = F::interpolate(x.to(torch::kFloat),
                       F::InterpolateFuncOptions()
                           .size(std::vector<int64_t>{input_size_, input_size_})
                           .mode(torch::kBilinear)
                           .align_corners(false)
                           .antialias(true))
            .to(masks.scalar_type());
  }
  for (const auto &layer : *layers)
    x = layer->as<MaskDownSamplerLayer>()->forward(x);
  return final_conv(x);
}

MemoryFuserBlockImpl::MemoryFuserBlockImpl(const TrackerConfig &config)
    : gelu_(is_gelu(config.memory_fuser_hidden_act, "memory fuser")) {
  const int64_t dim = config.memory_fuser_embed_dim;
  depthwise_conv = register_module(
      "depthwise_conv",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, config.memory_fuser_kernel_size)
                            .padding(config.memory_fuser_padding)
                            .groups(dim)));
  layer_norm = register_module("layer_norm", channel_norm(dim));
  pointwise_conv1 =
      register_module("pointwise_conv1", Linear(dim, config.memory_fuser_intermediate_dim));
  pointwise_conv2 =
      register_module("pointwise_conv2", Linear(config.memory_fuser_intermediate_dim, dim));
  scale =
      register_parameter("scale", torch::full({dim}, config.memory_fuser_layer_scale_init_value));
}

torch::Tensor MemoryFuserBlockImpl::forward(const torch::Tensor &x) {
  auto h = channels_first(layer_norm, depthwise_conv(x)).permute({0, 2, 3, 1});
  h = pointwise_conv2(activate(pointwise_conv1(h), gelu_)) * scale;
  return x + h.permute({0, 3, 1, 2});
}

MemoryFuserImpl::MemoryFuserImpl(const TrackerConfig &config) {
  TORCH_CHECK(config.memory_fuser_num_layers >= 0,
              "memory fuser: memory_fuser_num_layers must not be negative, got ",
              config.memory_fuser_num_layers);
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.memory_fuser_num_layers; ++i)
    layers->push_back(MemoryFuserBlock(config));
}

torch::Tensor MemoryFuserImpl::forward(torch::Tensor x) {
  for (const auto &layer : *layers)
    x = layer->as<MemoryFuserBlock>()->forward(x);
  return x;
}

TrackerMemoryEncoderImpl::TrackerMemoryEncoderImpl(const TrackerConfig &config)
    : position_encoding_(config.memory_encoder_output_channels / 2, 10000.0, true),
      grid_(config.grid()), hidden_size_(config.memory_encoder_hidden_size) {
  const int64_t out = config.memory_encoder_output_channels;
  TORCH_CHECK(out > 0 && out % 4 == 0,
              "memory encoder: memory_encoder_output_channels must be a positive multiple of 4 "
              "(sine encoding), got ",
              out);
  TORCH_CHECK(config.mask_downsampler_embed_dim == hidden_size_,
              "memory encoder: mask_downsampler_embed_dim (", config.mask_downsampler_embed_dim,
              ") must equal memory_encoder_hidden_size (", hidden_size_, ")");
  TORCH_CHECK(config.memory_fuser_embed_dim == hidden_size_,
              "memory encoder: memory_fuser_embed_dim (", config.memory_fuser_embed_dim,
              ") must equal memory_encoder_hidden_size (", hidden_size_, ")");
  TORCH_CHECK(config.mask_downsampler_total_stride == 16,
              "memory encoder: mask_downsampler_total_stride must be 16 (16g x 16g masks to a g x "
              "g grid), got ",
              config.mask_downsampler_total_stride);
  mask_downsampler = register_module("mask_downsampler", MaskDownSampler(config));
  feature_projection =
      register_module("feature_projection",
                      torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden_size_, hidden_size_, 1)));
  memory_fuser = register_module("memory_fuser", MemoryFuser(config));
  projection = register_module("projection",
                               torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden_size_, out, 1)));
}

std::pair<torch::Tensor, torch::Tensor>
TrackerMemoryEncoderImpl::forward(const torch::Tensor &vision_features,
                                  const torch::Tensor &masks) {
  TORCH_CHECK(vision_features.defined() && vision_features.dim() == 4 &&
                  vision_features.size(1) == hidden_size_ && vision_features.size(2) == grid_ &&
                  vision_features.size(3) == grid_,
              "memory encoder: vision_features must be (N, ", hidden_size_, ", ", grid_, ", ",
              grid_, "), got ",
              vision_features.defined() ? vision_features.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(masks.defined() && masks.dim() == 4 && masks.size(1) == 1 && masks.size(2) > 0 &&
                  masks.size(3) > 0,
              "memory encoder: masks must be (N, 1, H, W), got ",
              masks.defined() ? masks.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(masks.size(0) == vision_features.size(0), "memory encoder: ", masks.size(0),
              " masks for ", vision_features.size(0), " feature maps");
  TORCH_CHECK(masks.is_floating_point(),
              "memory encoder: masks must be floating point (mapped mask values), got ",
              masks.scalar_type());

  auto fused = pointwise_conv(feature_projection, vision_features) + mask_downsampler(masks);
  auto features = pointwise_conv(projection, memory_fuser(fused));
  auto position =
      position_encoding_(features.size(0), features.size(2), features.size(3), features.options());
  return {features, position};
}

} // namespace sam3
