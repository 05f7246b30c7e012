#include "vision/vit.h"

#include <cmath>

namespace sam3 {

std::pair<torch::Tensor, std::pair<int64_t, int64_t>> window_partition(const torch::Tensor &x,
                                                                       int64_t window) {
  TORCH_CHECK(x.dim() == 4, "window_partition expects (B, H, W, C), got ", x.sizes());
  TORCH_CHECK(window > 0, "window_partition needs a positive window, got ", window);
  const auto B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const auto pad_h = (window - H % window) % window;
  const auto pad_w = (window - W % window) % window;
  auto padded =
      (pad_h > 0 || pad_w > 0) ? torch::constant_pad_nd(x, {0, 0, 0, pad_w, 0, pad_h}) : x;
  const auto Hp = H + pad_h, Wp = W + pad_w;
  auto windows = padded.reshape({B, Hp / window, window, Wp / window, window, C})
                     .permute({0, 1, 3, 2, 4, 5})
                     .reshape({-1, window, window, C});
  return {windows, {Hp, Wp}};
}

torch::Tensor window_unpartition(const torch::Tensor &windows, int64_t window,
                                 std::pair<int64_t, int64_t> padded_hw,
                                 std::pair<int64_t, int64_t> hw) {
  const auto [Hp, Wp] = padded_hw;
  const auto [H, W] = hw;
  TORCH_CHECK(window > 0 && Hp % window == 0 && Wp % window == 0 && H <= Hp && W <= Wp,
              "window_unpartition: padded size ", Hp, "x", Wp, " does not fit window ", window,
              " and size ", H, "x", W);
  TORCH_CHECK(windows.dim() == 4 && windows.size(1) == window && windows.size(2) == window,
              "window_unpartition expects (N, window, window, C), got ", windows.sizes());
  const auto per_image = (Hp / window) * (Wp / window);
  TORCH_CHECK(windows.size(0) % per_image == 0, "window_unpartition: ", windows.size(0),
              " windows is not a multiple of ", per_image, " per image");
  const auto B = windows.size(0) / per_image;
  auto x = windows.reshape({B, Hp / window, Wp / window, window, window, -1})
               .permute({0, 1, 3, 2, 4, 5})
               .reshape({B, Hp, Wp, -1});
  if (Hp == H && Wp == W)
    return x;
  return x.slice(1, 0, H).slice(2, 0, W).contiguous();
}

torch::Tensor tile_position_embeddings(const torch::Tensor &position_embeddings, int64_t height,
                                       int64_t width) {
  TORCH_CHECK(position_embeddings.dim() == 3 && position_embeddings.size(0) == 1,
              "position embeddings must be (1, P*P, C), got ", position_embeddings.sizes());
  const auto P = static_cast<int64_t>(
      std::lround(std::sqrt(static_cast<double>(position_embeddings.size(1)))));
  TORCH_CHECK(P * P == position_embeddings.size(1), "position embeddings hold ",
              position_embeddings.size(1), " positions, not a square grid");
  const auto C = position_embeddings.size(2);
  auto grid = position_embeddings.reshape({1, P, P, C}).permute({0, 3, 1, 2});
  auto tiled =
      grid.tile({1, 1, height / P + 1, width / P + 1}).slice(2, 0, height).slice(3, 0, width);
  return tiled.permute({0, 2, 3, 1}).reshape({1, height * width, C});
}

ViTPatchEmbeddingsImpl::ViTPatchEmbeddingsImpl(const VitConfig &config) {
  projection =
      register_module("projection", torch::nn::Conv2d(torch::nn::Conv2dOptions(config.num_channels,
                                                                               config.hidden_size,
                                                                               config.patch_size)
                                                          .stride(config.patch_size)
                                                          .bias(false)));
}

torch::Tensor ViTPatchEmbeddingsImpl::forward(const torch::Tensor &pixel_values) {
  // transformers casts the pixels to the weight dtype, so fp32 pixels feed a bf16 model.
  return projection(pixel_values.to(projection->weight.scalar_type())).flatten(2).transpose(1, 2);
}

ViTEmbeddingsImpl::ViTEmbeddingsImpl(const VitConfig &config) : patch_size_(config.patch_size) {
  patch_embeddings = register_module("patch_embeddings", ViTPatchEmbeddings(config));
  const auto pretrain_grid = config.pretrain_image_size / config.patch_size;
  position_embeddings = register_parameter(
      "position_embeddings", torch::zeros({1, pretrain_grid * pretrain_grid, config.hidden_size}));
}

torch::Tensor ViTEmbeddingsImpl::forward(const torch::Tensor &pixel_values) {
  const auto height = pixel_values.size(-2) / patch_size_;
  const auto width = pixel_values.size(-1) / patch_size_;
  return patch_embeddings(pixel_values) +
         tile_position_embeddings(position_embeddings, height, width);
}

ViTAttentionImpl::ViTAttentionImpl(const VitConfig &config)
    : num_heads_(config.num_attention_heads), head_dim_(config.head_dim()) {
  const auto C = config.hidden_size;
  q_proj = register_module("q_proj", Linear(C, C));
  k_proj = register_module("k_proj", Linear(C, C));
  v_proj = register_module("v_proj", Linear(C, C));
  o_proj = register_module("o_proj", Linear(C, C));
}

torch::Tensor ViTAttentionImpl::forward(const torch::Tensor &x, const RopeTables &rope) {
  const auto B = x.size(0), h = x.size(1), w = x.size(2);
  auto heads = [&](const torch::Tensor &t) {
    return t.reshape({B, h * w, num_heads_, head_dim_}).transpose(1, 2);
  };
  auto [q, k] = apply_rope(heads(q_proj(x)), heads(k_proj(x)), rope);
  auto v = heads(v_proj(x));
  if (x.is_cpu() && q.scalar_type() == torch::kFloat) {
    // LibTorch's fp32 flash attention on the CPU is faster on contiguous (B, heads, L, D)
    // operands than on the projections' (B, L, heads, D) layout: a full-size window attention,
    // 9 x 16 x 576 x 64, takes 78 ms against 101 ms (global: 561 against 604 ms), where the three
    // copies take 5 ms. bf16 gains nothing from it.
    q = q.contiguous();
    k = k.contiguous();
    v = v.contiguous();
  }
  auto out = at::scaled_dot_product_attention(q, k, v, {}, 0.0, false,
                                              1.0 / std::sqrt(static_cast<double>(head_dim_)));
  return o_proj(out.transpose(1, 2).reshape({B, h, w, num_heads_ * head_dim_}));
}

ViTMlpImpl::ViTMlpImpl(const VitConfig &config) {
  // Exact (erf) GELU, the only activation SAM 3's ViT uses; ViTImpl rejects any other.
  fc1 = register_module("fc1",
                        Linear(config.hidden_size, config.intermediate_size, Activation::kGelu));
  fc2 = register_module("fc2", Linear(config.intermediate_size, config.hidden_size));
}

torch::Tensor ViTMlpImpl::forward(const torch::Tensor &x) {
  return fc2(fc1(x));
}

ViTLayerImpl::ViTLayerImpl(const VitConfig &config, int64_t window) : window_(window) {
  TORCH_CHECK(window >= 0, "ViT layer window must be >= 0 (0 = global), got ", window);
  const auto norm = torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps);
  const auto rope_grid = window > 0 ? window : config.grid();
  layer_norm1 = register_module("layer_norm1", torch::nn::LayerNorm(norm));
  rotary_emb =
      register_module("rotary_emb", ViTRotaryEmbedding(config.head_dim(), rope_grid, rope_grid,
                                                       static_cast<double>(config.window_size) /
                                                           static_cast<double>(rope_grid),
                                                       config.rope_theta));
  attention = register_module("attention", ViTAttention(config));
  layer_norm2 = register_module("layer_norm2", torch::nn::LayerNorm(norm));
  mlp = register_module("mlp", ViTMlp(config));
}

torch::Tensor ViTLayerImpl::forward(const torch::Tensor &x) {
  auto hidden = layer_norm1(x);
  if (window_ > 0) {
    const std::pair<int64_t, int64_t> hw{hidden.size(1), hidden.size(2)};
    // Padded tokens are zeros after the norm and, as in transformers and the original, take
    // part in the window's attention unmasked.
    auto [windows, padded_hw] = window_partition(hidden, window_);
    hidden = window_unpartition(attention(windows, rotary_emb->tables()), window_, padded_hw, hw);
  } else {
    hidden = attention(hidden, rotary_emb->tables());
  }
  auto residual = x + hidden;
  return residual + mlp(layer_norm2(residual));
}

ViTImpl::ViTImpl(const VitConfig &config) : config_(config) {
  TORCH_CHECK(config.hidden_size > 0 && config.num_attention_heads > 0 &&
                  config.hidden_size % config.num_attention_heads == 0,
              "ViT hidden_size ", config.hidden_size, " is not divisible by num_attention_heads ",
              config.num_attention_heads);
  TORCH_CHECK(config.patch_size > 0 && config.image_size % config.patch_size == 0,
              "ViT image_size ", config.image_size, " is not a multiple of patch_size ",
              config.patch_size);
  TORCH_CHECK(config.pretrain_image_size >= config.patch_size &&
                  config.pretrain_image_size % config.patch_size == 0,
              "ViT pretrain_image_size ", config.pretrain_image_size,
              " is not a positive multiple of patch_size ", config.patch_size);
  TORCH_CHECK(config.window_size > 0, "ViT window_size must be positive, got ", config.window_size);
  TORCH_CHECK(config.hidden_act == "gelu", "ViT hidden_act '", config.hidden_act,
              "' is not supported (SAM 3 uses 'gelu')");
  for (auto index : config.global_attn_indexes)
    TORCH_CHECK(index >= 0 && index < config.num_hidden_layers, "ViT global_attn_indexes entry ",
                index, " is outside the ", config.num_hidden_layers, " layers");

  embeddings = register_module("embeddings", ViTEmbeddings(config));
  // The config's eps (transformers: 1e-6) is used; the original ViT's nn.LayerNorm uses 1e-5.
  layer_norm = register_module(
      "layer_norm",
      torch::nn::LayerNorm(
          torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps)));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i)
    layers->push_back(ViTLayer(config, config.is_global(i) ? 0 : config.window_size));
}

torch::Tensor ViTImpl::forward(const torch::Tensor &pixel_values) {
  TORCH_CHECK(pixel_values.defined() && pixel_values.dim() == 4,
              "ViT expects pixel_values shaped (B, channels, H, W)");
  TORCH_CHECK(pixel_values.is_floating_point(), "ViT expects floating-point pixel_values, got ",
              pixel_values.scalar_type());
  TORCH_CHECK(pixel_values.size(1) == config_.num_channels &&
                  pixel_values.size(2) == config_.image_size &&
                  pixel_values.size(3) == config_.image_size,
              "ViT expects pixel_values (B, ", config_.num_channels, ", ", config_.image_size, ", ",
              config_.image_size, "), got ", pixel_values.sizes());
  const auto B = pixel_values.size(0), grid = config_.grid();
  auto hidden = layer_norm(embeddings(pixel_values).reshape({B, grid, grid, -1}));
  for (const auto &layer : *layers)
    hidden = layer->as<ViTLayerImpl>()->forward(hidden);
  return hidden.permute({0, 3, 1, 2});
}

} // namespace sam3
