// The SAM 3 concept detector as one module tree: transformers' Sam3Model, whose state-dict
// names it reproduces (the "detector_model." sub-tree of a Sam3VideoModel file).
#pragma once

#include "common/layers.h"

#include "detector/detector_outputs.h"
#include "detector/detr_decoder.h"
#include "detector/detr_encoder.h"
#include "detector/geometry_encoder.h"
#include "detector/mask_decoder.h"
#include "detector/scoring.h"
#include "model/config.h"
#include "text/text_encoder.h"
#include "vision/vision_encoder.h"

#include <torch/torch.h>

namespace sam3 {

// Exemplar boxes for a batch of prompts: (B, N, 4) normalised cx, cy, w, h; labels (B, N)
// int64, 1 = positive, 0 = negative; mask (B, N) bool, true = valid (valid boxes first).
struct BoxPrompts {
  torch::Tensor boxes;
  torch::Tensor labels;
  torch::Tensor mask;
  bool empty() const { return !boxes.defined() || boxes.size(1) == 0; }
};

class DetectorImpl : public torch::nn::Module {
public:
  explicit DetectorImpl(const DetectorConfig &config);

  const DetectorConfig &config() const { return config_; }

  // The backbone and both neck outputs for a batch of normalised images (B, 3, S, S).
  VisionFeatures encode_image(const torch::Tensor &pixel_values);

  // Token features for tokenised prompts (B, 32): cacheable per prompt text.
  TextFeatures encode_text(const torch::Tensor &input_ids, const torch::Tensor &attention_mask);

  // The detector heads for B prompts on one image: `vision` holds batch 1 (shared by every
  // prompt) or B; `text` holds B prompts; `boxes` is optional. The geometry encoder (and its
  // CLS token) runs for text-only prompts too unless config().behaviour says otherwise.
  DetectorOutputs detect(const VisionFeatures &vision, const TextFeatures &text,
                         const BoxPrompts &boxes = {});

  VisionEncoder vision_encoder{nullptr};
  TextEncoder text_encoder{nullptr};
  Linear text_projection{nullptr};
  GeometryEncoder geometry_encoder{nullptr};
  DetrEncoder detr_encoder{nullptr};
  DetrDecoder detr_decoder{nullptr};
  MaskDecoder mask_decoder{nullptr};
  DotProductScoring dot_product_scoring{nullptr};

private:
  DetectorConfig config_;
};
TORCH_MODULE(Detector);

} // namespace sam3
