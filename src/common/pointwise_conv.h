// A 1x1 convolution on channels-last input as the matrix product it is.
#pragma once

#include <torch/torch.h>

namespace sam3 {

// `conv` applied to `x` (B, C, H, W). A 1x1 convolution (stride 1, no padding, one group) on
// channels-last input runs as one GEMM over the B*H*W pixels, and its output is channels-last
// too: oneDNN's 1x1 convolution in that layout ran at a fifth of the GEMM's speed on the
// full-size neck and mask head (223 ms against about 45 for 288x288x256). Any other
// convolution or layout runs as conv->forward(x).
torch::Tensor pointwise_conv(const torch::nn::Conv2d &conv, const torch::Tensor &x);

} // namespace sam3
