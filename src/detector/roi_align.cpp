#include "detector/roi_align.h"

namespace sam3 {

namespace {

// Sampling layout of one axis of every box: first sample origin, bin size and the number of
// samples per bin, following torchvision's roi_align_forward_kernel_impl.
struct AxisLayout {
  torch::Tensor start; // (B, N)
  torch::Tensor bin;   // (B, N)
  torch::Tensor grid;  // (B, N) int64, samples per bin along this axis
};

AxisLayout axis_layout(const torch::Tensor &lo, const torch::Tensor &hi, int64_t pooled,
                       const RoiAlignOptions &o) {
  const double offset = o.aligned ? 0.5 : 0.0;
  auto start = lo * o.spatial_scale - offset;
  auto extent = hi * o.spatial_scale - offset - start;
  if (!o.aligned)
    extent = extent.clamp_min(1.0);
  auto bin = extent / static_cast<double>(pooled);
  auto grid = o.sampling_ratio > 0 ? torch::full_like(extent, static_cast<double>(o.sampling_ratio))
                                   : torch::ceil(extent / static_cast<double>(pooled));
  return {start, bin, grid.clamp_min(0).to(torch::kLong)};
}

// Bilinear interpolation is separable and torchvision's out-of-range test is a conjunction of
// a y test and an x test, so averaging the samples of a bin equals Wy · map · Wxᵀ, where row
// ph of Wy holds the summed row weights of the bin's samples. Building these (B, N, pooled,
// size) weights replaces a gather of every sample's four corners with two batched matmuls.
torch::Tensor axis_weights(const AxisLayout &a, int64_t size, int64_t pooled, int64_t max_grid) {
  const auto opts = a.start.options();
  auto p = torch::arange(pooled, opts).view({1, 1, pooled, 1});
  auto i = torch::arange(max_grid, opts).view({1, 1, 1, max_grid});
  auto start = a.start.unsqueeze(-1).unsqueeze(-1);
  auto bin = a.bin.unsqueeze(-1).unsqueeze(-1);
  auto grid = a.grid.unsqueeze(-1).unsqueeze(-1);
  // Same operation order as torchvision: start + p * bin + (i + .5) * bin / grid.
  auto y = start + p * bin + (i + 0.5) * bin / grid.clamp_min(1).to(opts.dtype());
  auto valid = (i < grid) & (y >= -1.0) & (y <= static_cast<double>(size));
  auto yc = y.clamp_min(0.0);
  auto low = yc.floor();
  auto edge = low >= static_cast<double>(size - 1);
  low = torch::where(edge, torch::full_like(low, static_cast<double>(size - 1)), low);
  yc = torch::where(edge, low, yc);
  auto high = torch::where(edge, low, low + 1.0);
  auto ly = yc - low;
  auto zero = torch::zeros_like(ly);
  auto w_low = torch::where(valid, 1.0 - ly, zero);
  auto w_high = torch::where(valid, ly, zero);
  const auto B = a.start.size(0), N = a.start.size(1);
  return torch::zeros({B, N, pooled, size}, opts)
      .scatter_add_(3, low.to(torch::kLong), w_low)
      .scatter_add_(3, high.to(torch::kLong), w_high);
}

} // namespace

torch::Tensor roi_align(const torch::Tensor &features, const torch::Tensor &boxes,
                        const RoiAlignOptions &o) {
  TORCH_CHECK(features.dim() == 4, "roi_align: features must be (B, C, H, W), got ",
              features.sizes());
  TORCH_CHECK(boxes.dim() == 3 && boxes.size(2) == 4, "roi_align: boxes must be (B, N, 4), got ",
              boxes.sizes());
  TORCH_CHECK(boxes.size(0) == features.size(0), "roi_align: boxes batch ", boxes.size(0),
              " != features batch ", features.size(0));
  TORCH_CHECK(features.is_floating_point() && boxes.is_floating_point(),
              "roi_align: features and boxes must be floating point");
  TORCH_CHECK(o.pooled_height > 0 && o.pooled_width > 0, "roi_align: pooled size must be > 0");
  const auto B = features.size(0), C = features.size(1), H = features.size(2), W = features.size(3),
             N = boxes.size(1);
  TORCH_CHECK(H > 0 && W > 0, "roi_align: empty feature map ", features.sizes());
  const auto P = o.pooled_height, Q = o.pooled_width;
  if (N == 0 || B == 0)
    return torch::zeros({B, N, C, P, Q}, features.options());

  // In fp32 under autocast too, as torchvision's roi_align runs there (its autocast rule casts
  // to fp32): the products below are sums over pixels, not learnt projections.
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  const auto compute = features.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  auto f = features.to(compute);
  auto bx = boxes.to(f.device(), compute);
  TORCH_CHECK(torch::isfinite(bx).all().item<bool>(), "roi_align: boxes contain inf or NaN");

  auto ly = axis_layout(bx.select(2, 1), bx.select(2, 3), P, o);
  auto lx = axis_layout(bx.select(2, 0), bx.select(2, 2), Q, o);
  const auto max_grid = torch::maximum(ly.grid.max(), lx.grid.max()).item<int64_t>();
  auto wy = axis_weights(ly, H, P, max_grid); // (B, N, P, H)
  auto wx = axis_weights(lx, W, Q, max_grid); // (B, N, Q, W)
  auto count = (ly.grid * lx.grid).clamp_min(1).to(compute).view({B, N, 1, 1, 1});

  auto rows = torch::bmm(wy.reshape({B, N * P, H}), f.permute({0, 2, 1, 3}).reshape({B, H, C * W}));
  auto pooled = torch::bmm(rows.view({B * N, P * C, W}), wx.reshape({B * N, Q, W}).transpose(1, 2));
  pooled = pooled.view({B, N, P, C, Q}).permute({0, 1, 3, 2, 4}) / count;
  return pooled.contiguous().to(features.scalar_type());
}

} // namespace sam3
