// The SAM prompt encoder of the SAM 3 tracker (transformers' Sam3TrackerVideoPromptEncoder,
// Sam3TrackerVideoPositionalEmbedding and Sam3TrackerVideoMaskEmbedding; official
// sam3/sam/prompt_encoder.py). Parameter names follow transformers relative to
// "tracker_model.prompt_encoder." (and "tracker_model.shared_image_embedding." for the
// positional embedding the tracker keeps for the dense image PE).
#pragma once

#include "model/config.h"

#include <torch/torch.h>

#include <utility>

namespace sam3 {

// Random-Fourier positional embedding (SAM): a fixed Gaussian projection of coordinates in
// [0,1]^2 to C/2 frequencies, encoded as (sin, cos). Buffer: positional_embedding (2, C/2).
class TrackerPositionalEmbeddingImpl : public torch::nn::Module {
public:
  explicit TrackerPositionalEmbeddingImpl(const TrackerConfig &config);

  // coords01 (..., 2) as (x, y) in [0,1] -> (..., C).
  torch::Tensor forward(const torch::Tensor &coords01);
  // Dense PE of a side x side grid sampled at the cell centres, (1, C, side, side).
  torch::Tensor grid(int64_t side);

  torch::Tensor positional_embedding;
};
TORCH_MODULE(TrackerPositionalEmbedding);

// Mask prompt -> dense embedding at the feature grid: two stride-2 convs with channels-first
// LayerNorm and the prompt encoder's activation, then a 1x1 conv to the hidden size.
// Parameters: conv1, layer_norm1, conv2, layer_norm2, conv3.
class TrackerMaskEmbeddingImpl : public torch::nn::Module {
public:
  explicit TrackerMaskEmbeddingImpl(const TrackerConfig &config);

  // masks (N, 1, 4g, 4g) logits -> (N, C, g, g).
  torch::Tensor forward(const torch::Tensor &masks);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};

private:
  bool gelu_;
};
TORCH_MODULE(TrackerMaskEmbedding);

// Parameters: shared_embedding.positional_embedding, mask_embed.*, no_mask_embed.weight (1,C),
// point_embed.weight (num_point_embeddings, C), not_a_point_embed.weight (1,C).
class TrackerPromptEncoderImpl : public torch::nn::Module {
public:
  explicit TrackerPromptEncoderImpl(const TrackerConfig &config);

  // points (N,P,2) in pixels (x, y) of the image_size square input; labels (N,P) integer:
  // 1 positive, 0 negative, 2 box top-left, 3 box bottom-right, -1 padding. As in the
  // reference, one padding point is always appended, and undefined points stand for a
  // single padding point, so P' = P + 1 (2 without points). mask_inputs (N,1,4g,4g) logits,
  // or undefined for no_mask_embed. batch_size is N and must match the given tensors.
  // Returns {sparse (N,P',C), dense (N,C,g,g)}.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor &points,
                                                  const torch::Tensor &labels,
                                                  const torch::Tensor &mask_inputs,
                                                  int64_t batch_size);

  TrackerPositionalEmbedding shared_embedding{nullptr};
  TrackerMaskEmbedding mask_embed{nullptr};
  torch::nn::Embedding no_mask_embed{nullptr}, point_embed{nullptr}, not_a_point_embed{nullptr};

private:
  torch::Tensor embed_points(const torch::Tensor &points, const torch::Tensor &labels);

  int64_t hidden_size_;
  int64_t image_size_;
  int64_t grid_;
};
TORCH_MODULE(TrackerPromptEncoder);

} // namespace sam3
