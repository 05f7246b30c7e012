#include "common/layers.h"

#include "common/attention.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>

namespace sam3 {

namespace {

torch::Tensor activate(const torch::Tensor &x, Activation activation) {
  switch (activation) {
  case Activation::kGelu:
    return torch::gelu(x);
  case Activation::kRelu:
    return torch::relu(x);
  case Activation::kNone:
    break;
  }
  return x;
}

const char *onednn_attr(Activation activation) {
  switch (activation) {
  case Activation::kGelu:
    return "gelu";
  case Activation::kRelu:
    return "relu";
  case Activation::kNone:
    break;
  }
  return "none";
}

// The oneDNN operators that torch.compile's CPU freezing uses; LibTorch registers them but
// declares them in no public header, so they are reached through the dispatcher.
using LinearPointwise = at::Tensor(const at::Tensor &, const at::Tensor &,
                                   const std::optional<at::Tensor> &, c10::string_view,
                                   c10::List<std::optional<at::Scalar>>,
                                   std::optional<c10::string_view>);

const c10::TypedOperatorHandle<LinearPointwise> &linear_pointwise() {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("mkldnn::_linear_pointwise", "")
                             .typed<LinearPointwise>();
  return op;
}

at::Tensor reorder_linear_weight(const at::Tensor &weight) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("mkldnn::_reorder_linear_weight", "")
                             .typed<at::Tensor(const at::Tensor &, std::optional<int64_t>)>();
  return op.call(weight, std::nullopt);
}

bool onednn_bf16_supported() {
  static const bool supported = [] {
    auto handle = c10::Dispatcher::singleton().findOp({"mkldnn::_is_mkldnn_bf16_supported", ""});
    return handle && handle->typed<bool()>().call();
  }();
  return supported;
}

} // namespace

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, Activation activation)
    : torch::nn::LinearImpl(torch::nn::LinearOptions(in_features, out_features)),
      activation_(activation) {}

torch::Tensor LinearImpl::forward(const torch::Tensor &input) {
  const auto rows = input.dim() == 2 ? input : input.reshape({-1, input.size(-1)});
  auto out = packed_forward(rows);
  if (!out.defined())
    out = activate(torch::nn::functional::linear(rows, dense_weight(), bias), activation_);
  if (input.dim() == 2)
    return out;
  auto sizes = input.sizes().vec();
  sizes.back() = out.size(-1);
  return out.view(sizes);
}

torch::Tensor LinearImpl::packed_forward(const torch::Tensor &rows) const {
  if (!packed_weight_.defined() || !rows.device().is_cpu())
    return {};
  if (torch::GradMode::is_enabled() && (weight.requires_grad() || rows.requires_grad()))
    return {};
  const auto dtype = packed_weight_.scalar_type();
  auto x = rows;
  if (at::autocast::is_autocast_enabled(at::kCPU)) {
    // Under autocast at::linear would compute in the autocast dtype: the pack serves only that.
    if (at::autocast::get_autocast_dtype(at::kCPU) != dtype)
      return {};
    if (x.scalar_type() == at::kFloat)
      x = x.to(dtype);
  }
  if (x.scalar_type() != dtype)
    return {};
  const std::optional<at::Tensor> bias_arg =
      packed_bias_.defined() ? std::optional<at::Tensor>(packed_bias_) : std::nullopt;
  return linear_pointwise().call(x.contiguous(), packed_weight_, bias_arg, onednn_attr(activation_),
                                 c10::List<std::optional<at::Scalar>>(),
                                 std::optional<c10::string_view>("none"));
}

void LinearImpl::pack_for_cpu(c10::ScalarType dtype) {
  TORCH_CHECK(weight.device().is_cpu(), "Linear: only a CPU weight can be packed for oneDNN");
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kBFloat16,
              "Linear: oneDNN packs fp32 or bf16 weights, not ", dtype);
  torch::NoGradGuard no_grad;
  restore_dense_weight();
  packed_weight_ = reorder_linear_weight(weight.detach().to(dtype).contiguous());
  packed_bias_ = bias.defined() ? bias.detach().to(dtype).contiguous() : torch::Tensor();
  // A pack in the weight's own dtype holds the same values: keeping both would double the
  // model's memory (1.5 GB for the full model in bf16).
  if (weight.scalar_type() == dtype) {
    weight.set_data(torch::empty({0}, weight.options()));
    dense_released_ = true;
  }
}

torch::Tensor LinearImpl::dense_weight() const {
  return dense_released_ ? packed_weight_.to_dense() : weight;
}

void LinearImpl::restore_dense_weight() {
  if (dense_released_) {
    torch::NoGradGuard no_grad;
    weight.set_data(packed_weight_.to_dense());
    dense_released_ = false;
  }
  packed_weight_ = packed_bias_ = torch::Tensor();
}

void LinearImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  restore_dense_weight();
  torch::nn::LinearImpl::to(device, dtype, non_blocking);
}

void LinearImpl::to(torch::Dtype dtype, bool non_blocking) {
  restore_dense_weight();
  torch::nn::LinearImpl::to(dtype, non_blocking);
}

void LinearImpl::to(torch::Device device, bool non_blocking) {
  restore_dense_weight();
  torch::nn::LinearImpl::to(device, non_blocking);
}

bool can_pack_for_cpu(c10::ScalarType dtype) {
  if (!at::hasMKLDNN())
    return false;
  return dtype == at::kFloat || (dtype == at::kBFloat16 && onednn_bf16_supported());
}

int64_t pack_linears_for_cpu(torch::nn::Module &root, c10::ScalarType compute_dtype) {
  if (!can_pack_for_cpu(compute_dtype))
    return 0;
  int64_t packed = 0;
  for (const auto &module : root.modules()) {
    auto *linear = dynamic_cast<LinearImpl *>(module.get());
    if (!linear || !linear->weight.device().is_cpu())
      continue;
    if (compute_dtype == at::kFloat && linear->activation() == Activation::kNone)
      continue;
    linear->pack_for_cpu(compute_dtype);
    ++packed;
  }
  return packed;
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
  fc1 =
      register_module("fc1", Linear(hidden_size, intermediate_size,
                                    activation == "gelu" ? Activation::kGelu : Activation::kRelu));
  fc2 = register_module("fc2", Linear(intermediate_size, hidden_size));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor &x) {
  return fc2(fc1(x));
}

} // namespace sam3
