#include "detector/detector.h"

namespace sam3 {

namespace {

VisionConfig vision_config(const DetectorConfig &config) {
  auto vision = config.vision;
  if (!config.behaviour.vit_layer_norm_eps_from_config)
    vision.backbone.layer_norm_eps = kOfficialVitLayerNormEps;
  return vision;
}

} // namespace

DetectorImpl::DetectorImpl(const DetectorConfig &config) : config_(config) {
  vision_encoder = register_module("vision_encoder", VisionEncoder(vision_config(config)));
  text_encoder = register_module("text_encoder", TextEncoder(config.text));
  text_projection = register_module(
      "text_projection", make_text_resizer(config.text, config.detr_encoder.hidden_size));
  geometry_encoder = register_module("geometry_encoder", GeometryEncoder(config.geometry_encoder));
  detr_encoder = register_module("detr_encoder", DetrEncoder(config.detr_encoder));
  detr_decoder = register_module(
      "detr_decoder", DetrDecoder(config.detr_decoder, config.behaviour.clamp_presence_logits));
  mask_decoder = register_module("mask_decoder", MaskDecoder(config.mask_decoder));
  dot_product_scoring =
      register_module("dot_product_scoring", DotProductScoring(config.detr_decoder));
}

VisionFeatures DetectorImpl::encode_image(const torch::Tensor &pixel_values) {
  return vision_encoder->forward(pixel_values);
}

TextFeatures DetectorImpl::encode_text(const torch::Tensor &input_ids,
                                       const torch::Tensor &attention_mask) {
  return sam3::encode_text(text_encoder, text_projection, input_ids, attention_mask);
}

DetectorOutputs DetectorImpl::detect(const VisionFeatures &vision, const TextFeatures &text,
                                     const BoxPrompts &boxes) {
  TORCH_CHECK(vision.fpn.size() >= 2, "detect: the vision features need at least two FPN levels");
  const auto batch = text.features.size(0);
  // transformers drops the coarsest FPN level (the reference's `scalp`).
  std::vector<torch::Tensor> fpn, pos;
  for (size_t i = 0; i + 1 < vision.fpn.size(); ++i) {
    const auto &f = vision.fpn[i];
    const auto &p = vision.fpn_pos[i];
    TORCH_CHECK(f.size(0) == 1 || f.size(0) == batch, "detect: vision batch ", f.size(0),
                " does not match ", batch, " prompts");
    fpn.push_back(f.expand({batch, -1, -1, -1}));
    pos.push_back(p.expand({batch, -1, -1, -1}));
  }

  auto prompt = text.features;
  auto prompt_mask = text.mask;
  if (!boxes.empty() || config_.behaviour.geometry_cls_for_text_only) {
    BoxPrompts geometry_boxes = boxes;
    if (boxes.empty()) {
      // No boxes: the geometry encoder's output is its CLS token alone.
      const auto device = prompt.device();
      geometry_boxes = {torch::zeros({batch, 0, 4}, prompt.options()),
                        torch::zeros({batch, 0}, torch::dtype(torch::kInt64).device(device)),
                        torch::zeros({batch, 0}, torch::dtype(torch::kBool).device(device))};
    }
    TORCH_CHECK(geometry_boxes.boxes.size(0) == batch, "detect: box batch ",
                geometry_boxes.boxes.size(0), " does not match ", batch, " prompts");
    auto geometry = geometry_encoder->forward(geometry_boxes.boxes.to(prompt.scalar_type()),
                                              geometry_boxes.mask, geometry_boxes.labels,
                                              fpn.back(), pos.back());
    prompt = torch::cat({prompt, geometry.prompt}, 1);
    prompt_mask = torch::cat({prompt_mask, geometry.mask}, 1);
  }

  auto encoded = detr_encoder->forward(fpn.back(), pos.back(), prompt, prompt_mask);
  auto decoded = detr_decoder->forward(encoded.memory, encoded.pos, encoded.height, encoded.width,
                                       prompt, prompt_mask);
  return decode_outputs(detr_decoder, dot_product_scoring, mask_decoder, encoded, decoded, fpn,
                        prompt, prompt_mask);
}

} // namespace sam3
