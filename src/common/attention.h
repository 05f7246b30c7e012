#pragma once

#include <torch/torch.h>

namespace sam3 {

// Multi-head attention over batch-first (B, L, C) inputs.
//
// `mask` follows scaled_dot_product_attention: a bool tensor (true = attend) or an
// additive float bias, broadcastable to (B, heads, Lq, Lk). Softmax runs in fp32 for half
// inputs on the math path so bf16/fp16 agree with the fused kernels.
torch::Tensor attention(const torch::Tensor &q, const torch::Tensor &k, const torch::Tensor &v,
                        int64_t num_heads, const c10::optional<torch::Tensor> &mask = {});

// Turns a key padding mask (B, Lk), true = padding, into the bool "may attend" mask that
// attention() takes, shaped (B, 1, 1, Lk).
torch::Tensor key_padding_to_attend_mask(const torch::Tensor &key_padding_mask);

} // namespace sam3
