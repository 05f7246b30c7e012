#include "text/text_encoder.h"

#include "common/attention.h"

namespace sam3 {

namespace {

torch::nn::LayerNorm layer_norm(const TextConfig &c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
}

} // namespace

ClipAttentionImpl::ClipAttentionImpl(const TextConfig &c) : num_heads_(c.num_attention_heads) {
  TORCH_CHECK(c.num_attention_heads > 0 && c.hidden_size % c.num_attention_heads == 0,
              "text encoder: hidden_size ", c.hidden_size, " not divisible by num_attention_heads ",
              c.num_attention_heads);
  q_proj_ = register_module("q_proj", Linear(c.hidden_size, c.hidden_size));
  k_proj_ = register_module("k_proj", Linear(c.hidden_size, c.hidden_size));
  v_proj_ = register_module("v_proj", Linear(c.hidden_size, c.hidden_size));
  out_proj_ = register_module("out_proj", Linear(c.hidden_size, c.hidden_size));
}

torch::Tensor ClipAttentionImpl::forward(const torch::Tensor &x, const torch::Tensor &attend) {
  return out_proj_(attention(q_proj_(x), k_proj_(x), v_proj_(x), num_heads_, attend));
}

ClipMlpImpl::ClipMlpImpl(const TextConfig &c) {
  // transformers' ACT2FN["gelu"] is the exact (erf) GELU; CLIP's "quick_gelu" is a different
  // function that SAM 3 does not use, so anything but "gelu" is refused rather than guessed.
  TORCH_CHECK(c.hidden_act == "gelu", "text encoder: unsupported hidden_act '", c.hidden_act,
              "' (SAM 3 uses \"gelu\")");
  fc1_ = register_module("fc1", Linear(c.hidden_size, c.intermediate_size, Activation::kGelu));
  fc2_ = register_module("fc2", Linear(c.intermediate_size, c.hidden_size));
}

torch::Tensor ClipMlpImpl::forward(const torch::Tensor &x) {
  return fc2_(fc1_(x));
}

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const TextConfig &c) {
  self_attn_ = register_module("self_attn", ClipAttention(c));
  layer_norm1_ = register_module("layer_norm1", layer_norm(c));
  mlp_ = register_module("mlp", ClipMlp(c));
  layer_norm2_ = register_module("layer_norm2", layer_norm(c));
}

torch::Tensor ClipEncoderLayerImpl::forward(const torch::Tensor &x, const torch::Tensor &attend) {
  auto h = x + self_attn_(layer_norm1_(x), attend);
  return h + mlp_(layer_norm2_(h));
}

ClipTextEmbeddingsImpl::ClipTextEmbeddingsImpl(const TextConfig &c) {
  token_embedding_ =
      register_module("token_embedding", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  position_embedding_ = register_module(
      "position_embedding", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size));
}

torch::Tensor ClipTextEmbeddingsImpl::forward(const torch::Tensor &input_ids) {
  auto positions = torch::arange(input_ids.size(1), input_ids.options());
  return token_embedding_(input_ids) + position_embedding_(positions).unsqueeze(0);
}

ClipTextTransformerImpl::ClipTextTransformerImpl(const TextConfig &c) : config_(c) {
  embeddings_ = register_module("embeddings", ClipTextEmbeddings(c));
  // transformers nests the blocks as encoder.layers.N; a holder module keeps that prefix.
  auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  layers_ = encoder->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    layers_->push_back(ClipEncoderLayer(c));
  final_layer_norm_ = register_module("final_layer_norm", layer_norm(c));
}

torch::Tensor ClipTextTransformerImpl::forward(const torch::Tensor &input_ids,
                                               const torch::Tensor &attention_mask) {
  TORCH_CHECK(input_ids.dim() == 2, "text encoder: input_ids must be (B, L), got ",
              input_ids.sizes());
  TORCH_CHECK(attention_mask.sizes() == input_ids.sizes(), "text encoder: attention_mask ",
              attention_mask.sizes(), " does not match input_ids ", input_ids.sizes());
  const auto L = input_ids.size(1);
  TORCH_CHECK(L >= 1 && L <= config_.max_position_embeddings, "text encoder: sequence length ", L,
              " outside [1, ", config_.max_position_embeddings, "]");
  TORCH_CHECK(!input_ids.is_floating_point(), "text encoder: input_ids must be integer");
  auto ids = input_ids.to(torch::kLong);
  if (ids.numel() > 0) {
    const auto lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    TORCH_CHECK(lo >= 0 && hi < config_.vocab_size, "text encoder: token ids [", lo, ", ", hi,
                "] outside the vocabulary [0, ", config_.vocab_size, ")");
  }

  auto hidden = embeddings_(ids);
  // transformers' create_causal_mask: key j is visible to query i iff j <= i and j is a real
  // token. A query with no visible key (a sequence that starts with padding) attends to all
  // keys instead, as transformers' SDPA mask fix does, so no NaN reaches valid tokens.
  auto causal = torch::ones({L, L}, attention_mask.options().dtype(torch::kBool)).tril();
  auto keys = attention_mask.to(hidden.device(), torch::kBool).unsqueeze(1).unsqueeze(1);
  auto attend = causal.to(hidden.device()).unsqueeze(0).unsqueeze(0) & keys;
  attend = attend | attend.any(-1, true).logical_not();

  for (const auto &layer : *layers_)
    hidden = layer->as<ClipEncoderLayer>()->forward(hidden, attend);
  return final_layer_norm_(hidden);
}

TextEncoderImpl::TextEncoderImpl(const TextConfig &c) {
  text_model_ = register_module("text_model", ClipTextTransformer(c));
  text_projection_ = register_module(
      "text_projection",
      Linear(torch::nn::LinearOptions(c.hidden_size, c.projection_dim).bias(false)));
}

torch::Tensor TextEncoderImpl::forward(const torch::Tensor &input_ids,
                                       const torch::Tensor &attention_mask) {
  return text_model_(input_ids, attention_mask);
}

Linear make_text_resizer(const TextConfig &config, int64_t d_model) {
  return Linear(config.hidden_size, d_model);
}

TextFeatures encode_text(TextEncoder &encoder, Linear &resizer, const torch::Tensor &input_ids,
                         const torch::Tensor &attention_mask) {
  auto states = encoder->forward(input_ids, attention_mask);
  return {resizer(states), attention_mask.to(states.device(), torch::kBool)};
}

} // namespace sam3
