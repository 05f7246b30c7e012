// SAM 3's geometry (exemplar box) prompt encoder, laid out as transformers'
// Sam3GeometryEncoder so the "geometry_encoder." sub-tree of a transformers Sam3Model state
// dict loads into it name for name. transformers has no point-prompt path here: the official
// checkpoint's points_* projections are unused and have no counterpart.
#pragma once

#include "common/layers.h"
#include "model/config.h"

#include <torch/torch.h>

namespace sam3 {

// Pre-norm layer: prompt self-attention (padding-masked, no positional encoding), cross-attention
// to the image (keys = features + position encoding, values = features), MLP.
class GeometryEncoderLayerImpl : public torch::nn::Module {
public:
  explicit GeometryEncoderLayerImpl(const GeometryEncoderConfig &config);
  // prompt (B, L, C); vision / vision_pos (B, HW, C); attend bool (B, 1, 1, L).
  torch::Tensor forward(const torch::Tensor &prompt, const torch::Tensor &vision,
                        const torch::Tensor &vision_pos, const torch::Tensor &attend);

private:
  torch::nn::LayerNorm layer_norm1_{nullptr}, layer_norm2_{nullptr}, layer_norm3_{nullptr};
  ProjectedAttention self_attn_{nullptr}, cross_attn_{nullptr};
  FeedForward mlp_{nullptr};
};
TORCH_MODULE(GeometryEncoderLayer);

struct GeometryPrompt {
  torch::Tensor prompt; // (B, N + 1, C)
  torch::Tensor mask;   // (B, N + 1) bool, true = valid token
};

class GeometryEncoderImpl : public torch::nn::Module {
public:
  explicit GeometryEncoderImpl(const GeometryEncoderConfig &config);

  // box_embeddings (B, N, 4) normalised cx, cy, w, h; box_mask (B, N) bool, true = valid, valid
  // boxes first in each row; box_labels (B, N) integer, 1 = positive, 0 = negative (ignored
  // where box_mask is false); vision_features / vision_pos (B, C, H, W): the detector neck's
  // coarsest kept level (72x72 for SAM 3) and its sine position encoding.
  //
  // Each row's output holds its valid boxes, then a CLS token, then padding (mask false), so
  // N = 0 yields the CLS token alone.
  GeometryPrompt forward(const torch::Tensor &box_embeddings, const torch::Tensor &box_mask,
                         const torch::Tensor &box_labels, const torch::Tensor &vision_features,
                         const torch::Tensor &vision_pos);

private:
  torch::Tensor encode_boxes(const torch::Tensor &boxes, const torch::Tensor &labels,
                             const torch::Tensor &normed_features);

  GeometryEncoderConfig config_;
  torch::nn::Embedding label_embed_{nullptr}, cls_embed_{nullptr};
  Linear boxes_direct_project_{nullptr};
  torch::nn::Conv2d boxes_pool_project_{nullptr};
  Linear boxes_pos_enc_project_{nullptr};
  torch::nn::LayerNorm vision_layer_norm_{nullptr};
  Linear final_proj_{nullptr};
  torch::nn::LayerNorm prompt_layer_norm_{nullptr};
  torch::nn::ModuleList layers_{nullptr};
  torch::nn::LayerNorm output_layer_norm_{nullptr};
};
TORCH_MODULE(GeometryEncoder);

} // namespace sam3
