// SAM 3's text encoder: a CLIP text transformer laid out exactly as transformers'
// CLIPTextModelWithProjection, so the "text_encoder." sub-tree of a transformers Sam3Model
// state dict loads into it name for name.
#pragma once

#include "common/layers.h"

#include "model/config.h"

#include <torch/torch.h>

namespace sam3 {

class ClipAttentionImpl : public torch::nn::Module {
public:
  explicit ClipAttentionImpl(const TextConfig &config);
  // `attend`: bool (B, 1, L, L), true where a query may attend a key.
  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &attend);

private:
  int64_t num_heads_;
  Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, out_proj_{nullptr};
};
TORCH_MODULE(ClipAttention);

class ClipMlpImpl : public torch::nn::Module {
public:
  explicit ClipMlpImpl(const TextConfig &config);
  torch::Tensor forward(const torch::Tensor &x);

private:
  Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(ClipMlp);

// Pre-norm block: x + attn(LN1(x)), then x + mlp(LN2(x)).
class ClipEncoderLayerImpl : public torch::nn::Module {
public:
  explicit ClipEncoderLayerImpl(const TextConfig &config);
  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &attend);

private:
  ClipAttention self_attn_{nullptr};
  torch::nn::LayerNorm layer_norm1_{nullptr}, layer_norm2_{nullptr};
  ClipMlp mlp_{nullptr};
};
TORCH_MODULE(ClipEncoderLayer);

class ClipTextEmbeddingsImpl : public torch::nn::Module {
public:
  explicit ClipTextEmbeddingsImpl(const TextConfig &config);
  torch::Tensor forward(const torch::Tensor &input_ids);

private:
  torch::nn::Embedding token_embedding_{nullptr}, position_embedding_{nullptr};
};
TORCH_MODULE(ClipTextEmbeddings);

// transformers' CLIPTextTransformer ("text_model"): embeddings, encoder.layers, final norm.
class ClipTextTransformerImpl : public torch::nn::Module {
public:
  explicit ClipTextTransformerImpl(const TextConfig &config);
  torch::Tensor forward(const torch::Tensor &input_ids, const torch::Tensor &attention_mask);

private:
  TextConfig config_;
  ClipTextEmbeddings embeddings_{nullptr};
  torch::nn::ModuleList layers_{nullptr};
  torch::nn::LayerNorm final_layer_norm_{nullptr};
};
TORCH_MODULE(ClipTextTransformer);

// transformers' CLIPTextModelWithProjection. `text_projection` (hidden -> projection_dim, no
// bias) is registered only so the checkpoint loads strictly: SAM 3 discards its output.
class TextEncoderImpl : public torch::nn::Module {
public:
  explicit TextEncoderImpl(const TextConfig &config);

  // input_ids (B, L) int64 with L <= max_position_embeddings; attention_mask (B, L), nonzero /
  // true = real token. Returns last_hidden_state (B, L, hidden_size) after final_layer_norm.
  // Attention is causal and additionally ignores padded keys, as in transformers.
  torch::Tensor forward(const torch::Tensor &input_ids, const torch::Tensor &attention_mask);

private:
  ClipTextTransformer text_model_{nullptr};
  Linear text_projection_{nullptr};
};
TORCH_MODULE(TextEncoder);

struct TextFeatures {
  torch::Tensor features; // (B, L, d_model): text tokens projected to the detector width
  torch::Tensor mask;     // (B, L) bool, true = valid token
};

// The Linear hidden_size -> d_model that transformers' Sam3Model registers at top level as
// "text_projection" (the official checkpoint's "resizer"). The detector owns and registers it;
// this builds it with the right shape.
Linear make_text_resizer(const TextConfig &config, int64_t d_model);

// Sam3Model.get_text_features: encoder states of every token, then the resizer.
TextFeatures encode_text(TextEncoder &encoder, Linear &resizer, const torch::Tensor &input_ids,
                         const torch::Tensor &attention_mask);

} // namespace sam3
