#include "detector/scoring.h"

#include <cmath>

namespace sam3 {

namespace {
constexpr double kLogitClamp = 12.0;
}

torch::Tensor masked_mean_pool(const torch::Tensor &tokens, const torch::Tensor &prompt_mask) {
  prompt_attend_mask(tokens, prompt_mask);
  auto valid = prompt_mask.to(tokens.scalar_type()).unsqueeze(-1);
  auto count = valid.sum(1).clamp_min(1.0);
  return (tokens * valid).sum(1) / count;
}

DotProductScoringImpl::DotProductScoringImpl(const DetrDecoderConfig &config)
    : scale_(1.0 / std::sqrt(static_cast<double>(config.hidden_size))) {
  const auto C = config.hidden_size;
  text_mlp = register_module("text_mlp", DecoderMlp(C, config.intermediate_size, C, 2));
  text_mlp_out_norm = register_module(
      "text_mlp_out_norm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({C}).eps(kDetectorLayerNormEps)));
  text_proj = register_module("text_proj", Linear(C, C));
  query_proj = register_module("query_proj", Linear(C, C));
}

torch::Tensor DotProductScoringImpl::forward(const torch::Tensor &queries,
                                             const torch::Tensor &prompt,
                                             const torch::Tensor &prompt_mask) {
  const auto C = query_proj->options.in_features();
  TORCH_CHECK(prompt.dim() == 3 && prompt.size(2) == C, "scoring: prompt must be (B,T,", C,
              "), got ", prompt.sizes());
  TORCH_CHECK(queries.dim() >= 3 && queries.size(-1) == C && queries.size(-3) == prompt.size(0),
              "scoring: queries must be (...,B,Q,", C, ") with B=", prompt.size(0), ", got ",
              queries.sizes());
  auto text = text_mlp_out_norm(text_mlp(prompt) + prompt);
  auto pooled = text_proj(masked_mean_pool(text, prompt_mask)); // (B,C)
  auto scores = torch::matmul(query_proj(queries), pooled.unsqueeze(-1)) * scale_;
  return scores.clamp(-kLogitClamp, kLogitClamp);
}

} // namespace sam3
