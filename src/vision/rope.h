// Axial 2-D rotary position embedding of the SAM 3 ViT (transformers' Sam3ViTRotaryEmbedding,
// the original's compute_axial_cis + apply_rotary_enc).
#pragma once

#include <torch/torch.h>

namespace sam3 {

// cos/sin of the rotation angle per token and channel, each (end_x * end_y, head_dim) float32.
// Tokens are row-major over an end_x-wide grid. Channels [0, head_dim/2) rotate with the x
// position, [head_dim/2, head_dim) with y; each angle is repeated for the two channels of its
// interleaved pair (2i, 2i+1). `rotation` holds the same angles as one complex64 cos + i sin per
// pair, (end_x * end_y, head_dim / 2): rotating is then one complex product instead of the
// six passes of the cos/sin form, with the same float32 result.
struct RopeTables {
  torch::Tensor cos;
  torch::Tensor sin;
  torch::Tensor rotation;
};

// Positions are multiplied by `scale` before the frequencies: 1 for window blocks (positions
// local to a window), window/grid for global blocks so the full grid spans the same angle range
// as one pretraining window.
RopeTables axial_rope_tables(int64_t head_dim, int64_t end_x, int64_t end_y, double scale,
                             double theta);

// Rotates x, shaped (..., L, head_dim), by the tables; L may be several copies of the table's
// tokens (the tracker's memory frames share one grid). The rotation runs in float32 and the
// result is cast back to x's dtype, as transformers does.
torch::Tensor rotate(const torch::Tensor &x, const RopeTables &tables);

// Rotates q and k, shaped (..., L, head_dim), by the tables (L, head_dim).
std::pair<torch::Tensor, torch::Tensor> apply_rope(const torch::Tensor &q, const torch::Tensor &k,
                                                   const RopeTables &tables);

// Holds one block's tables. They are derived state, not weights: kept as plain members (so they
// are neither parameters nor buffers, and a strict state-dict load never asks for them) and
// moved to the module's device by the `to` overrides. They stay float32 whatever the module's
// dtype, like the original's complex64 table.
class ViTRotaryEmbeddingImpl : public torch::nn::Module {
public:
  ViTRotaryEmbeddingImpl(int64_t head_dim, int64_t end_x, int64_t end_y, double scale,
                         double theta);

  const RopeTables &tables() const { return tables_; }
  double scale() const { return scale_; }

  using torch::nn::Module::to;
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;

private:
  void move_tables(torch::Device device, bool non_blocking);

  RopeTables tables_;
  double scale_;
};
TORCH_MODULE(ViTRotaryEmbedding);

} // namespace sam3
