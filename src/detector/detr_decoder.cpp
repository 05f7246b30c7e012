#include "detector/detr_decoder.h"

#include <cmath>

namespace sam3 {

namespace {

torch::nn::LayerNorm detector_layer_norm(int64_t C) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({C}).eps(kDetectorLayerNormEps));
}

// sin on even, cos on odd feature indices, as DETR's sine embedding interleaves them.
torch::Tensor interleaved_sine(const torch::Tensor &scaled, const torch::Tensor &dim_t) {
  auto p = scaled.unsqueeze(-1) / dim_t;
  auto s = p.slice(-1, 0, c10::nullopt, 2).sin();
  auto c = p.slice(-1, 1, c10::nullopt, 2).cos();
  return torch::stack({s, c}, -1).flatten(-2);
}

// The sign-preserving log2 compression of the box RPB: distances ×8, log2(|d|+1)/log2(8).
torch::Tensor log_scale(const torch::Tensor &deltas) {
  auto d = deltas * 8;
  return torch::sign(d) * torch::log2(torch::abs(d) + 1.0) / std::log2(8.0);
}

} // namespace

DecoderMlpImpl::DecoderMlpImpl(int64_t input_dim, int64_t hidden_dim, int64_t output_dim,
                               int64_t num_layers) {
  TORCH_CHECK(num_layers == 2 || num_layers == 3, "decoder MLP supports 2 or 3 layers, got ",
              num_layers);
  layer1 = register_module("layer1", Linear(input_dim, hidden_dim, Activation::kRelu));
  if (num_layers == 2) {
    layer2 = register_module("layer2", Linear(hidden_dim, output_dim));
  } else {
    layer2 = register_module("layer2", Linear(hidden_dim, hidden_dim, Activation::kRelu));
    layer3 = register_module("layer3", Linear(hidden_dim, output_dim));
  }
}

torch::Tensor DecoderMlpImpl::forward(const torch::Tensor &x) {
  auto h = layer1(x);
  return layer3 ? layer3(layer2(h)) : layer2(h);
}

torch::Tensor inverse_sigmoid(const torch::Tensor &x, double eps) {
  auto y = x.clamp(0, 1);
  return torch::log(y.clamp_min(eps) / (1 - y).clamp_min(eps));
}

torch::Tensor box_cxcywh_to_xyxy(const torch::Tensor &boxes) {
  TORCH_CHECK(boxes.size(-1) == 4, "boxes must have 4 coordinates, got ", boxes.sizes());
  auto c = boxes.unbind(-1);
  return torch::stack({c[0] - 0.5 * c[2], c[1] - 0.5 * c[3], c[0] + 0.5 * c[2], c[1] + 0.5 * c[3]},
                      -1);
}

torch::Tensor box_sine_embedding(const torch::Tensor &boxes, int64_t num_pos_feats) {
  TORCH_CHECK(boxes.dim() == 3 && boxes.size(2) == 4, "box sine embedding expects (B,Q,4), got ",
              boxes.sizes());
  TORCH_CHECK(num_pos_feats > 0 && num_pos_feats % 2 == 0,
              "box sine embedding needs an even feature count, got ", num_pos_feats);
  const double scale = 2 * M_PI;
  auto k = torch::arange(num_pos_feats, boxes.options().dtype(torch::kLong)).div(2, "floor");
  auto dim_t = torch::pow(10000, 2 * k.to(boxes.scalar_type()) / num_pos_feats);
  auto c = boxes.unbind(-1);
  auto x = interleaved_sine(c[0] * scale, dim_t);
  auto y = interleaved_sine(c[1] * scale, dim_t);
  auto w = interleaved_sine(c[2] * scale, dim_t);
  auto h = interleaved_sine(c[3] * scale, dim_t);
  return torch::cat({y, x, w, h}, -1);
}

BoxRpbDeltas box_rpb_log_deltas(const torch::Tensor &boxes, int64_t height, int64_t width) {
  TORCH_CHECK(boxes.dim() == 3 && boxes.size(2) == 4, "box RPB expects boxes (B,Q,4), got ",
              boxes.sizes());
  TORCH_CHECK(height > 0 && width > 0, "box RPB needs a non-empty grid, got ", height, "x", width);
  const auto B = boxes.size(0), Q = boxes.size(1);
  auto xyxy = box_cxcywh_to_xyxy(boxes).reshape({-1, 1, 4});
  auto coords_h = torch::arange(height, boxes.options()) / height;
  auto coords_w = torch::arange(width, boxes.options()) / width;
  auto dy =
      coords_h.view({1, -1, 1}) - xyxy.index({torch::indexing::Slice(), torch::indexing::Slice(),
                                              torch::indexing::Slice(1, 4, 2)});
  auto dx =
      coords_w.view({1, -1, 1}) - xyxy.index({torch::indexing::Slice(), torch::indexing::Slice(),
                                              torch::indexing::Slice(0, 3, 2)});
  return {log_scale(dx.view({B, Q, width, 2})), log_scale(dy.view({B, Q, height, 2}))};
}

DetrDecoderLayerImpl::DetrDecoderLayerImpl(const DetrDecoderConfig &config) {
  const auto C = config.hidden_size, heads = config.num_attention_heads;
  self_attn = register_module("self_attn", ProjectedAttention(C, heads));
  self_attn_layer_norm = register_module("self_attn_layer_norm", detector_layer_norm(C));
  text_cross_attn = register_module("text_cross_attn", ProjectedAttention(C, heads));
  text_cross_attn_layer_norm =
      register_module("text_cross_attn_layer_norm", detector_layer_norm(C));
  vision_cross_attn = register_module("vision_cross_attn", ProjectedAttention(C, heads));
  vision_cross_attn_layer_norm =
      register_module("vision_cross_attn_layer_norm", detector_layer_norm(C));
  mlp = register_module("mlp", FeedForward(C, config.intermediate_size, config.hidden_act));
  mlp_layer_norm = register_module("mlp_layer_norm", detector_layer_norm(C));
}

torch::Tensor
DetrDecoderLayerImpl::forward(const torch::Tensor &hidden, const torch::Tensor &query_pos,
                              const torch::Tensor &prompt, const torch::Tensor &prompt_attend,
                              const torch::Tensor &memory, const torch::Tensor &memory_pos,
                              const torch::Tensor &vision_bias) {
  // The presence token (position 0) has no box, hence a zero query position.
  const auto pos = torch::constant_pad_nd(query_pos, {0, 0, 1, 0}, 0);
  auto q = hidden + pos;
  auto x = self_attn_layer_norm(hidden + self_attn(q, q, hidden));
  x = text_cross_attn_layer_norm(x + text_cross_attn(x + pos, prompt, prompt, prompt_attend));
  x = vision_cross_attn_layer_norm(
      x + vision_cross_attn(x + pos, memory + memory_pos, memory, vision_bias));
  return mlp_layer_norm(x + mlp(x));
}

DetrDecoderImpl::DetrDecoderImpl(const DetrDecoderConfig &config, bool clamp_presence_logits)
    : config_(config), clamp_presence_logits_(clamp_presence_logits) {
  const auto C = config.hidden_size;
  TORCH_CHECK(C % 4 == 0, "detr decoder: hidden size ", C,
              " must be divisible by 4 (two sine features per box coordinate pair)");
  TORCH_CHECK(config.num_layers > 0 && config.num_queries > 0,
              "detr decoder needs at least one layer and one query");
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_layers; ++i)
    layers->push_back(DetrDecoderLayer(config));
  output_layer_norm = register_module("output_layer_norm", detector_layer_norm(C));
  box_head = register_module("box_head", DecoderMlp(C, C, 4, 3));
  query_embed = register_module("query_embed", torch::nn::Embedding(config.num_queries, C));
  reference_points =
      register_module("reference_points", torch::nn::Embedding(config.num_queries, 4));
  presence_token = register_module("presence_token", torch::nn::Embedding(1, C));
  presence_head = register_module("presence_head", DecoderMlp(C, C, 1, 3));
  presence_layer_norm = register_module("presence_layer_norm", detector_layer_norm(C));
  ref_point_head = register_module("ref_point_head", DecoderMlp(2 * C, C, C, 2));
  box_rpb_embed_x =
      register_module("box_rpb_embed_x", DecoderMlp(2, C, config.num_attention_heads, 2));
  box_rpb_embed_y =
      register_module("box_rpb_embed_y", DecoderMlp(2, C, config.num_attention_heads, 2));
}

torch::Tensor DetrDecoderImpl::box_rpb(const torch::Tensor &boxes, int64_t height, int64_t width) {
  const auto deltas = box_rpb_log_deltas(boxes, height, width);
  auto bx = box_rpb_embed_x(deltas.x); // (B,Q,W,heads)
  auto by = box_rpb_embed_y(deltas.y); // (B,Q,H,heads)
  auto rpb = by.unsqueeze(3) + bx.unsqueeze(2);
  return rpb.flatten(2, 3).permute({0, 3, 1, 2}).contiguous();
}

torch::Tensor DetrDecoderImpl::refine_boxes(const torch::Tensor &hidden,
                                            const torch::Tensor &reference) {
  return (box_head(hidden) + inverse_sigmoid(reference)).sigmoid();
}

DetrDecoderOutput DetrDecoderImpl::forward(const torch::Tensor &memory,
                                           const torch::Tensor &memory_pos, int64_t height,
                                           int64_t width, const torch::Tensor &prompt,
                                           const torch::Tensor &prompt_mask) {
  const auto C = config_.hidden_size;
  TORCH_CHECK(memory.dim() == 3 && memory.size(2) == C, "detr decoder: memory must be (B,HW,", C,
              "), got ", memory.sizes());
  TORCH_CHECK(height > 0 && width > 0 && memory.size(1) == height * width,
              "detr decoder: memory has ", memory.size(1), " tokens, grid ", height, "x", width,
              " has ", height * width);
  TORCH_CHECK(memory_pos.sizes() == memory.sizes(), "detr decoder: memory_pos must match memory ",
              memory.sizes(), ", got ", memory_pos.sizes());
  TORCH_CHECK(prompt.dim() == 3 && prompt.size(0) == memory.size(0) && prompt.size(2) == C,
              "detr decoder: prompt must be (B,T,", C, ") with B=", memory.size(0), ", got ",
              prompt.sizes());
  const auto attend = prompt_attend_mask(prompt, prompt_mask);
  const auto B = memory.size(0);

  auto reference = reference_points->weight.unsqueeze(0).expand({B, -1, -1}).sigmoid();
  auto hidden = torch::cat({presence_token->weight.unsqueeze(0).expand({B, -1, -1}),
                            query_embed->weight.unsqueeze(0).expand({B, -1, -1})},
                           1);

  std::vector<torch::Tensor> outputs, references, presence;
  for (const auto &module : *layers) {
    auto query_pos = ref_point_head(box_sine_embedding(reference, C / 2));
    // The presence token attends to every image token without a box bias.
    auto bias = torch::constant_pad_nd(box_rpb(reference, height, width), {0, 0, 1, 0}, 0);
    hidden = module->as<DetrDecoderLayer>()->forward(hidden, query_pos, prompt, attend, memory,
                                                     memory_pos, bias);

    auto queries = output_layer_norm(hidden.slice(1, 1));
    references.push_back(reference);
    outputs.push_back(queries);
    reference = refine_boxes(queries, reference).detach();

    auto p = presence_head(presence_layer_norm(hidden.slice(1, 0, 1))).squeeze(-1);
    presence.push_back(clamp_presence_logits_ ? p.clamp(-10.0, 10.0) : p);
  }
  return {torch::stack(outputs), torch::stack(references), torch::stack(presence)};
}

} // namespace sam3
