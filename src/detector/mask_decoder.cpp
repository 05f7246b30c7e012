#include "detector/mask_decoder.h"

#include "common/pointwise_conv.h"

namespace sam3 {

namespace {
constexpr int64_t kPixelDecoderGroups = 8;
}

PixelDecoderImpl::PixelDecoderImpl(const MaskDecoderConfig &config) {
  const auto C = config.hidden_size;
  TORCH_CHECK(C % kPixelDecoderGroups == 0, "pixel decoder: hidden size ", C,
              " is not divisible by ", kPixelDecoderGroups, " groups");
  conv_layers = register_module("conv_layers", torch::nn::ModuleList());
  norms = register_module("norms", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_upsampling_stages; ++i) {
    conv_layers->push_back(
        torch::nn::Conv2d(torch::nn::Conv2dOptions(C, C, 3).stride(1).padding(1)));
    norms->push_back(torch::nn::GroupNorm(kPixelDecoderGroups, C));
  }
}

torch::Tensor PixelDecoderImpl::forward(const std::vector<torch::Tensor> &levels) {
  TORCH_CHECK(!levels.empty(), "pixel decoder: no feature levels");
  const auto stages = static_cast<int64_t>(levels.size()) - 1;
  TORCH_CHECK(stages <= static_cast<int64_t>(conv_layers->size()), "pixel decoder: ", levels.size(),
              " levels need ", stages, " upsampling stages, the model has ", conv_layers->size());
  namespace F = torch::nn::functional;
  auto x = levels.back();
  for (int64_t i = 0; i < stages; ++i) {
    const auto &skip = levels[levels.size() - 2 - i];
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{skip.size(2), skip.size(3)})
                              .mode(torch::kNearest));
    // skip first: the sum takes its layout, the neck's channels-last, in which the
    // convolutions below run faster than in the upsampled map's NCHW (the reference's order).
    x = conv_layers[i]->as<torch::nn::Conv2d>()->forward(skip + x);
    x = torch::relu(norms[i]->as<torch::nn::GroupNorm>()->forward(x));
  }
  return x;
}

MaskEmbedderImpl::MaskEmbedderImpl(int64_t hidden_size) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < 3; ++i)
    layers->push_back(Linear(hidden_size, hidden_size));
}

torch::Tensor MaskEmbedderImpl::forward(const torch::Tensor &queries) {
  auto x = queries;
  for (size_t i = 0; i < layers->size(); ++i) {
    x = layers[i]->as<Linear>()->forward(x);
    if (i + 1 < layers->size())
      x = torch::relu(x);
  }
  return x;
}

MaskDecoderImpl::MaskDecoderImpl(const MaskDecoderConfig &config) : config_(config) {
  const auto C = config.hidden_size;
  pixel_decoder = register_module("pixel_decoder", PixelDecoder(config));
  mask_embedder = register_module("mask_embedder", MaskEmbedder(C));
  instance_projection =
      register_module("instance_projection", torch::nn::Conv2d(torch::nn::Conv2dOptions(C, C, 1)));
  semantic_projection =
      register_module("semantic_projection", torch::nn::Conv2d(torch::nn::Conv2dOptions(C, 1, 1)));
  prompt_cross_attn =
      register_module("prompt_cross_attn", ProjectedAttention(C, config.num_attention_heads));
  prompt_cross_attn_norm = register_module(
      "prompt_cross_attn_norm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({C}).eps(kDetectorLayerNormEps)));
}

torch::Tensor MaskDecoderImpl::embed_pixels(const std::vector<torch::Tensor> &fpn_levels,
                                            const torch::Tensor &memory,
                                            const torch::Tensor &prompt,
                                            const torch::Tensor &prompt_mask) {
  const auto C = config_.hidden_size;
  TORCH_CHECK(!fpn_levels.empty(), "mask decoder: no FPN levels");
  for (const auto &level : fpn_levels)
    TORCH_CHECK(level.dim() == 4 && level.size(1) == C && level.size(0) == memory.size(0),
                "mask decoder: FPN levels must be (B,", C, ",H,W) with B=", memory.size(0),
                ", got ", level.sizes());
  const auto &coarse = fpn_levels.back();
  const auto H = coarse.size(2), W = coarse.size(3);
  TORCH_CHECK(memory.dim() == 3 && memory.size(1) == H * W && memory.size(2) == C,
              "mask decoder: encoder memory must be (B,", H * W, ",", C, ") for the ", H, "x", W,
              " level, got ", memory.sizes());
  TORCH_CHECK(prompt.dim() == 3 && prompt.size(0) == memory.size(0) && prompt.size(2) == C,
              "mask decoder: prompt must be (B,T,", C, "), got ", prompt.sizes());
  const auto attend = prompt_attend_mask(prompt, prompt_mask);

  auto normed = prompt_cross_attn_norm(memory);
  auto enc = memory + prompt_cross_attn(normed, prompt, prompt, attend);

  std::vector<torch::Tensor> levels(fpn_levels.begin(), fpn_levels.end());
  levels.back() = enc.transpose(1, 2).reshape({memory.size(0), C, H, W});
  return pixel_decoder(levels);
}

MaskDecoderOutput MaskDecoderImpl::forward(const torch::Tensor &queries,
                                           const std::vector<torch::Tensor> &fpn_levels,
                                           const torch::Tensor &memory, const torch::Tensor &prompt,
                                           const torch::Tensor &prompt_mask) {
  TORCH_CHECK(queries.dim() == 3 && queries.size(0) == memory.size(0) &&
                  queries.size(2) == config_.hidden_size,
              "mask decoder: queries must be (B,Q,", config_.hidden_size, "), got ",
              queries.sizes());
  auto pixels = embed_pixels(fpn_levels, memory, prompt, prompt_mask);
  auto instance = pointwise_conv(instance_projection, pixels);
  auto embeddings = mask_embedder(queries);
  MaskDecoderOutput out;
  out.pred_masks = torch::einsum("bqc,bchw->bqhw", {embeddings, instance});
  out.semantic_seg = pointwise_conv(semantic_projection, pixels);
  return out;
}

} // namespace sam3
