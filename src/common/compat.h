// The one place where LibTorch version differences live. Debian 12 ships LibTorch 1.13
// (CPU); the GPU machines run LibTorch 2.x with CUDA. Everything else in src/ calls the
// helpers below instead of testing TORCH_VERSION itself.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#define SAM3_TORCH_AT_LEAST(major, minor)                                                          \
  (TORCH_VERSION_MAJOR > (major) ||                                                                \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// scaled_dot_product_attention exists from LibTorch 2.0; before that the fused kernels do
// not exist and the math path is all there is.
#define SAM3_HAVE_SDPA SAM3_TORCH_AT_LEAST(2, 0)

namespace sam3::compat {

inline torch::Tensor sdpa(const torch::Tensor &q, const torch::Tensor &k, const torch::Tensor &v,
                          const c10::optional<torch::Tensor> &attn_mask, double scale) {
#if SAM3_TORCH_AT_LEAST(2, 1)
  return at::scaled_dot_product_attention(q, k, v, attn_mask, 0.0, false, scale);
#else
  auto scores = torch::matmul(q, k.transpose(-2, -1)) * scale;
  if (attn_mask.has_value()) {
    const auto &m = *attn_mask;
    if (m.scalar_type() == torch::kBool)
      scores = scores.masked_fill(m.logical_not(), -std::numeric_limits<float>::infinity());
    else
      scores = scores + m;
  }
  return torch::matmul(torch::softmax(scores, -1), v);
#endif
}

} // namespace sam3::compat
