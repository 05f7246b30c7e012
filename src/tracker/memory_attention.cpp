#include "tracker/memory_attention.h"

#include <cmath>

namespace sam3 {
namespace {

int64_t head_dim_of(const TrackerConfig &config) {
  const int64_t rate = config.memory_attention_downsample_rate;
  const int64_t heads = config.memory_attention_num_attention_heads;
  const int64_t hidden = config.memory_attention_hidden_size;
  TORCH_CHECK(rate > 0 && heads > 0 && hidden % rate == 0 && (hidden / rate) % heads == 0,
              "memory attention: memory_attention_hidden_size ", hidden,
              " must divide by memory_attention_downsample_rate ", rate, " and then by ", heads,
              " heads");
  const int64_t head_dim = hidden / rate / heads;
  TORCH_CHECK(head_dim % 4 == 0, "memory attention: head dimension ", head_dim,
              " must be divisible by 4 for axial RoPE");
  return head_dim;
}

} // namespace

TrackerRoPEAttentionImpl::TrackerRoPEAttentionImpl(const TrackerConfig &config, int64_t kv_in_dim)
    : num_heads_(config.memory_attention_num_attention_heads) {
  head_dim_of(config);
  const int64_t hidden = config.memory_attention_hidden_size;
  const int64_t internal = hidden / config.memory_attention_downsample_rate;
  q_proj = register_module("q_proj", Linear(hidden, internal));
  k_proj = register_module("k_proj", Linear(kv_in_dim, internal));
  v_proj = register_module("v_proj", Linear(kv_in_dim, internal));
  o_proj = register_module("o_proj", Linear(internal, hidden));
}

torch::Tensor TrackerRoPEAttentionImpl::forward(const torch::Tensor &query,
                                                const torch::Tensor &key,
                                                const torch::Tensor &value, const RopeTables &rope,
                                                int64_t num_k_exclude_rope) {
  const int64_t B = query.size(0), Lq = query.size(1), Lk = key.size(1);
  const int64_t internal = q_proj->options.out_features();
  const int64_t head_dim = internal / num_heads_;
  TORCH_CHECK(Lq == rope.cos.size(0), "memory attention: ", Lq,
              " query tokens, but the rotary table covers ", rope.cos.size(0));
  TORCH_CHECK(num_k_exclude_rope >= 0 && num_k_exclude_rope <= Lk,
              "memory attention: cannot exclude ", num_k_exclude_rope, " of ", Lk,
              " keys from RoPE");
  const int64_t num_k_rope = Lk - num_k_exclude_rope;
  TORCH_CHECK(num_k_rope % Lq == 0, "memory attention: ", num_k_rope,
              " rotated keys are not a whole number of ", Lq, "-token memory frames");

  auto split = [&](const torch::Tensor &x, int64_t length) {
    return x.view({B, length, num_heads_, head_dim}).transpose(1, 2);
  };
  auto q = rotate(split(q_proj(query), Lq), rope);
  auto k = split(k_proj(key), Lk);
  auto v = split(v_proj(value), Lk);
  if (num_k_rope > 0) {
    // Every memory frame's tokens sit on the same grid: the table applies to each frame.
    k = torch::cat({rotate(k.slice(2, 0, num_k_rope), rope), k.slice(2, num_k_rope)}, 2);
  }
  auto out = at::scaled_dot_product_attention(q, k, v, {}, 0.0, false,
                                              1.0 / std::sqrt(static_cast<double>(head_dim)));
  return o_proj(out.transpose(1, 2).reshape({B, Lq, internal}));
}

TrackerMemoryAttentionLayerImpl::TrackerMemoryAttentionLayerImpl(const TrackerConfig &config) {
  const auto &act = config.memory_attention_feed_forward_hidden_act;
  TORCH_CHECK(act == "relu" || act == "gelu", "memory attention: unsupported hidden_act '", act,
              "' (relu or gelu)");
  const int64_t hidden = config.memory_attention_hidden_size;
  const int64_t ffn = config.memory_attention_feed_forward_hidden_size;
  self_attn = register_module("self_attn", TrackerRoPEAttention(config, hidden));
  // transformers fixes kv_in_dim at 64, the release's memory width; the config's memory width
  // is the same there and also right for smaller models.
  cross_attn_image = register_module(
      "cross_attn_image", TrackerRoPEAttention(config, config.memory_encoder_output_channels));
  linear1 = register_module(
      "linear1", Linear(hidden, ffn, act == "gelu" ? Activation::kGelu : Activation::kRelu));
  linear2 = register_module("linear2", Linear(ffn, hidden));
  // PyTorch's default eps (1e-5) in transformers and the original alike.
  layer_norm1 = register_module("layer_norm1", torch::nn::LayerNorm(std::vector<int64_t>{hidden}));
  layer_norm2 = register_module("layer_norm2", torch::nn::LayerNorm(std::vector<int64_t>{hidden}));
  layer_norm3 = register_module("layer_norm3", torch::nn::LayerNorm(std::vector<int64_t>{hidden}));
}

torch::Tensor TrackerMemoryAttentionLayerImpl::forward(const torch::Tensor &queries,
                                                       const torch::Tensor &memory,
                                                       const torch::Tensor &memory_pos,
                                                       const RopeTables &rope,
                                                       int64_t num_object_pointer_tokens) {
  auto x = layer_norm1(queries);
  auto out = queries + self_attn(x, x, x, rope);
  x = layer_norm2(out);
  out = out + cross_attn_image(x, memory + memory_pos, memory, rope, num_object_pointer_tokens);
  return out + linear2(linear1(layer_norm3(out)));
}

TrackerMemoryAttentionImpl::TrackerMemoryAttentionImpl(const TrackerConfig &config) {
  TORCH_CHECK(config.memory_attention_num_layers >= 0,
              "memory attention: memory_attention_num_layers must not be negative, got ",
              config.memory_attention_num_layers);
  const auto &sizes = config.memory_attention_rope_feat_sizes;
  TORCH_CHECK(sizes.size() == 2 && sizes[0] > 0 && sizes[1] > 0,
              "memory attention: memory_attention_rope_feat_sizes must be two positive sizes");
  const int64_t head_dim = head_dim_of(config);
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.memory_attention_num_layers; ++i)
    layers->push_back(TrackerMemoryAttentionLayer(config));
  layer_norm = register_module("layer_norm", torch::nn::LayerNorm(std::vector<int64_t>{
                                                 config.memory_attention_hidden_size}));
  rotary_emb =
      register_module("rotary_emb", ViTRotaryEmbedding(head_dim, sizes[0], sizes[1], 1.0,
                                                       config.memory_attention_rope_theta));
}

torch::Tensor TrackerMemoryAttentionImpl::forward(const torch::Tensor &current,
                                                  const torch::Tensor &current_pos,
                                                  const torch::Tensor &memory,
                                                  const torch::Tensor &memory_pos,
                                                  int64_t num_object_pointer_tokens) {
  const int64_t hidden = layer_norm->options.normalized_shape()[0];
  const int64_t tokens = rotary_emb->tables().cos.size(0);
  TORCH_CHECK(current.defined() && current.dim() == 3 && current.size(1) == tokens &&
                  current.size(2) == hidden,
              "memory attention: current must be (N, ", tokens, ", ", hidden, "), got ",
              current.defined() ? current.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(current_pos.defined() && current_pos.sizes() == current.sizes(),
              "memory attention: current_pos must have the shape of current ", current.sizes());
  const int64_t mem_dim = layers->is_empty()
                              ? -1
                              : layers[0]
                                    ->as<TrackerMemoryAttentionLayer>()
                                    ->cross_attn_image->k_proj->options.in_features();
  TORCH_CHECK(memory.defined() && memory.dim() == 3 && memory.size(0) == current.size(0) &&
                  memory.size(1) > 0 && (mem_dim < 0 || memory.size(2) == mem_dim),
              "memory attention: memory must be (", current.size(0), ", M > 0, ", mem_dim,
              "), got ", memory.defined() ? memory.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(memory_pos.defined() && memory_pos.sizes() == memory.sizes(),
              "memory attention: memory_pos must have the shape of memory ", memory.sizes());
  TORCH_CHECK(num_object_pointer_tokens >= 0 && num_object_pointer_tokens <= memory.size(1),
              "memory attention: ", num_object_pointer_tokens,
              " object-pointer tokens in a memory of ", memory.size(1));
  TORCH_CHECK((memory.size(1) - num_object_pointer_tokens) % tokens == 0,
              "memory attention: ", memory.size(1) - num_object_pointer_tokens,
              " spatial memory tokens are not a whole number of ", tokens, "-token frames");

  auto output = current + 0.1 * current_pos;
  for (const auto &layer : *layers)
    output = layer->as<TrackerMemoryAttentionLayer>()->forward(
        output, memory, memory_pos, rotary_emb->tables(), num_object_pointer_tokens);
  return layer_norm(output);
}

} // namespace sam3
