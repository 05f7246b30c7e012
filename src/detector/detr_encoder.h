// The fusion ("DETR") encoder: image tokens attend to each other and to the prompt tokens
// (transformers' Sam3DetrEncoder, facebookresearch/sam3 TransformerEncoderFusion).
//
// Also home of the two building blocks every detector transformer shares, named as
// transformers names them: Sam3Attention (separate q/k/v/o projections) and Sam3MLP.
#pragma once

#include "model/config.h"

#include "common/layers.h"

#include <torch/torch.h>

#include <string>

namespace sam3 {

// transformers builds the detector's LayerNorms (fusion encoder, decoder, scoring, mask
// decoder) with nn.LayerNorm's default eps and never reads the config's layer_norm_eps.
constexpr double kDetectorLayerNormEps = 1e-5;

// Turns a prompt mask (B,T) bool, true = valid, into the (B,1,1,T) "may attend" mask that
// attention takes, after checking it against the prompt (B,T,C). Throws when a batch entry
// has no valid token: attention over nothing has no defined result.
torch::Tensor prompt_attend_mask(const torch::Tensor &prompt, const torch::Tensor &prompt_mask);

// One pre-norm fusion layer (transformers' Sam3DetrEncoderLayer).
class DetrEncoderLayerImpl : public torch::nn::Module {
public:
  explicit DetrEncoderLayerImpl(const DetrEncoderConfig &config);

  // vision (B,HW,C), pos (B,HW,C), prompt (B,T,C), prompt_attend (B,1,1,T) bool.
  torch::Tensor forward(const torch::Tensor &vision, const torch::Tensor &pos,
                        const torch::Tensor &prompt, const torch::Tensor &prompt_attend);

  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr}, layer_norm3{nullptr};
  ProjectedAttention self_attn{nullptr}, cross_attn{nullptr};
  FeedForward mlp{nullptr};
};
TORCH_MODULE(DetrEncoderLayer);

struct DetrEncoderOutput {
  torch::Tensor memory; // (B,HW,C): the fused image tokens (no final norm, as the reference)
  torch::Tensor pos;    // (B,HW,C): the image positional encoding, flattened the same way
  int64_t height = 0;   // feature grid the tokens were flattened from (row-major)
  int64_t width = 0;
};

class DetrEncoderImpl : public torch::nn::Module {
public:
  explicit DetrEncoderImpl(const DetrEncoderConfig &config);

  // vision (B,C,H,W), vision_pos (B,C,H,W), prompt (B,T,C), prompt_mask (B,T) bool.
  DetrEncoderOutput forward(const torch::Tensor &vision, const torch::Tensor &vision_pos,
                            const torch::Tensor &prompt, const torch::Tensor &prompt_mask);

  torch::nn::ModuleList layers{nullptr};

private:
  DetrEncoderConfig config_;
};
TORCH_MODULE(DetrEncoder);

} // namespace sam3
