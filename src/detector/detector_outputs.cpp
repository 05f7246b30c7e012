#include "detector/detector_outputs.h"

namespace sam3 {

DetectorOutputs decode_outputs(DetrDecoder &decoder, DotProductScoring &scoring,
                               MaskDecoder &mask_decoder, const DetrEncoderOutput &encoded,
                               const DetrDecoderOutput &decoded,
                               const std::vector<torch::Tensor> &fpn_levels,
                               const torch::Tensor &prompt, const torch::Tensor &prompt_mask) {
  TORCH_CHECK(decoded.hidden_states.defined() && decoded.hidden_states.dim() == 4 &&
                  decoded.hidden_states.size(0) > 0,
              "decode_outputs: decoder hidden states must be (L,B,Q,C) with L >= 1");
  // transformers evaluates the heads on every layer and keeps the last; the layers are
  // independent there, so only the last is evaluated here.
  const auto queries = decoded.hidden_states[-1];
  const auto reference = decoded.reference_boxes[-1];

  DetectorOutputs out;
  out.pred_boxes = box_cxcywh_to_xyxy(decoder->refine_boxes(queries, reference));
  out.pred_logits = scoring->forward(queries, prompt, prompt_mask).squeeze(-1);
  out.presence_logits = decoded.presence_logits[-1];
  auto masks = mask_decoder->forward(queries, fpn_levels, encoded.memory, prompt, prompt_mask);
  out.pred_masks = masks.pred_masks;
  out.semantic_seg = masks.semantic_seg;
  return out;
}

} // namespace sam3
