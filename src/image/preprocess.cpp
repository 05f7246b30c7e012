#include "image/preprocess.h"

namespace sam3 {

torch::Tensor preprocess_image(const torch::Tensor &rgb, int64_t size, torch::Device device,
                               torch::ScalarType dtype) {
  TORCH_CHECK(rgb.dim() == 3 && rgb.size(2) == 3 && rgb.scalar_type() == torch::kUInt8,
              "preprocess_image expects an (H, W, 3) uint8 RGB image, got ", rgb.sizes(), " ",
              rgb.scalar_type());
  TORCH_CHECK(rgb.size(0) > 0 && rgb.size(1) > 0, "preprocess_image: empty image");
  // Upload the uint8 frame (a third of the float bytes), convert on the device.
  auto x = rgb.to(device).permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat32);
  namespace F = torch::nn::functional;
  x = F::interpolate(x, F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{size, size})
                            .mode(torch::kBilinear)
                            .align_corners(false)
                            .antialias(true));
  x = (x / 255.0 - 0.5) / 0.5;
  return x.to(dtype).contiguous();
}

} // namespace sam3
