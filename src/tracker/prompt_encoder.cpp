#include "tracker/prompt_encoder.h"

#include <cmath>

namespace sam3 {

namespace {

// LayerNorm over the channels of an (N, C, H, W) tensor (transformers' channels_first layout).
torch::Tensor layer_norm_channels_first(torch::nn::LayerNorm &norm, const torch::Tensor &x) {
  return norm(x.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}

torch::nn::LayerNorm layer_norm(int64_t channels, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels}).eps(eps));
}

} // namespace

TrackerPositionalEmbeddingImpl::TrackerPositionalEmbeddingImpl(const TrackerConfig &config) {
  const auto hidden = config.prompt_encoder.hidden_size;
  TORCH_CHECK(hidden > 0 && hidden % 2 == 0, "tracker positional embedding: hidden size ", hidden,
              " must be positive and even (half sine, half cosine)");
  positional_embedding = register_buffer("positional_embedding", config.prompt_encoder.scale *
                                                                     torch::randn({2, hidden / 2}));
}

torch::Tensor TrackerPositionalEmbeddingImpl::forward(const torch::Tensor &coords01) {
  TORCH_CHECK(coords01.defined() && coords01.dim() >= 1 && coords01.size(-1) == 2,
              "tracker positional embedding: coordinates must be shaped (..., 2), got ",
              coords01.defined() ? coords01.sizes() : c10::IntArrayRef{});
  // The Gaussian projection expects coordinates centred on the image: [-1, 1].
  auto c = (2 * coords01 - 1).to(positional_embedding.scalar_type());
  c = 2 * M_PI * torch::matmul(c, positional_embedding);
  return torch::cat({torch::sin(c), torch::cos(c)}, -1);
}

torch::Tensor TrackerPositionalEmbeddingImpl::grid(int64_t side) {
  TORCH_CHECK(side > 0, "tracker positional embedding: grid side must be positive, got ", side);
  const auto centres =
      (torch::arange(side, positional_embedding.options()) + 0.5) / static_cast<double>(side);
  const auto x = centres.view({1, side}).expand({side, side});
  const auto y = centres.view({side, 1}).expand({side, side});
  return forward(torch::stack({x, y}, -1)).permute({2, 0, 1}).unsqueeze(0);
}

TrackerMaskEmbeddingImpl::TrackerMaskEmbeddingImpl(const TrackerConfig &config) {
  const auto &pc = config.prompt_encoder;
  TORCH_CHECK(pc.mask_input_channels > 0 && pc.mask_input_channels % 4 == 0,
              "tracker mask embedding: mask_input_channels ", pc.mask_input_channels,
              " must be a positive multiple of 4");
  TORCH_CHECK(pc.hidden_act == "gelu" || pc.hidden_act == "relu",
              "tracker mask embedding: unsupported hidden_act '", pc.hidden_act,
              "' (gelu or relu)");
  gelu_ = pc.hidden_act == "gelu";
  const auto quarter = pc.mask_input_channels / 4;
  conv1 = register_module("conv1",
                          torch::nn::Conv2d(torch::nn::Conv2dOptions(1, quarter, 2).stride(2)));
  conv2 = register_module(
      "conv2",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(quarter, pc.mask_input_channels, 2).stride(2)));
  conv3 = register_module("conv3", torch::nn::Conv2d(torch::nn::Conv2dOptions(
                                       pc.mask_input_channels, pc.hidden_size, 1)));
  layer_norm1 = register_module("layer_norm1", layer_norm(quarter, pc.layer_norm_eps));
  layer_norm2 =
      register_module("layer_norm2", layer_norm(pc.mask_input_channels, pc.layer_norm_eps));
}

torch::Tensor TrackerMaskEmbeddingImpl::forward(const torch::Tensor &masks) {
  const auto act = [this](const torch::Tensor &x) {
    return gelu_ ? torch::gelu(x) : torch::relu(x);
  };
  auto h = act(layer_norm_channels_first(layer_norm1, conv1(masks)));
  h = act(layer_norm_channels_first(layer_norm2, conv2(h)));
  return conv3(h);
}

TrackerPromptEncoderImpl::TrackerPromptEncoderImpl(const TrackerConfig &config)
    : hidden_size_(config.prompt_encoder.hidden_size),
      image_size_(config.prompt_encoder.image_size) {
  const auto &pc = config.prompt_encoder;
  TORCH_CHECK(pc.patch_size > 0 && pc.image_size > 0 && pc.image_size % pc.patch_size == 0,
              "tracker prompt encoder: image_size ", pc.image_size,
              " must be a positive multiple of patch_size ", pc.patch_size);
  TORCH_CHECK(pc.num_point_embeddings > 0, "tracker prompt encoder: num_point_embeddings ",
              pc.num_point_embeddings, " must be positive");
  grid_ = pc.image_size / pc.patch_size;
  shared_embedding = register_module("shared_embedding", TrackerPositionalEmbedding(config));
  mask_embed = register_module("mask_embed", TrackerMaskEmbedding(config));
  no_mask_embed = register_module("no_mask_embed", torch::nn::Embedding(1, pc.hidden_size));
  point_embed =
      register_module("point_embed", torch::nn::Embedding(pc.num_point_embeddings, pc.hidden_size));
  not_a_point_embed = register_module("not_a_point_embed", torch::nn::Embedding(1, pc.hidden_size));
}

torch::Tensor TrackerPromptEncoderImpl::embed_points(const torch::Tensor &points,
                                                     const torch::Tensor &labels) {
  const auto n = points.size(0);
  // Pixel centres, normalised by the square input; the reference then always appends one
  // padding point (label -1) when no separate box prompt is given, which is never the case here.
  auto coords = (points + 0.5) / static_cast<double>(image_size_);
  coords = torch::cat({coords, torch::zeros({n, 1, 2}, coords.options())}, 1);
  const auto padded_labels =
      torch::cat({labels, torch::full({n, 1}, -1, labels.options())}, 1).unsqueeze(-1);
  auto embedding = shared_embedding(coords);
  embedding = torch::where(padded_labels == -1, not_a_point_embed->weight, embedding);
  const auto typed = padded_labels.squeeze(-1);
  return embedding +
         point_embed(typed.clamp_min(0)) * (padded_labels >= 0).to(embedding.scalar_type());
}

std::pair<torch::Tensor, torch::Tensor>
TrackerPromptEncoderImpl::forward(const torch::Tensor &points, const torch::Tensor &labels,
                                  const torch::Tensor &mask_inputs, int64_t batch_size) {
  TORCH_CHECK(batch_size > 0, "tracker prompt encoder: batch_size must be positive, got ",
              batch_size);
  const auto &pe = shared_embedding->positional_embedding;
  torch::Tensor coords, point_labels;
  if (points.defined()) {
    TORCH_CHECK(labels.defined(), "tracker prompt encoder: points given without labels");
    TORCH_CHECK(points.dim() == 3 && points.size(0) == batch_size && points.size(2) == 2,
                "tracker prompt encoder: points must be (", batch_size, ", P, 2), got ",
                points.sizes());
    TORCH_CHECK(labels.dim() == 2 && labels.size(0) == batch_size &&
                    labels.size(1) == points.size(1),
                "tracker prompt encoder: labels must be (", batch_size, ", ", points.size(1),
                "), got ", labels.sizes());
    TORCH_CHECK(!torch::isFloatingType(labels.scalar_type()) &&
                    labels.scalar_type() != torch::kBool,
                "tracker prompt encoder: labels must be integers, got ", labels.scalar_type());
    point_labels = labels.to(pe.device(), torch::kLong);
    if (point_labels.numel() > 0) {
      const auto lo = point_labels.min().item<int64_t>();
      const auto hi = point_labels.max().item<int64_t>();
      TORCH_CHECK(lo >= -1 && hi < point_embed->weight.size(0),
                  "tracker prompt encoder: point labels must lie in [-1, ",
                  point_embed->weight.size(0) - 1, "], got values in [", lo, ", ", hi, "]");
    }
    coords = points.to(pe.device(), pe.scalar_type());
  } else {
    TORCH_CHECK(!labels.defined(), "tracker prompt encoder: labels given without points");
    // The reference stands in a single padding point for "no points".
    coords = torch::zeros({batch_size, 1, 2}, pe.options());
    point_labels = torch::full({batch_size, 1}, -1, pe.options().dtype(torch::kLong));
  }
  auto sparse = embed_points(coords, point_labels);

  torch::Tensor dense;
  if (mask_inputs.defined()) {
    const auto side = 4 * grid_;
    TORCH_CHECK(mask_inputs.dim() == 4 && mask_inputs.size(0) == batch_size &&
                    mask_inputs.size(1) == 1 && mask_inputs.size(2) == side &&
                    mask_inputs.size(3) == side,
                "tracker prompt encoder: mask_inputs must be (", batch_size, ", 1, ", side, ", ",
                side, "), got ", mask_inputs.sizes());
    dense = mask_embed(mask_inputs.to(pe.device(), pe.scalar_type()));
  } else {
    dense = no_mask_embed->weight.view({1, hidden_size_, 1, 1})
                .expand({batch_size, hidden_size_, grid_, grid_});
  }
  return {sparse, dense};
}

} // namespace sam3
