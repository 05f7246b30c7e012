#include "image/preprocess.h"

namespace sam3 {

torch::Tensor preprocess_image(const torch::Tensor &rgb, int64_t size, torch::Device device,
                               torch::ScalarType dtype) {
  TORCH_CHECK(rgb.dim() == 3 && rgb.size(2) == 3 && rgb.scalar_type() == torch::kUInt8,
              "preprocess_image expects an (H, W, 3) uint8 RGB image, got ", rgb.sizes(), " ",
              rgb.scalar_type());
  TORCH_CHECK(rgb.size(0) > 0 && rgb.size(1) > 0, "preprocess_image: empty image");
  // Official and transformers resize the uint8 image (bilinear, antialias) and so round to
  // whole grey levels before normalising. LibTorch's CPU kernel does exactly that on uint8;
  // on other devices the kernel exists for floats only, so the float result is rounded,
  // which can differ from the uint8 kernel by one grey level.
  namespace F = torch::nn::functional;
  const auto options = F::InterpolateFuncOptions()
                           .size(std::vector<int64_t>{size, size})
                           .mode(torch::kBilinear)
                           .align_corners(false)
                           .antialias(true);
  auto x = rgb.permute({2, 0, 1}).unsqueeze(0);
  if (device.is_cpu()) {
    // The (H, W, 3) frame viewed as (1, 3, H, W) is channels-last: the uint8 kernel's
    // fastest layout, so no copy is made first.
    x = F::interpolate(x, options).to(torch::kFloat32);
  } else {
    // Upload the uint8 frame (a third of the float bytes), convert on the device.
    x = F::interpolate(x.to(device).to(torch::kFloat32), options).round_().clamp_(0, 255);
  }
  x = (x / 255.0 - 0.5) / 0.5;
  return x.to(dtype).contiguous();
}

} // namespace sam3
