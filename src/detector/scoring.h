// Query classification by dot product with the pooled prompt (transformers'
// Sam3DotProductScoring, facebookresearch/sam3 DotProductScoring).
#pragma once

#include "common/layers.h"

#include "detector/detr_decoder.h"
#include "model/config.h"

#include <torch/torch.h>

namespace sam3 {

// Mean of the valid tokens (B,T,C) -> (B,C); prompt_mask (B,T) bool, true = valid.
torch::Tensor masked_mean_pool(const torch::Tensor &tokens, const torch::Tensor &prompt_mask);

class DotProductScoringImpl : public torch::nn::Module {
public:
  // Sized by the decoder config, as transformers does: projection width = hidden size,
  // text MLP width = the decoder's intermediate size.
  explicit DotProductScoringImpl(const DetrDecoderConfig &config);

  // queries (…,B,Q,C) (one or more decoder layers), prompt (B,T,C), prompt_mask (B,T) bool
  // -> logits (…,B,Q,1), scaled by 1/sqrt(C) and clamped to ±12.
  torch::Tensor forward(const torch::Tensor &queries, const torch::Tensor &prompt,
                        const torch::Tensor &prompt_mask);

  DecoderMlp text_mlp{nullptr};
  torch::nn::LayerNorm text_mlp_out_norm{nullptr};
  Linear text_proj{nullptr}, query_proj{nullptr};

private:
  double scale_;
};
TORCH_MODULE(DotProductScoring);

} // namespace sam3
