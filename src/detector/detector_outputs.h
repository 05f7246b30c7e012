// The detector's final outputs, assembled as transformers' Sam3Model.forward does after
// its DETR encoder: boxes and logits from the last decoder layer, the presence logit, and
// the mask head run on the last layer's queries.
#pragma once

#include "detector/detr_decoder.h"
#include "detector/detr_encoder.h"
#include "detector/mask_decoder.h"
#include "detector/scoring.h"

#include <torch/torch.h>

#include <vector>

namespace sam3 {

struct DetectorOutputs {
  torch::Tensor pred_masks;      // (B,Q,H_0,W_0) mask logits
  torch::Tensor pred_boxes;      // (B,Q,4) xyxy, normalised to the image (not clamped)
  torch::Tensor pred_logits;     // (B,Q) query logits, without presence
  torch::Tensor presence_logits; // (B,1)
  torch::Tensor semantic_seg;    // (B,1,H_0,W_0) logits
};

// fpn_levels: the detector neck's levels fine to coarse, the coarsest being the encoder's
// grid; prompt (B,T,C) / prompt_mask (B,T) bool: the prompt the encoder and decoder saw.
DetectorOutputs decode_outputs(DetrDecoder &decoder, DotProductScoring &scoring,
                               MaskDecoder &mask_decoder, const DetrEncoderOutput &encoded,
                               const DetrDecoderOutput &decoded,
                               const std::vector<torch::Tensor> &fpn_levels,
                               const torch::Tensor &prompt, const torch::Tensor &prompt_mask);

} // namespace sam3
