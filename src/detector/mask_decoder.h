// The segmentation head: prompt cross-attention on the encoder output, a pixel decoder over
// the FPN levels, per-query mask embeddings and a semantic map (transformers'
// Sam3MaskDecoder + Sam3PixelDecoder + Sam3MaskEmbedder, facebookresearch/sam3
// UniversalSegmentationHead + PixelDecoder).
#pragma once

#include "detector/detr_encoder.h"
#include "model/config.h"

#include <torch/torch.h>

#include <vector>

namespace sam3 {

// FPN-style top-down path: start from the coarsest map, then per finer level nearest-upsample,
// add the level, Conv3x3 -> GroupNorm(8) -> ReLU. Stage i uses conv_layers.i / norms.i; a
// checkpoint's extra stages stay unused.
class PixelDecoderImpl : public torch::nn::Module {
public:
  explicit PixelDecoderImpl(const MaskDecoderConfig &config);

  // levels (B,C,H_i,W_i) ordered fine to coarse -> (B,C,H_0,W_0).
  torch::Tensor forward(const std::vector<torch::Tensor> &levels);

  torch::nn::ModuleList conv_layers{nullptr}, norms{nullptr};
};
TORCH_MODULE(PixelDecoder);

// Three Linear layers (layers.0..2) with ReLU between them (transformers' Sam3MaskEmbedder).
class MaskEmbedderImpl : public torch::nn::Module {
public:
  explicit MaskEmbedderImpl(int64_t hidden_size);

  torch::Tensor forward(const torch::Tensor &queries);

  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(MaskEmbedder);

struct MaskDecoderOutput {
  torch::Tensor pred_masks;   // (B,Q,H_0,W_0) logits
  torch::Tensor semantic_seg; // (B,1,H_0,W_0) logits
};

class MaskDecoderImpl : public torch::nn::Module {
public:
  explicit MaskDecoderImpl(const MaskDecoderConfig &config);

  // queries (B,Q,C): the last decoder layer's normed output. fpn_levels (B,C,H_i,W_i) fine to
  // coarse; the coarsest one is the encoder's grid and is replaced by the encoder output
  // memory (B,H*W,C) after its cross-attention to the prompt (B,T,C), prompt_mask (B,T) bool.
  MaskDecoderOutput forward(const torch::Tensor &queries,
                            const std::vector<torch::Tensor> &fpn_levels,
                            const torch::Tensor &memory, const torch::Tensor &prompt,
                            const torch::Tensor &prompt_mask);

  // The per-pixel embedding the heads read: (B,C,H_0,W_0), before instance_projection.
  torch::Tensor embed_pixels(const std::vector<torch::Tensor> &fpn_levels,
                             const torch::Tensor &memory, const torch::Tensor &prompt,
                             const torch::Tensor &prompt_mask);

  PixelDecoder pixel_decoder{nullptr};
  MaskEmbedder mask_embedder{nullptr};
  torch::nn::Conv2d instance_projection{nullptr}, semantic_projection{nullptr};
  ProjectedAttention prompt_cross_attn{nullptr};
  torch::nn::LayerNorm prompt_cross_attn_norm{nullptr};

private:
  MaskDecoderConfig config_;
};
TORCH_MODULE(MaskDecoder);

} // namespace sam3
