// Transformer building blocks shared by the detector's encoders and decoder (transformers'
// Sam3Attention and Sam3MLP), named as transformers names their parameters.
#pragma once

#include <torch/torch.h>

#include <string>

namespace sam3 {

// What a Linear applies to its output, so that a packed Linear can fuse it into the GEMM.
enum class Activation { kNone, kGelu, kRelu };

// torch::nn::Linear (same parameters, same names) that hands the GEMM 2-D rows whatever the
// input's leading dimensions and layout: at::linear fuses the bias into the GEMM (addmm) only
// for 2-D and contiguous 3-D inputs, and otherwise runs matmul plus a separate bias add (5 % of
// the full-size ViT; bench/compare_detector.py --profile shows it).
//
// On the CPU a Linear can also hold its weight packed once in oneDNN's blocked layout
// (pack_linears_for_cpu): at::linear reorders the weight on every call, which costs a bf16 GEMM
// about a quarter of its time on AMX, and runs the activation as a separate pass over the
// output; the packed product fuses bias and activation (exact GELU, ReLU).
class LinearImpl : public torch::nn::LinearImpl {
public:
  using torch::nn::LinearImpl::LinearImpl;
  LinearImpl(int64_t in_features, int64_t out_features, Activation activation);

  // activation(input W^T + b).
  torch::Tensor forward(const torch::Tensor &input);

  Activation activation() const { return activation_; }
  // Packs the weight (and bias) in `dtype` for oneDNN; forward then uses the pack for inputs of
  // that dtype (and, for bf16, fp32 inputs under CPU bf16 autocast, which would cast them).
  // A pack in the weight's dtype replaces the dense weight (`weight` is left empty; forward
  // unpacks it where the pack cannot serve, such as under autograd). Moving or casting the
  // module unpacks it.
  void pack_for_cpu(c10::ScalarType dtype);
  bool packed() const { return packed_weight_.defined(); }
  // The weight in the usual (out, in) layout, unpacked if the pack replaced it.
  torch::Tensor dense_weight() const;

  using torch::nn::Module::to;
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;

private:
  torch::Tensor packed_forward(const torch::Tensor &rows) const;
  void restore_dense_weight();

  Activation activation_ = Activation::kNone;
  torch::Tensor packed_weight_;
  torch::Tensor packed_bias_;
  bool dense_released_ = false;
};
TORCH_MODULE(Linear);

// Packs, for inference on the CPU, the Linears under `root` whose GEMM the pack speeds up when
// the model computes in `compute_dtype`: all of them in bf16 (the pack in bf16 also for fp32
// weights run under bf16 autocast), only those with a fused activation in fp32 (MKL's sgemm is
// as fast as oneDNN's there; the fusion saves a pass over the output). Nothing in other dtypes
// or without oneDNN. Returns the number packed.
int64_t pack_linears_for_cpu(torch::nn::Module &root, c10::ScalarType compute_dtype);

// Whether this LibTorch and CPU can pack products in `dtype` (oneDNN; bf16 also needs AVX-512
// or AVX-NE-CONVERT).
bool can_pack_for_cpu(c10::ScalarType dtype);

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
};
TORCH_MODULE(FeedForward);

} // namespace sam3
