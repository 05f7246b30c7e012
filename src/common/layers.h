// Transformer building blocks shared by the detector's encoders and decoder (transformers'
// Sam3Attention and Sam3MLP), named as transformers names their parameters.
#pragma once

#include <torch/torch.h>

#include <string>

namespace sam3 {

// torch::nn::Linear (same parameters, same names) that hands the GEMM 2-D rows whatever the
// input's leading dimensions and layout: at::linear fuses the bias into the GEMM (addmm) only
// for 2-D and contiguous 3-D inputs, and otherwise runs matmul plus a separate bias add (5 % of
// the full-size ViT; bench/compare_detector.py --profile shows it).
class LinearImpl : public torch::nn::LinearImpl {
public:
  using torch::nn::LinearImpl::LinearImpl;
  torch::Tensor forward(const torch::Tensor &input);
};
TORCH_MODULE(Linear);

// Multi-head attention with its own projections (transformers' Sam3Attention):
// parameters q_proj, k_proj, v_proj, o_proj.
class ProjectedAttentionImpl : public torch::nn::Module {
public:
  ProjectedAttentionImpl(int64_t hidden_size, int64_t num_heads);

  // query (B,Lq,C), key/value (B,Lk,C); mask as sam3::attention takes it (bool "may
  // attend" or additive bias, broadcastable to (B,heads,Lq,Lk)).
  torch::Tensor forward(const torch::Tensor &query, const torch::Tensor &key,
                        const torch::Tensor &value, const c10::optional<torch::Tensor> &mask = {});

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

private:
  int64_t num_heads_;
};
TORCH_MODULE(ProjectedAttention);

// Two-layer feed-forward block (transformers' Sam3MLP): fc1 -> activation -> fc2.
class FeedForwardImpl : public torch::nn::Module {
public:
  FeedForwardImpl(int64_t hidden_size, int64_t intermediate_size, const std::string &activation);

  torch::Tensor forward(const torch::Tensor &x);

  Linear fc1{nullptr}, fc2{nullptr};

private:
  bool gelu_;
};
TORCH_MODULE(FeedForward);

} // namespace sam3
