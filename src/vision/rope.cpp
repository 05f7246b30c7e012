#include "vision/rope.h"

namespace sam3 {

RopeTables axial_rope_tables(int64_t head_dim, int64_t end_x, int64_t end_y, double scale,
                             double theta) {
  TORCH_CHECK(head_dim > 0 && head_dim % 4 == 0,
              "axial RoPE needs a head dimension divisible by 4, got ", head_dim);
  TORCH_CHECK(end_x > 0 && end_y > 0, "axial RoPE needs a non-empty grid, got ", end_x, "x", end_y);
  // Same float32 operation order as transformers so the tables agree bit for bit.
  auto exponents = torch::arange(0, head_dim, 4, torch::kFloat) / static_cast<double>(head_dim);
  auto freqs = 1.0 / torch::pow(theta, exponents);
  auto index = torch::arange(end_x * end_y, torch::kLong);
  auto x_pos = index.remainder(end_x).to(torch::kFloat) * scale;
  auto y_pos = index.div(end_x, "floor").to(torch::kFloat) * scale;
  auto angles = torch::cat({torch::outer(x_pos, freqs), torch::outer(y_pos, freqs)}, -1)
                    .repeat_interleave(2, -1);
  return {angles.cos(), angles.sin()};
}

torch::Tensor rotate_pairwise(const torch::Tensor &x) {
  TORCH_CHECK(x.size(-1) % 2 == 0, "rotate_pairwise needs an even last dimension, got ",
              x.size(-1));
  auto shape = x.sizes().vec();
  shape.back() /= 2;
  shape.push_back(2);
  auto pairs = x.reshape(shape).unbind(-1);
  return torch::stack({-pairs[1], pairs[0]}, -1).flatten(-2);
}

std::pair<torch::Tensor, torch::Tensor> apply_rope(const torch::Tensor &q, const torch::Tensor &k,
                                                   const RopeTables &tables) {
  TORCH_CHECK(q.size(-2) == tables.cos.size(0) && k.size(-2) == tables.cos.size(0),
              "RoPE table covers ", tables.cos.size(0), " tokens but q/k have ", q.size(-2), "/",
              k.size(-2));
  TORCH_CHECK(q.size(-1) == tables.cos.size(1) && k.size(-1) == tables.cos.size(1),
              "RoPE table head dimension ", tables.cos.size(1), " does not match q/k ", q.size(-1),
              "/", k.size(-1));
  auto rotate = [&](const torch::Tensor &x) {
    auto xf = x.to(torch::kFloat);
    return (xf * tables.cos + rotate_pairwise(xf) * tables.sin).to(x.scalar_type());
  };
  return {rotate(q), rotate(k)};
}

ViTRotaryEmbeddingImpl::ViTRotaryEmbeddingImpl(int64_t head_dim, int64_t end_x, int64_t end_y,
                                               double scale, double theta)
    : tables_(axial_rope_tables(head_dim, end_x, end_y, scale, theta)), scale_(scale) {}

void ViTRotaryEmbeddingImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(device, dtype, non_blocking);
  move_tables(device, non_blocking);
}

void ViTRotaryEmbeddingImpl::to(torch::Device device, bool non_blocking) {
  torch::nn::Module::to(device, non_blocking);
  move_tables(device, non_blocking);
}

void ViTRotaryEmbeddingImpl::move_tables(torch::Device device, bool non_blocking) {
  tables_.cos = tables_.cos.to(tables_.cos.options().device(device), non_blocking);
  tables_.sin = tables_.sin.to(tables_.sin.options().device(device), non_blocking);
}

} // namespace sam3
