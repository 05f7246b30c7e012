#include "vision/position_encoding.h"

namespace sam3 {

PositionEmbeddingSine::PositionEmbeddingSine(int64_t num_pos_feats, double temperature,
                                             bool normalize, double scale)
    : num_pos_feats_(num_pos_feats), temperature_(temperature), normalize_(normalize),
      scale_(scale) {
  TORCH_CHECK(num_pos_feats > 0 && num_pos_feats % 2 == 0,
              "PositionEmbeddingSine needs a positive even num_pos_feats, got ", num_pos_feats);
}

torch::Tensor PositionEmbeddingSine::operator()(int64_t batch, int64_t height, int64_t width,
                                                const torch::TensorOptions &options) const {
  TORCH_CHECK(batch > 0 && height > 0 && width > 0,
              "PositionEmbeddingSine needs a non-empty map, got ", batch, "x", height, "x", width);
  TORCH_CHECK(options.has_dtype() && c10::isFloatingType(options.dtype().toScalarType()),
              "PositionEmbeddingSine needs a floating-point dtype");
  // Same operation order as transformers: cumulative sums of ones, normalised by the last.
  auto valid = torch::ones({batch, height, width}, options);
  auto y_embed = valid.cumsum(1);
  auto x_embed = valid.cumsum(2);
  if (normalize_) {
    constexpr double eps = 1e-6;
    y_embed = y_embed / (y_embed.slice(1, height - 1, height) + eps) * scale_;
    x_embed = x_embed / (x_embed.slice(2, width - 1, width) + eps) * scale_;
  }
  auto dim_t = torch::arange(num_pos_feats_, options.dtype(torch::kLong)).to(options.dtype());
  dim_t = torch::pow(temperature_, 2 * dim_t.div(2, "floor") / static_cast<double>(num_pos_feats_));

  auto encode = [&](const torch::Tensor &embed) {
    auto angles = embed.unsqueeze(-1) / dim_t;
    return torch::stack({angles.slice(-1, 0, c10::nullopt, 2).sin(),
                         angles.slice(-1, 1, c10::nullopt, 2).cos()},
                        4)
        .flatten(3);
  };
  return torch::cat({encode(y_embed), encode(x_embed)}, 3).permute({0, 3, 1, 2});
}

} // namespace sam3
