// 2-D sine position encoding of feature maps (transformers' Sam3SinePositionEmbedding, the
// original's PositionEmbeddingSine), without a padding mask: every position is valid.
#pragma once

#include <torch/torch.h>

namespace sam3 {

inline constexpr double kTwoPi = 6.283185307179586;

class PositionEmbeddingSine {
public:
  // num_pos_feats channels per axis, so the encoding has 2 * num_pos_feats channels. With
  // `normalize`, positions 1..n are divided by (n + 1e-6) and multiplied by `scale`.
  PositionEmbeddingSine(int64_t num_pos_feats, double temperature = 10000.0, bool normalize = false,
                        double scale = kTwoPi);

  // (batch, 2 * num_pos_feats, height, width): channels [0, num_pos_feats) encode y, the rest
  // x; within each half even channels hold sin and odd channels cos. Computed in the dtype of
  // `options`, as transformers does (so bf16 features get a bf16-accurate encoding).
  torch::Tensor operator()(int64_t batch, int64_t height, int64_t width,
                           const torch::TensorOptions &options) const;

private:
  int64_t num_pos_feats_;
  double temperature_;
  bool normalize_;
  double scale_;
};

} // namespace sam3
