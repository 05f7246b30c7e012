#include "tracker/sam_mask_decoder.h"

namespace sam3 {

namespace {

// Checks an image-side input: (1 or n, channels, side, side).
void check_image_input(const torch::Tensor &t, const char *name, int64_t n, int64_t channels,
                       int64_t side) {
  TORCH_CHECK(t.defined() && t.dim() == 4 && (t.size(0) == 1 || t.size(0) == n) &&
                  t.size(1) == channels && t.size(2) == side && t.size(3) == side,
              "tracker mask decoder: ", name, " must be (1 or ", n, ", ", channels, ", ", side,
              ", ", side, "), got ", t.defined() ? t.sizes() : c10::IntArrayRef{});
}

} // namespace

TrackerMaskDecoderImpl::TrackerMaskDecoderImpl(const TrackerConfig &config)
    : config_(config.mask_decoder),
      num_mask_tokens_(config.mask_decoder.num_multimask_outputs + 1) {
  const auto c = config_.hidden_size;
  TORCH_CHECK(c > 0 && c % 8 == 0, "tracker mask decoder: hidden size ", c,
              " must be a positive multiple of 8 (upscaling to C/4 and C/8 channels)");
  TORCH_CHECK(config_.num_multimask_outputs > 0, "tracker mask decoder: num_multimask_outputs ",
              config_.num_multimask_outputs, " must be positive");
  TORCH_CHECK(
      config_.iou_head_depth >= 2 && config_.iou_head_hidden_dim > 0,
      "tracker mask decoder: the IoU head needs depth >= 2 and a positive width, got depth ",
      config_.iou_head_depth, ", width ", config_.iou_head_hidden_dim);
  iou_token = register_module("iou_token", torch::nn::Embedding(1, c));
  mask_tokens = register_module("mask_tokens", torch::nn::Embedding(num_mask_tokens_, c));
  transformer = register_module("transformer", TwoWayTransformer(config_));
  upscale_conv1 = register_module(
      "upscale_conv1",
      torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(c, c / 4, 2).stride(2)));
  upscale_conv2 = register_module(
      "upscale_conv2",
      torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(c / 4, c / 8, 2).stride(2)));
  upscale_layer_norm = register_module(
      "upscale_layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c / 4}).eps(1e-6)));
  output_hypernetworks_mlps = register_module("output_hypernetworks_mlps", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_mask_tokens_; ++i)
    output_hypernetworks_mlps->push_back(TrackerFeedForward(c, c, c / 8, 3));
  iou_prediction_head = register_module(
      "iou_prediction_head", TrackerFeedForward(c, config_.iou_head_hidden_dim, num_mask_tokens_,
                                                config_.iou_head_depth, true));
  conv_s0 = register_module("conv_s0", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, c / 8, 1)));
  conv_s1 = register_module("conv_s1", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, c / 4, 1)));
  obj_score_token = register_module("obj_score_token", torch::nn::Embedding(1, c));
  pred_obj_score_head = register_module("pred_obj_score_head", TrackerFeedForward(c, c, 1, 3));
}

torch::Tensor TrackerMaskDecoderImpl::stability_scores(const torch::Tensor &mask_logits) const {
  const auto flat = mask_logits.flatten(-2);
  const auto delta = config_.dynamic_multimask_stability_delta;
  const auto area_i = (flat > delta).sum(-1).to(torch::kFloat);
  const auto area_u = (flat > -delta).sum(-1).to(torch::kFloat);
  return torch::where(area_u > 0, area_i / area_u, torch::ones_like(area_u));
}

SamHeadsOutput
TrackerMaskDecoderImpl::forward(const torch::Tensor &image_embeddings,
                                const torch::Tensor &image_pe, const torch::Tensor &sparse,
                                const torch::Tensor &dense, bool multimask_output,
                                const std::vector<torch::Tensor> &high_res_features) {
  const auto c = config_.hidden_size;
  TORCH_CHECK(sparse.defined() && sparse.dim() == 3 && sparse.size(2) == c,
              "tracker mask decoder: sparse prompt embeddings must be (N, P, ", c, "), got ",
              sparse.defined() ? sparse.sizes() : c10::IntArrayRef{});
  const auto n = sparse.size(0);
  TORCH_CHECK(n > 0, "tracker mask decoder: no objects (sparse batch is empty)");
  TORCH_CHECK(image_embeddings.defined() && image_embeddings.dim() == 4,
              "tracker mask decoder: image_embeddings must be (N, C, g, g)");
  const auto g = image_embeddings.size(2);
  check_image_input(image_embeddings, "image_embeddings", n, c, g);
  check_image_input(image_pe, "image_pe", n, c, g);
  TORCH_CHECK(dense.defined() && dense.dim() == 4 && dense.size(0) == n && dense.size(1) == c &&
                  dense.size(2) == g && dense.size(3) == g,
              "tracker mask decoder: dense prompt embeddings must be (", n, ", ", c, ", ", g, ", ",
              g, "), got ", dense.defined() ? dense.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(high_res_features.size() == 2,
              "tracker mask decoder: expected 2 high-resolution feature maps, got ",
              high_res_features.size());
  const auto &feat_s0 = high_res_features[0];
  const auto &feat_s1 = high_res_features[1];
  check_image_input(feat_s0, "high_res_features[0] (after conv_s0)", n, c / 8, 4 * g);
  check_image_input(feat_s1, "high_res_features[1] (after conv_s1)", n, c / 4, 2 * g);

  // Output tokens first, in the reference's order: object score, IoU, then the mask tokens.
  const auto output_tokens =
      torch::cat({obj_score_token->weight, iou_token->weight, mask_tokens->weight}, 0);
  const auto tokens = torch::cat(
      {output_tokens.unsqueeze(0).expand({n, -1, -1}), sparse.to(output_tokens.dtype())}, 1);
  const auto src = image_embeddings + dense;
  auto [hs, image_tokens] = transformer(tokens, src, image_pe);
  const auto iou_token_out = hs.select(1, 1);
  const auto mask_tokens_out = hs.slice(1, 2, 2 + num_mask_tokens_);

  const auto upscaled_src = image_tokens.transpose(1, 2).reshape({n, c, g, g});
  auto upscaled = upscale_conv1(upscaled_src) + feat_s1;
  upscaled = torch::gelu(upscale_layer_norm(upscaled.permute({0, 2, 3, 1})).permute({0, 3, 1, 2}));
  upscaled = torch::gelu(upscale_conv2(upscaled) + feat_s0);

  std::vector<torch::Tensor> hyper_in;
  for (int64_t i = 0; i < num_mask_tokens_; ++i)
    hyper_in.push_back(output_hypernetworks_mlps[i]->as<TrackerFeedForward>()->forward(
        mask_tokens_out.select(1, i)));
  const auto h = upscaled.size(2), w = upscaled.size(3);
  auto masks = torch::matmul(torch::stack(hyper_in, 1), upscaled.view({n, c / 8, h * w}))
                   .view({n, num_mask_tokens_, h, w});
  auto iou_pred = iou_prediction_head(iou_token_out);
  const auto object_score_logits = pred_obj_score_head(hs.select(1, 0));

  if (multimask_output)
    return {masks.slice(1, 1), iou_pred.slice(1, 1), mask_tokens_out.slice(1, 1),
            object_score_logits};
  // The single-mask token stays the object-pointer source even when the fallback below picks
  // a multimask output (as in transformers and the official decoder).
  const auto sam_tokens = mask_tokens_out.slice(1, 0, 1);
  auto single_masks = masks.slice(1, 0, 1);
  auto single_iou = iou_pred.slice(1, 0, 1);
  if (!config_.dynamic_multimask_via_stability)
    return {single_masks, single_iou, sam_tokens, object_score_logits};

  const auto multi_iou = iou_pred.slice(1, 1);
  const auto best = multi_iou.argmax(-1);
  const auto rows = torch::arange(n, best.options());
  const auto best_masks = masks.slice(1, 1).index({rows, best}).unsqueeze(1);
  const auto best_iou = multi_iou.gather(1, best.unsqueeze(1));
  const auto stable =
      stability_scores(single_masks) >= config_.dynamic_multimask_stability_thresh; // (N, 1)
  return {torch::where(stable.view({n, 1, 1, 1}), single_masks, best_masks),
          torch::where(stable, single_iou, best_iou), sam_tokens, object_score_logits};
}

} // namespace sam3
