#include "detector/detr_encoder.h"

#include "common/attention.h"

namespace sam3 {

torch::Tensor prompt_attend_mask(const torch::Tensor &prompt, const torch::Tensor &prompt_mask) {
  TORCH_CHECK(prompt.dim() == 3, "prompt must be (B,T,C), got ", prompt.sizes());
  TORCH_CHECK(prompt_mask.defined() && prompt_mask.scalar_type() == torch::kBool,
              "prompt_mask must be a bool tensor (true = valid token)");
  TORCH_CHECK(prompt_mask.dim() == 2 && prompt_mask.size(0) == prompt.size(0) &&
                  prompt_mask.size(1) == prompt.size(1),
              "prompt_mask must be (B,T) = ", prompt.sizes().slice(0, 2), ", got ",
              prompt_mask.sizes());
  TORCH_CHECK(prompt.size(1) > 0 && prompt_mask.any(1).all().item<bool>(),
              "every batch entry needs at least one valid prompt token");
  return prompt_mask.unsqueeze(1).unsqueeze(1);
}

DetrEncoderLayerImpl::DetrEncoderLayerImpl(const DetrEncoderConfig &config) {
  const auto C = config.hidden_size;
  auto ln = [&] {
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({C}).eps(kDetectorLayerNormEps));
  };
  layer_norm1 = register_module("layer_norm1", ln());
  self_attn = register_module("self_attn", ProjectedAttention(C, config.num_attention_heads));
  cross_attn = register_module("cross_attn", ProjectedAttention(C, config.num_attention_heads));
  layer_norm2 = register_module("layer_norm2", ln());
  mlp = register_module("mlp", FeedForward(C, config.intermediate_size, config.hidden_act));
  layer_norm3 = register_module("layer_norm3", ln());
}

torch::Tensor DetrEncoderLayerImpl::forward(const torch::Tensor &vision, const torch::Tensor &pos,
                                            const torch::Tensor &prompt,
                                            const torch::Tensor &prompt_attend) {
  auto h = layer_norm1(vision);
  auto h_pos = h + pos;
  auto x = vision + self_attn(h_pos, h_pos, h);
  x = x + cross_attn(layer_norm2(x), prompt, prompt, prompt_attend);
  return x + mlp(layer_norm3(x));
}

DetrEncoderImpl::DetrEncoderImpl(const DetrEncoderConfig &config) : config_(config) {
  TORCH_CHECK(config.num_layers >= 0, "detr encoder: negative num_layers");
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_layers; ++i)
    layers->push_back(DetrEncoderLayer(config));
}

DetrEncoderOutput DetrEncoderImpl::forward(const torch::Tensor &vision,
                                           const torch::Tensor &vision_pos,
                                           const torch::Tensor &prompt,
                                           const torch::Tensor &prompt_mask) {
  TORCH_CHECK(vision.dim() == 4 && vision.size(1) == config_.hidden_size,
              "detr encoder: vision features must be (B,", config_.hidden_size, ",H,W), got ",
              vision.sizes());
  TORCH_CHECK(vision_pos.sizes() == vision.sizes(),
              "detr encoder: vision_pos must match vision features ", vision.sizes(), ", got ",
              vision_pos.sizes());
  TORCH_CHECK(prompt.dim() == 3 && prompt.size(0) == vision.size(0) &&
                  prompt.size(2) == config_.hidden_size,
              "detr encoder: prompt must be (B,T,", config_.hidden_size,
              ") with B=", vision.size(0), ", got ", prompt.sizes());
  const auto attend = prompt_attend_mask(prompt, prompt_mask);

  DetrEncoderOutput out;
  out.height = vision.size(2);
  out.width = vision.size(3);
  out.pos = vision_pos.flatten(2).transpose(1, 2);
  auto x = vision.flatten(2).transpose(1, 2);
  for (const auto &layer : *layers)
    x = layer->as<DetrEncoderLayer>()->forward(x, out.pos, prompt, attend);
  out.memory = x;
  return out;
}

} // namespace sam3
