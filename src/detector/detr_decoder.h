// The DETR decoder with presence token, iterative box refinement and log-scale box relative
// position bias (transformers' Sam3DetrDecoder, facebookresearch/sam3 TransformerDecoder).
#pragma once

#include "common/layers.h"

#include "detector/detr_encoder.h"
#include "model/config.h"

#include <torch/torch.h>

namespace sam3 {

// transformers' Sam3DecoderMLP: 2 or 3 Linear layers named layer1..layer3, ReLU between
// them and none after the last.
class DecoderMlpImpl : public torch::nn::Module {
public:
  DecoderMlpImpl(int64_t input_dim, int64_t hidden_dim, int64_t output_dim, int64_t num_layers);

  torch::Tensor forward(const torch::Tensor &x);

  Linear layer1{nullptr}, layer2{nullptr}, layer3{nullptr};
};
TORCH_MODULE(DecoderMlp);

// log(x / (1 - x)) with both clamped to at least eps after clamping x to [0,1] (the
// decoder's box refinement uses eps 1e-3).
torch::Tensor inverse_sigmoid(const torch::Tensor &x, double eps = 1e-3);

// (cx,cy,w,h) -> (x1,y1,x2,y2) on the last dimension.
torch::Tensor box_cxcywh_to_xyxy(const torch::Tensor &boxes);

// Sine embedding of boxes (B,Q,4) in (cx,cy,w,h): each coordinate ×2π, num_pos_feats
// interleaved sin/cos features per coordinate with temperature 10000, concatenated in the
// order (y, x, w, h) -> (B,Q,4*num_pos_feats).
torch::Tensor box_sine_embedding(const torch::Tensor &boxes, int64_t num_pos_feats);

// The log-scale distances from the feature grid to the box edges that feed the box RPB
// MLPs. Grid coordinates are k/W (resp. k/H), cell corners. Boxes (B,Q,4) cxcywh.
struct BoxRpbDeltas {
  torch::Tensor x; // (B,Q,W,2): to x1 and x2
  torch::Tensor y; // (B,Q,H,2): to y1 and y2
};
BoxRpbDeltas box_rpb_log_deltas(const torch::Tensor &boxes, int64_t height, int64_t width);

// One post-norm decoder layer (transformers' Sam3DetrDecoderLayer).
class DetrDecoderLayerImpl : public torch::nn::Module {
public:
  explicit DetrDecoderLayerImpl(const DetrDecoderConfig &config);

  // hidden (B,1+Q,C) with the presence token first; query_pos (B,Q,C) (the presence token
  // gets a zero one); prompt (B,T,C) with prompt_attend (B,1,1,T); memory/memory_pos
  // (B,HW,C); vision_bias (B,heads,1+Q,HW) additive.
  torch::Tensor forward(const torch::Tensor &hidden, const torch::Tensor &query_pos,
                        const torch::Tensor &prompt, const torch::Tensor &prompt_attend,
                        const torch::Tensor &memory, const torch::Tensor &memory_pos,
                        const torch::Tensor &vision_bias);

  ProjectedAttention self_attn{nullptr}, text_cross_attn{nullptr}, vision_cross_attn{nullptr};
  torch::nn::LayerNorm self_attn_layer_norm{nullptr}, text_cross_attn_layer_norm{nullptr},
      vision_cross_attn_layer_norm{nullptr}, mlp_layer_norm{nullptr};
  FeedForward mlp{nullptr};
};
TORCH_MODULE(DetrDecoderLayer);

struct DetrDecoderOutput {
  torch::Tensor hidden_states;   // (L,B,Q,C): each layer's queries after output_layer_norm
  torch::Tensor reference_boxes; // (L,B,Q,4): the cxcywh (sigmoid space) boxes each layer
                                 // started from; layer l's prediction is refine_boxes(l)
  torch::Tensor presence_logits; // (L,B,1); clamped to ±10 when asked (transformers)
};

class DetrDecoderImpl : public torch::nn::Module {
public:
  // clamp_presence_logits: transformers' ±10 clamp (DetectorBehaviour); the official
  // decoder leaves the logit as it is.
  explicit DetrDecoderImpl(const DetrDecoderConfig &config, bool clamp_presence_logits = false);

  // memory/memory_pos (B,HW,C) from the encoder over a height×width grid; prompt (B,T,C),
  // prompt_mask (B,T) bool true = valid.
  DetrDecoderOutput forward(const torch::Tensor &memory, const torch::Tensor &memory_pos,
                            int64_t height, int64_t width, const torch::Tensor &prompt,
                            const torch::Tensor &prompt_mask);

  // The box bias for the image cross-attention: boxes (B,Q,4) cxcywh ->
  // (B,heads,Q,height*width), row-major over the grid.
  torch::Tensor box_rpb(const torch::Tensor &boxes, int64_t height, int64_t width);

  // Refined boxes: sigmoid(inverse_sigmoid(reference) + box_head(hidden)), cxcywh.
  // hidden is an already normed decoder output (…,Q,C), reference (…,Q,4).
  torch::Tensor refine_boxes(const torch::Tensor &hidden, const torch::Tensor &reference);

  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm output_layer_norm{nullptr}, presence_layer_norm{nullptr};
  DecoderMlp box_head{nullptr}, presence_head{nullptr}, ref_point_head{nullptr},
      box_rpb_embed_x{nullptr}, box_rpb_embed_y{nullptr};
  torch::nn::Embedding query_embed{nullptr}, reference_points{nullptr}, presence_token{nullptr};

private:
  DetrDecoderConfig config_;
  bool clamp_presence_logits_;
};
TORCH_MODULE(DetrDecoder);

} // namespace sam3
