#include "tracker/two_way_transformer.h"

#include "common/attention.h"

namespace sam3 {

namespace {

// transformers' nn.LayerNorm here keeps PyTorch's default epsilon.
torch::nn::LayerNorm default_layer_norm(int64_t channels) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels}));
}

} // namespace

TrackerFeedForwardImpl::TrackerFeedForwardImpl(int64_t input_dim, int64_t hidden_dim,
                                               int64_t output_dim, int64_t num_layers,
                                               bool sigmoid_output)
    : sigmoid_output_(sigmoid_output) {
  TORCH_CHECK(num_layers >= 2, "tracker feed-forward: needs at least 2 layers, got ", num_layers);
  TORCH_CHECK(input_dim > 0 && hidden_dim > 0 && output_dim > 0,
              "tracker feed-forward: sizes must be positive, got ", input_dim, " -> ", hidden_dim,
              " -> ", output_dim);
  proj_in = register_module("proj_in", Linear(input_dim, hidden_dim));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_layers - 2; ++i)
    layers->push_back(Linear(hidden_dim, hidden_dim));
  proj_out = register_module("proj_out", Linear(hidden_dim, output_dim));
}

torch::Tensor TrackerFeedForwardImpl::forward(const torch::Tensor &x) {
  auto h = torch::relu(proj_in(x));
  for (const auto &layer : *layers)
    h = torch::relu(layer->as<Linear>()->forward(h));
  h = proj_out(h);
  return sigmoid_output_ ? torch::sigmoid(h) : h;
}

TwoWayAttentionImpl::TwoWayAttentionImpl(int64_t hidden_size, int64_t num_heads,
                                         int64_t downsample_rate)
    : num_heads_(num_heads) {
  TORCH_CHECK(downsample_rate > 0 && hidden_size % downsample_rate == 0,
              "two-way attention: hidden size ", hidden_size,
              " is not divisible by the downsample rate ", downsample_rate);
  const auto internal = hidden_size / downsample_rate;
  TORCH_CHECK(num_heads > 0 && internal % num_heads == 0, "two-way attention: internal width ",
              internal, " is not divisible by ", num_heads, " heads");
  q_proj = register_module("q_proj", Linear(hidden_size, internal));
  k_proj = register_module("k_proj", Linear(hidden_size, internal));
  v_proj = register_module("v_proj", Linear(hidden_size, internal));
  o_proj = register_module("o_proj", Linear(internal, hidden_size));
}

torch::Tensor TwoWayAttentionImpl::forward(const torch::Tensor &query, const torch::Tensor &key,
                                           const torch::Tensor &value) {
  return o_proj(attention(q_proj(query), k_proj(key), v_proj(value), num_heads_));
}

TwoWayAttentionBlockImpl::TwoWayAttentionBlockImpl(const TrackerMaskDecoderConfig &config,
                                                   bool skip_first_layer_pe)
    : skip_first_layer_pe_(skip_first_layer_pe) {
  const auto c = config.hidden_size;
  const auto heads = config.num_attention_heads;
  self_attn = register_module("self_attn", TwoWayAttention(c, heads, 1));
  layer_norm1 = register_module("layer_norm1", default_layer_norm(c));
  cross_attn_token_to_image = register_module(
      "cross_attn_token_to_image", TwoWayAttention(c, heads, config.attention_downsample_rate));
  layer_norm2 = register_module("layer_norm2", default_layer_norm(c));
  // transformers sizes this MLP's depth by num_hidden_layers (2 in every release, matching the
  // official two-layer MLPBlock); kept so that its parameter names load.
  mlp = register_module("mlp", TrackerFeedForward(c, config.mlp_dim, c, config.num_hidden_layers));
  layer_norm3 = register_module("layer_norm3", default_layer_norm(c));
  layer_norm4 = register_module("layer_norm4", default_layer_norm(c));
  cross_attn_image_to_token = register_module(
      "cross_attn_image_to_token", TwoWayAttention(c, heads, config.attention_downsample_rate));
}

std::pair<torch::Tensor, torch::Tensor>
TwoWayAttentionBlockImpl::forward(const torch::Tensor &queries_in, const torch::Tensor &keys_in,
                                  const torch::Tensor &query_pe, const torch::Tensor &key_pe) {
  torch::Tensor queries;
  if (skip_first_layer_pe_) {
    // The first block's queries are the prompt embeddings themselves: no residual, no PE.
    queries = self_attn(queries_in, queries_in, queries_in);
  } else {
    const auto q = queries_in + query_pe;
    queries = queries_in + self_attn(q, q, queries_in);
  }
  queries = layer_norm1(queries);

  auto q = queries + query_pe;
  auto k = keys_in + key_pe;
  queries = layer_norm2(queries + cross_attn_token_to_image(q, k, keys_in));
  queries = layer_norm3(queries + mlp(queries));

  q = queries + query_pe;
  k = keys_in + key_pe;
  auto keys = layer_norm4(keys_in + cross_attn_image_to_token(k, q, queries));
  return {queries, keys};
}

TwoWayTransformerImpl::TwoWayTransformerImpl(const TrackerMaskDecoderConfig &config) {
  TORCH_CHECK(config.num_hidden_layers > 0, "two-way transformer: num_hidden_layers ",
              config.num_hidden_layers, " must be positive");
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i)
    layers->push_back(TwoWayAttentionBlock(config, i == 0));
  final_attn_token_to_image = register_module(
      "final_attn_token_to_image", TwoWayAttention(config.hidden_size, config.num_attention_heads,
                                                   config.attention_downsample_rate));
  layer_norm_final_attn =
      register_module("layer_norm_final_attn", default_layer_norm(config.hidden_size));
}

std::pair<torch::Tensor, torch::Tensor>
TwoWayTransformerImpl::forward(const torch::Tensor &point_embeddings,
                               const torch::Tensor &image_embeddings,
                               const torch::Tensor &image_pe) {
  const auto key_pe = image_pe.flatten(2).permute({0, 2, 1});
  auto queries = point_embeddings;
  auto keys = image_embeddings.flatten(2).permute({0, 2, 1});
  for (const auto &layer : *layers)
    std::tie(queries, keys) =
        layer->as<TwoWayAttentionBlock>()->forward(queries, keys, point_embeddings, key_pe);
  const auto q = queries + point_embeddings;
  const auto k = keys + key_pe;
  queries = layer_norm_final_attn(queries + final_attn_token_to_image(q, k, keys));
  return {queries, keys};
}

} // namespace sam3
