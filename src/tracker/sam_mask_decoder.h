// The SAM mask decoder of the SAM 3 tracker (transformers' Sam3TrackerVideoMaskDecoder; official
// sam3/sam/mask_decoder.py with pred_obj_scores, the MLP object-score head, sigmoid IoU head and
// high-resolution features). Parameter names follow transformers relative to
// "tracker_model.mask_decoder.".
//
// The decoder does not choose among the multimask outputs: like transformers'
// Sam3TrackerVideoModel._single_frame_forward (and the official _forward_sam_heads), the
// tracker takes the best of the 3 by predicted IoU.
#pragma once

#include "model/config.h"
#include "tracker/two_way_transformer.h"

#include <torch/torch.h>

#include <vector>

namespace sam3 {

struct SamHeadsOutput {
  torch::Tensor masks;      // (N, M, 4g, 4g) low-res mask logits; M = num_multimask_outputs or 1
  torch::Tensor iou_scores; // (N, M)
  torch::Tensor sam_tokens; // (N, M, C) mask-token outputs matching `masks` (object-pointer source)
  torch::Tensor object_score_logits; // (N, 1)
};

// Parameters: obj_score_token, iou_token, mask_tokens, transformer.*, upscale_conv1,
// upscale_layer_norm, upscale_conv2, output_hypernetworks_mlps.N.*, iou_prediction_head.*,
// pred_obj_score_head.*, conv_s0, conv_s1.
class TrackerMaskDecoderImpl : public torch::nn::Module {
public:
  explicit TrackerMaskDecoderImpl(const TrackerConfig &config);

  // image_embeddings (N or 1,C,g,g); image_pe (1,C,g,g); sparse (N,P,C); dense (N,C,g,g);
  // high_res_features = {feat_s0 (N or 1,C/8,4g,4g), feat_s1 (N or 1,C/4,2g,2g)}, ALREADY
  // through conv_s0/conv_s1 (the tracker projects them once per frame). A batch of 1 in the
  // image inputs is shared by all N objects.
  // multimask_output=true -> the num_multimask_outputs masks; false -> the single mask, falling
  // back (when dynamic_multimask_via_stability) to the multimask output with the best
  // predicted IoU if the single mask's stability score is below the threshold. sam_tokens is
  // then the single-mask token either way, as in the reference.
  SamHeadsOutput forward(const torch::Tensor &image_embeddings, const torch::Tensor &image_pe,
                         const torch::Tensor &sparse, const torch::Tensor &dense,
                         bool multimask_output,
                         const std::vector<torch::Tensor> &high_res_features);

  torch::nn::Conv2d conv_s0{nullptr}, conv_s1{nullptr};
  torch::nn::Embedding obj_score_token{nullptr}, iou_token{nullptr}, mask_tokens{nullptr};
  TwoWayTransformer transformer{nullptr};
  torch::nn::ConvTranspose2d upscale_conv1{nullptr}, upscale_conv2{nullptr};
  torch::nn::LayerNorm upscale_layer_norm{nullptr};
  torch::nn::ModuleList output_hypernetworks_mlps{nullptr};
  TrackerFeedForward iou_prediction_head{nullptr}, pred_obj_score_head{nullptr};

private:
  // Mask logits (..., H, W) -> IoU of the areas above +delta and above -delta.
  torch::Tensor stability_scores(const torch::Tensor &mask_logits) const;

  TrackerMaskDecoderConfig config_;
  int64_t num_mask_tokens_;
};
TORCH_MODULE(TrackerMaskDecoder);

} // namespace sam3
