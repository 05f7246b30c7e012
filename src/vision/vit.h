// The SAM 3 vision backbone: a ViT with windowed and global attention and 2-D RoPE
// (transformers' Sam3ViTModel; the original's vitdet.ViT). Parameter names follow transformers.
#pragma once

#include "common/layers.h"

#include "model/config.h"
#include "vision/rope.h"

#include <torch/torch.h>

namespace sam3 {

// (B, H, W, C) -> (B * windows, window, window, C), zero-padding H and W up to multiples of
// the window. Returns the windows and the padded (height, width).
std::pair<torch::Tensor, std::pair<int64_t, int64_t>> window_partition(const torch::Tensor &x,
                                                                       int64_t window);

// Inverse of window_partition: reassembles (B, padded_h, padded_w, C) and crops the padding
// to (B, height, width, C).
torch::Tensor window_unpartition(const torch::Tensor &windows, int64_t window,
                                 std::pair<int64_t, int64_t> padded_hw,
                                 std::pair<int64_t, int64_t> hw);

// Repeats the pretraining position grid (1, P*P, C) over a height x width token grid (cropping
// the last repeat), as the checkpoint's 24x24 table is tiled, not interpolated, to 72x72.
torch::Tensor tile_position_embeddings(const torch::Tensor &position_embeddings, int64_t height,
                                       int64_t width);

class ViTPatchEmbeddingsImpl : public torch::nn::Module {
public:
  explicit ViTPatchEmbeddingsImpl(const VitConfig &config);
  // (B, channels, H, W) -> (B, H/patch * W/patch, hidden).
  torch::Tensor forward(const torch::Tensor &pixel_values);

  torch::nn::Conv2d projection{nullptr};
};
TORCH_MODULE(ViTPatchEmbeddings);

class ViTEmbeddingsImpl : public torch::nn::Module {
public:
  explicit ViTEmbeddingsImpl(const VitConfig &config);
  // (B, channels, H, W) -> (B, grid_h * grid_w, hidden): patch tokens plus tiled positions.
  torch::Tensor forward(const torch::Tensor &pixel_values);

  ViTPatchEmbeddings patch_embeddings{nullptr};
  // (1, (pretrain_image_size / patch)^2, hidden); the original's cls slot is not kept.
  torch::Tensor position_embeddings;

private:
  int64_t patch_size_;
};
TORCH_MODULE(ViTEmbeddings);

class ViTAttentionImpl : public torch::nn::Module {
public:
  explicit ViTAttentionImpl(const VitConfig &config);
  // (B, h, w, C) -> (B, h, w, C): self-attention over the h*w tokens, q/k rotated by `rope`
  // (which must cover h*w tokens).
  torch::Tensor forward(const torch::Tensor &x, const RopeTables &rope);

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

private:
  int64_t num_heads_;
  int64_t head_dim_;
};
TORCH_MODULE(ViTAttention);

class ViTMlpImpl : public torch::nn::Module {
public:
  explicit ViTMlpImpl(const VitConfig &config);
  torch::Tensor forward(const torch::Tensor &x);

  Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(ViTMlp);

// One pre-norm block. window > 0: attention inside window x window tiles with window-local
// RoPE positions; window == 0: global attention over the configured grid with positions
// scaled by config.window_size / grid.
class ViTLayerImpl : public torch::nn::Module {
public:
  ViTLayerImpl(const VitConfig &config, int64_t window);
  // (B, grid, grid, C) -> same shape.
  torch::Tensor forward(const torch::Tensor &x);

  int64_t window() const { return window_; }

  torch::nn::LayerNorm layer_norm1{nullptr};
  ViTRotaryEmbedding rotary_emb{nullptr};
  ViTAttention attention{nullptr};
  torch::nn::LayerNorm layer_norm2{nullptr};
  ViTMlp mlp{nullptr};

private:
  int64_t window_;
};
TORCH_MODULE(ViTLayer);

class ViTImpl : public torch::nn::Module {
public:
  explicit ViTImpl(const VitConfig &config);
  // (B, channels, image_size, image_size) float -> (B, hidden, grid, grid).
  torch::Tensor forward(const torch::Tensor &pixel_values);

  ViTEmbeddings embeddings{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
  torch::nn::ModuleList layers{nullptr};

private:
  VitConfig config_;
};
TORCH_MODULE(ViT);

} // namespace sam3
