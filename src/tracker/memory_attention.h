// The tracker's memory attention (transformers' Sam3TrackerVideoMemoryAttention, the
// original's TransformerEncoderCrossAttention of TransformerDecoderLayerv2 layers): conditions a
// frame's g x g features on the memory bank. Parameter names follow transformers, relative to
// "tracker_model.memory_attention.".
#pragma once

#include "common/layers.h"

#include "model/config.h"
#include "vision/rope.h"

#include <torch/torch.h>

namespace sam3 {

// Attention with axial 2-D RoPE on queries and keys (transformers'
// Sam3TrackerVideoRoPEAttention). Parameters q_proj, k_proj, v_proj, o_proj; keys and values
// come in with kv_in_dim channels.
class TrackerRoPEAttentionImpl : public torch::nn::Module {
public:
  TrackerRoPEAttentionImpl(const TrackerConfig &config, int64_t kv_in_dim);

  // query (B,Lq,C) with Lq = the rotary table's length; key/value (B,Lk,kv_in_dim). The last
  // num_k_exclude_rope keys are not rotated; the others take the table repeated
  // (Lk - num_k_exclude_rope) / Lq times, one copy per memory frame.
  torch::Tensor forward(const torch::Tensor &query, const torch::Tensor &key,
                        const torch::Tensor &value, const RopeTables &rope,
                        int64_t num_k_exclude_rope = 0);

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

private:
  int64_t num_heads_;
};
TORCH_MODULE(TrackerRoPEAttention);

// Pre-norm layer: RoPE self-attention, RoPE cross-attention to the memory (keys = memory +
// memory_pos, values = memory), feed-forward. Parameters self_attn, cross_attn_image,
// linear1, linear2, layer_norm1..3.
class TrackerMemoryAttentionLayerImpl : public torch::nn::Module {
public:
  explicit TrackerMemoryAttentionLayerImpl(const TrackerConfig &config);

  torch::Tensor forward(const torch::Tensor &queries, const torch::Tensor &memory,
                        const torch::Tensor &memory_pos, const RopeTables &rope,
                        int64_t num_object_pointer_tokens);

  TrackerRoPEAttention self_attn{nullptr}, cross_attn_image{nullptr};
  Linear linear1{nullptr}, linear2{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr}, layer_norm3{nullptr};
};
TORCH_MODULE(TrackerMemoryAttentionLayer);

class TrackerMemoryAttentionImpl : public torch::nn::Module {
public:
  explicit TrackerMemoryAttentionImpl(const TrackerConfig &config);

  // current (N, g*g, C) and current_pos (N, g*g, C): the frame's g x g features, flattened
  // row-major; memory (N, M, mem) and memory_pos (N, M, mem): the spatial memory tokens of K
  // frames (K*g*g tokens, frame after frame) followed by `num_object_pointer_tokens`
  // object-pointer tokens, which get no RoPE. The input is current + 0.1 * current_pos, as
  // transformers does. Returns the memory-conditioned features (N, g*g, C) after the final
  // LayerNorm.
  torch::Tensor forward(const torch::Tensor &current, const torch::Tensor &current_pos,
                        const torch::Tensor &memory, const torch::Tensor &memory_pos,
                        int64_t num_object_pointer_tokens);

  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
  // Derived tables of the g x g grid (no weights): transformers' rotary_emb.
  ViTRotaryEmbedding rotary_emb{nullptr};
};
TORCH_MODULE(TrackerMemoryAttention);

} // namespace sam3
