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
  auto cos = angles.cos(), sin = angles.sin();
  auto pair = [](const torch::Tensor &t) { return t.slice(-1, 0, t.size(-1), 2).contiguous(); };
  return {cos, sin, torch::complex(pair(cos), pair(sin))};
}

std::pair<torch::Tensor, torch::Tensor> apply_rope(const torch::Tensor &q, const torch::Tensor &k,
                                                   const RopeTables &tables) {
  TORCH_CHECK(q.size(-2) == tables.cos.size(0) && k.size(-2) == tables.cos.size(0),
              "RoPE table covers ", tables.cos.size(0), " tokens but q/k have ", q.size(-2), "/",
              k.size(-2));
  TORCH_CHECK(q.size(-1) == tables.cos.size(1) && k.size(-1) == tables.cos.size(1),
              "RoPE table head dimension ", tables.cos.size(1), " does not match q/k ", q.size(-1),
              "/", k.size(-1));
  return {rotate(q, tables), rotate(k, tables)};
}

torch::Tensor rotate(const torch::Tensor &x, const RopeTables &tables) {
  const int64_t tokens = tables.rotation.size(0), pairs = tables.rotation.size(1);
  const int64_t L = x.size(-2);
  TORCH_CHECK(x.dim() >= 2 && x.size(-1) == 2 * pairs && L % tokens == 0, "RoPE: a table of ",
              tokens, " tokens x ", 2 * pairs, " channels cannot rotate ", x.sizes());
  auto xf = x.to(torch::kFloat);
  // view_as_complex needs each pair adjacent and every other stride even.
  bool pairs_adjacent = xf.stride(-1) == 1 && xf.storage_offset() % 2 == 0;
  for (int64_t d = 0; d + 1 < xf.dim(); ++d)
    pairs_adjacent = pairs_adjacent && xf.stride(d) % 2 == 0;
  if (!pairs_adjacent)
    xf = xf.clone(at::MemoryFormat::Contiguous); // contiguous() would keep an odd offset
  auto complex =
      torch::view_as_complex(xf.unflatten(-1, {pairs, 2}).unflatten(-3, {L / tokens, tokens}));
  return torch::view_as_real(complex * tables.rotation)
      .flatten(-2)
      .flatten(-3, -2)
      .to(x.scalar_type());
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
  tables_.rotation = tables_.rotation.to(tables_.rotation.options().device(device), non_blocking);
}

} // namespace sam3
