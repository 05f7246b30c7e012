#include "detector/geometry_encoder.h"

#include "common/attention.h"
#include "detector/roi_align.h"

#include <cmath>

namespace sam3 {

namespace {

// transformers builds every LayerNorm of the geometry encoder as nn.LayerNorm(hidden_size), so
// they run with PyTorch's default eps (1e-5, like the official code), not the config's
// layer_norm_eps.
torch::nn::LayerNorm layer_norm(int64_t hidden) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden}).eps(1e-5));
}

// Sam3SinePositionEmbedding.encode_1d_positions: v * 2π / 10000^(2⌊i/2⌋/F), sine on even and
// cosine on odd channels, interleaved. v (M) -> (M, F).
torch::Tensor sine_1d(const torch::Tensor &v, int64_t num_feats) {
  auto i = torch::arange(num_feats, v.options());
  auto dim_t = torch::pow(10000.0, 2.0 * torch::floor(i / 2.0) / static_cast<double>(num_feats));
  auto pos = (v * (2.0 * M_PI)).unsqueeze(-1) / dim_t;
  auto sin = pos.slice(-1, 0, num_feats, 2).sin();
  auto cos = pos.slice(-1, 1, num_feats, 2).cos();
  return torch::stack({sin, cos}, -1).flatten(-2);
}

} // namespace

GeometryEncoderLayerImpl::GeometryEncoderLayerImpl(const GeometryEncoderConfig &c) {
  layer_norm1_ = register_module("layer_norm1", layer_norm(c.hidden_size));
  self_attn_ =
      register_module("self_attn", ProjectedAttention(c.hidden_size, c.num_attention_heads));
  cross_attn_ =
      register_module("cross_attn", ProjectedAttention(c.hidden_size, c.num_attention_heads));
  layer_norm2_ = register_module("layer_norm2", layer_norm(c.hidden_size));
  TORCH_CHECK(c.hidden_act == "relu", "geometry encoder: unsupported hidden_act '", c.hidden_act,
              "' (SAM 3 uses \"relu\")");
  mlp_ = register_module("mlp", FeedForward(c.hidden_size, c.intermediate_size, c.hidden_act));
  layer_norm3_ = register_module("layer_norm3", layer_norm(c.hidden_size));
}

torch::Tensor GeometryEncoderLayerImpl::forward(const torch::Tensor &prompt,
                                                const torch::Tensor &vision,
                                                const torch::Tensor &vision_pos,
                                                const torch::Tensor &attend) {
  auto h = layer_norm1_(prompt);
  auto x = prompt + self_attn_(h, h, h, attend);
  x = x + cross_attn_(layer_norm2_(x), vision + vision_pos, vision);
  return x + mlp_(layer_norm3_(x));
}

GeometryEncoderImpl::GeometryEncoderImpl(const GeometryEncoderConfig &c) : config_(c) {
  const auto d = c.hidden_size;
  TORCH_CHECK(d > 0 && d % 2 == 0, "geometry encoder: hidden_size ", d, " must be even");
  TORCH_CHECK(c.num_attention_heads > 0 && d % c.num_attention_heads == 0,
              "geometry encoder: hidden_size ", d, " not divisible by num_attention_heads ",
              c.num_attention_heads);
  TORCH_CHECK(c.roi_size > 0, "geometry encoder: roi_size must be > 0");
  label_embed_ = register_module("label_embed", torch::nn::Embedding(2, d));
  cls_embed_ = register_module("cls_embed", torch::nn::Embedding(1, d));
  boxes_direct_project_ = register_module("boxes_direct_project", Linear(4, d));
  boxes_pool_project_ = register_module(
      "boxes_pool_project", torch::nn::Conv2d(torch::nn::Conv2dOptions(d, d, c.roi_size)));
  boxes_pos_enc_project_ = register_module("boxes_pos_enc_project", Linear(d + 2, d));
  vision_layer_norm_ = register_module("vision_layer_norm", layer_norm(d));
  final_proj_ = register_module("final_proj", Linear(d, d));
  prompt_layer_norm_ = register_module("prompt_layer_norm", layer_norm(d));
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i)
    layers_->push_back(GeometryEncoderLayer(c));
  output_layer_norm_ = register_module("output_layer_norm", layer_norm(d));
}

torch::Tensor GeometryEncoderImpl::encode_boxes(const torch::Tensor &boxes,
                                                const torch::Tensor &labels,
                                                const torch::Tensor &normed_features) {
  const auto B = boxes.size(0), N = boxes.size(1), d = config_.hidden_size;
  const auto H = normed_features.size(2), W = normed_features.size(3);
  auto embed = boxes_direct_project_(boxes);

  auto cx = boxes.select(2, 0), cy = boxes.select(2, 1), w = boxes.select(2, 2),
       h = boxes.select(2, 3);
  auto xyxy = torch::stack(
      {(cx - 0.5 * w) * static_cast<double>(W), (cy - 0.5 * h) * static_cast<double>(H),
       (cx + 0.5 * w) * static_cast<double>(W), (cy + 0.5 * h) * static_cast<double>(H)},
      -1);
  RoiAlignOptions roi;
  roi.pooled_height = roi.pooled_width = config_.roi_size;
  auto sampled =
      roi_align(normed_features, xyxy, roi).reshape({B * N, d, config_.roi_size, config_.roi_size});
  embed = embed + boxes_pool_project_(sampled).view({B, N, d});

  // Box position encoding: [sine(cy), sine(cx), h, w] (y before x, height before width).
  const auto F = d / 2;
  auto pos = torch::cat({sine_1d(cy, F), sine_1d(cx, F), h.unsqueeze(-1), w.unsqueeze(-1)}, -1);
  embed = embed + boxes_pos_enc_project_(pos);
  return embed + label_embed_(labels);
}

GeometryPrompt GeometryEncoderImpl::forward(const torch::Tensor &box_embeddings,
                                            const torch::Tensor &box_mask,
                                            const torch::Tensor &box_labels,
                                            const torch::Tensor &vision_features,
                                            const torch::Tensor &vision_pos) {
  const auto d = config_.hidden_size;
  TORCH_CHECK(box_embeddings.dim() == 3 && box_embeddings.size(2) == 4,
              "geometry encoder: box_embeddings must be (B, N, 4), got ", box_embeddings.sizes());
  const auto B = box_embeddings.size(0), N = box_embeddings.size(1);
  TORCH_CHECK(box_mask.dim() == 2 && box_mask.size(0) == B && box_mask.size(1) == N,
              "geometry encoder: box_mask must be (", B, ", ", N, "), got ", box_mask.sizes());
  TORCH_CHECK(box_labels.sizes() == box_mask.sizes(), "geometry encoder: box_labels ",
              box_labels.sizes(), " does not match box_mask ", box_mask.sizes());
  TORCH_CHECK(!box_labels.is_floating_point(), "geometry encoder: box_labels must be integer");
  TORCH_CHECK(vision_features.dim() == 4 && vision_features.size(0) == B &&
                  vision_features.size(1) == d,
              "geometry encoder: vision_features must be (", B, ", ", d, ", H, W), got ",
              vision_features.sizes());
  TORCH_CHECK(vision_pos.sizes() == vision_features.sizes(), "geometry encoder: vision_pos ",
              vision_pos.sizes(), " does not match vision_features ", vision_features.sizes());

  const auto device = vision_features.device();
  const auto dtype = label_embed_->weight.scalar_type();
  auto mask = box_mask.to(device, torch::kBool);
  if (N > 1) {
    TORCH_CHECK(!(mask.slice(1, 1) & mask.slice(1, 0, N - 1).logical_not()).any().item<bool>(),
                "geometry encoder: box_mask must list valid boxes before padding in each row");
  }
  auto labels = torch::where(mask, box_labels.to(device, torch::kLong),
                             torch::zeros({}, torch::kLong).to(device));
  TORCH_CHECK(((labels == 0) | (labels == 1)).all().item<bool>(),
              "geometry encoder: box_labels of valid boxes must be 0 (negative) or 1 (positive)");

  auto features = vision_features.to(dtype);
  auto vision = features.flatten(2).transpose(1, 2);
  auto vision_pos_flat = vision_pos.to(device, dtype).flatten(2).transpose(1, 2);
  auto normed = vision_layer_norm_(features.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});

  // transformers' concat_padded_sequences: the CLS token goes right after each row's valid
  // boxes; padded box slots keep their (masked) embeddings.
  auto n_valid = mask.sum(1);
  auto prompt = torch::zeros({B, N + 1, d}, features.options());
  if (N > 0) {
    auto boxes = box_embeddings.to(device, dtype);
    prompt.narrow(1, 0, N).copy_(encode_boxes(boxes, labels, normed));
  }
  auto cls = cls_embed_->weight.view({1, 1, d}).expand({B, 1, d});
  prompt = prompt.scatter(1, n_valid.view({B, 1, 1}).expand({B, 1, d}), cls);
  auto prompt_mask =
      torch::arange(N + 1, n_valid.options()).unsqueeze(0) < (n_valid + 1).unsqueeze(1);

  prompt = prompt_layer_norm_(final_proj_(prompt));
  auto attend = prompt_mask.view({B, 1, 1, N + 1});
  for (const auto &layer : *layers_)
    prompt = layer->as<GeometryEncoderLayer>()->forward(prompt, vision, vision_pos_flat, attend);
  return {output_layer_norm_(prompt), prompt_mask};
}

} // namespace sam3
