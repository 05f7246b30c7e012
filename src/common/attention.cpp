#include "common/attention.h"

#include <cmath>

namespace sam3 {

torch::Tensor attention(const torch::Tensor &q, const torch::Tensor &k, const torch::Tensor &v,
                        int64_t num_heads, const c10::optional<torch::Tensor> &mask) {
  TORCH_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, "attention expects (B, L, C) inputs");
  const auto B = q.size(0), Lq = q.size(1), C = q.size(2), Lk = k.size(1);
  TORCH_CHECK(C % num_heads == 0, "attention: channels ", C, " not divisible by heads ", num_heads);
  const auto hd = C / num_heads;
  const auto Cv = v.size(2);
  auto qh = q.view({B, Lq, num_heads, hd}).transpose(1, 2);
  auto kh = k.view({B, Lk, num_heads, hd}).transpose(1, 2);
  auto vh = v.view({B, Lk, num_heads, Cv / num_heads}).transpose(1, 2);
  c10::optional<torch::Tensor> m;
  if (mask.has_value()) {
    m = mask->scalar_type() == torch::kBool ? *mask : mask->to(q.scalar_type());
  }
  auto out = at::scaled_dot_product_attention(qh, kh, vh, m, 0.0, false,
                                              1.0 / std::sqrt(static_cast<double>(hd)));
  return out.transpose(1, 2).reshape({B, Lq, Cv});
}

torch::Tensor key_padding_to_attend_mask(const torch::Tensor &key_padding_mask) {
  return key_padding_mask.logical_not().unsqueeze(1).unsqueeze(1);
}

} // namespace sam3
