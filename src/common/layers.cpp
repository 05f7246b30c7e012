#include "common/layers.h"

#include "common/attention.h"

namespace sam3 {

torch::Tensor LinearImpl::forward(const torch::Tensor &input) {
  if (input.dim() == 2)
    return torch::nn::LinearImpl::forward(input);
  auto sizes = input.sizes().vec();
  sizes.back() = weight.size(0);
  return torch::nn::LinearImpl::forward(input.reshape({-1, input.size(-1)})).view(sizes);
}

ProjectedAttentionImpl::ProjectedAttentionImpl(int64_t hidden_size, int64_t num_heads)
    : num_heads_(num_heads) {
  TORCH_CHECK(num_heads > 0 && hidden_size % num_heads == 0, "attention: hidden size ", hidden_size,
              " is not divisible by ", num_heads, " heads");
  q_proj = register_module("q_proj", Linear(hidden_size, hidden_size));
  k_proj = register_module("k_proj", Linear(hidden_size, hidden_size));
  v_proj = register_module("v_proj", Linear(hidden_size, hidden_size));
  o_proj = register_module("o_proj", Linear(hidden_size, hidden_size));
}

torch::Tensor ProjectedAttentionImpl::forward(const torch::Tensor &query, const torch::Tensor &key,
                                              const torch::Tensor &value,
                                              const c10::optional<torch::Tensor> &mask) {
  auto out = attention(q_proj(query), k_proj(key), v_proj(value), num_heads_, mask);
  return o_proj(out);
}

FeedForwardImpl::FeedForwardImpl(int64_t hidden_size, int64_t intermediate_size,
                                 const std::string &activation) {
  TORCH_CHECK(activation == "relu" || activation == "gelu",
              "feed-forward: unsupported hidden_act '", activation, "' (relu or gelu)");
  gelu_ = activation == "gelu";
  fc1 = register_module("fc1", Linear(hidden_size, intermediate_size));
  fc2 = register_module("fc2", Linear(intermediate_size, hidden_size));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor &x) {
  auto h = fc1(x);
  h = gelu_ ? torch::gelu(h) : torch::relu(h);
  return fc2(h);
}

} // namespace sam3
