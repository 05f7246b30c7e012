#include "common/pointwise_conv.h"

namespace sam3 {

torch::Tensor pointwise_conv(const torch::nn::Conv2d &conv, const torch::Tensor &x) {
  const auto &o = conv->options;
  const auto one = [](const torch::ExpandingArray<2> &a) { return a->at(0) == 1 && a->at(1) == 1; };
  const bool no_padding = std::holds_alternative<torch::ExpandingArray<2>>(o.padding()) &&
                          std::get<torch::ExpandingArray<2>>(o.padding())->at(0) == 0 &&
                          std::get<torch::ExpandingArray<2>>(o.padding())->at(1) == 0;
  if (x.dim() != 4 || !one(o.kernel_size()) || !one(o.stride()) || !one(o.dilation()) ||
      !no_padding || o.groups() != 1 || !x.is_contiguous(at::MemoryFormat::ChannelsLast))
    return conv.ptr()->forward(x);
  const auto &bias = conv->bias;
  return at::linear(x.permute({0, 2, 3, 1}), conv->weight.flatten(1),
                    bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt)
      .permute({0, 3, 1, 2});
}

} // namespace sam3
