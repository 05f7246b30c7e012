// The two-way transformer of the SAM mask decoder (transformers' Sam3TrackerVideoTwoWayTransformer,
// Sam3TrackerVideoTwoWayAttentionBlock, Sam3TrackerVideoAttention, Sam3TrackerVideoFeedForward;
// official sam3/sam/transformer.py): prompt tokens and image tokens attend to each other in
// turn. Parameter names follow transformers relative to "tracker_model.mask_decoder.transformer.".
#pragma once

#include "common/layers.h"

#include "model/config.h"

#include <torch/torch.h>

#include <utility>

namespace sam3 {

// MLP of `num_layers` linear layers with ReLU between them (transformers'
// Sam3TrackerVideoFeedForward): proj_in, layers.0 .. layers.{num_layers-3}, proj_out, and an
// optional sigmoid on the output. Also the tracker's object_pointer_proj.
class TrackerFeedForwardImpl : public torch::nn::Module {
public:
  TrackerFeedForwardImpl(int64_t input_dim, int64_t hidden_dim, int64_t output_dim,
                         int64_t num_layers, bool sigmoid_output = false);

  torch::Tensor forward(const torch::Tensor &x);

  Linear proj_in{nullptr}, proj_out{nullptr};
  torch::nn::ModuleList layers{nullptr};

private:
  bool sigmoid_output_;
};
TORCH_MODULE(TrackerFeedForward);

// Multi-head attention whose projections map hidden -> hidden / downsample_rate (the internal
// width the heads split), and back. Parameters: q_proj, k_proj, v_proj, o_proj.
class TwoWayAttentionImpl : public torch::nn::Module {
public:
  TwoWayAttentionImpl(int64_t hidden_size, int64_t num_heads, int64_t downsample_rate);

  // query (B,Lq,C), key and value (B,Lk,C) -> (B,Lq,C).
  torch::Tensor forward(const torch::Tensor &query, const torch::Tensor &key,
                        const torch::Tensor &value);

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

private:
  int64_t num_heads_;
};
TORCH_MODULE(TwoWayAttention);

// Token self-attention, token->image cross-attention, token MLP, image->token cross-attention,
// each followed by a post-norm. Parameters: self_attn, layer_norm1, cross_attn_token_to_image,
// layer_norm2, mlp (proj_in, proj_out), layer_norm3, layer_norm4, cross_attn_image_to_token.
class TwoWayAttentionBlockImpl : public torch::nn::Module {
public:
  TwoWayAttentionBlockImpl(const TrackerMaskDecoderConfig &config, bool skip_first_layer_pe);

  // queries (B,T,C) with their embedding query_pe (B,T,C); keys (B,HW,C) with key_pe (B or 1,HW,C).
  // Returns the updated {queries, keys}.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor &queries,
                                                  const torch::Tensor &keys,
                                                  const torch::Tensor &query_pe,
                                                  const torch::Tensor &key_pe);

  TwoWayAttention self_attn{nullptr}, cross_attn_token_to_image{nullptr},
      cross_attn_image_to_token{nullptr};
  TrackerFeedForward mlp{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr}, layer_norm3{nullptr},
      layer_norm4{nullptr};

private:
  bool skip_first_layer_pe_;
};
TORCH_MODULE(TwoWayAttentionBlock);

// Parameters: layers.N.*, final_attn_token_to_image, layer_norm_final_attn.
class TwoWayTransformerImpl : public torch::nn::Module {
public:
  explicit TwoWayTransformerImpl(const TrackerMaskDecoderConfig &config);

  // point_embeddings (B,T,C): the output and prompt tokens, also used as their PE;
  // image_embeddings (B,C,h,w); image_pe (B or 1,C,h,w).
  // Returns {tokens (B,T,C), image tokens (B,h*w,C)}.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor &point_embeddings,
                                                  const torch::Tensor &image_embeddings,
                                                  const torch::Tensor &image_pe);

  torch::nn::ModuleList layers{nullptr};
  TwoWayAttention final_attn_token_to_image{nullptr};
  torch::nn::LayerNorm layer_norm_final_attn{nullptr};
};
TORCH_MODULE(TwoWayTransformer);

} // namespace sam3
