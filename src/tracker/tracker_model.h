// The SAM 2-style tracker of SAM 3 (transformers' Sam3TrackerVideoModel without its vision
// encoder, registered as "tracker_model" in a sam3_video release; the original's
// Sam3TrackerBase): its parameters under transformers' names and the pieces of one per-frame
// step -- memory-conditioned features, SAM heads, mask-as-output, memory encoding. Which
// memories a frame reads is the caller's business (tracker/sam2_tracker.h).
#pragma once

#include "common/layers.h"

#include "model/config.h"
#include "tracker/memory_attention.h"
#include "tracker/memory_encoder.h"
#include "tracker/prompt_encoder.h"
#include "tracker/sam_mask_decoder.h"
#include "tracker/two_way_transformer.h"

#include <torch/torch.h>

#include <utility>
#include <vector>

namespace sam3 {

// Mask logit of an object judged absent (the reference's NO_OBJ_SCORE).
inline constexpr float kNoObjectScore = -1024.f;

// One SAM-heads step for N objects.
struct TrackerStepOutput {
  torch::Tensor low_res_masks;       // (N, 4g, 4g) logits of the chosen mask
  torch::Tensor iou_scores;          // (N,) predicted IoU of the chosen mask
  torch::Tensor object_score_logits; // (N,) > 0: the object is visible
  torch::Tensor object_pointers;     // (N, C)
};

// Point prompts for the SAM heads: points (N,P,2) in pixels of the image_size square and
// labels (N,P) int64 (1 positive, 0 negative, 2/3 box corners); undefined for none.
struct TrackerPrompt {
  torch::Tensor points;
  torch::Tensor labels;
  int64_t num_points() const { return points.defined() ? points.size(1) : 0; }
};

class TrackerModelImpl : public torch::nn::Module {
public:
  explicit TrackerModelImpl(const TrackerConfig &config);

  const TrackerConfig &config() const { return config_; }
  int64_t grid() const { return config_.grid(); }
  int64_t hidden_size() const { return config_.prompt_encoder.hidden_size; }
  int64_t memory_channels() const { return config_.memory_encoder_output_channels; }

  // The features of a frame that reads no memory: features (N,C,g,g) + no_memory_embedding.
  torch::Tensor features_without_memory(const torch::Tensor &features) const;

  // Memory attention: features and features_pos (N,C,g,g) of the current frame; memory and
  // memory_pos (N,M,mem) as memory_tokens() and pointer_tokens() build them, spatial frames
  // first, then `num_pointer_tokens` pointer tokens. Returns (N,C,g,g).
  torch::Tensor features_with_memory(const torch::Tensor &features,
                                     const torch::Tensor &features_pos, const torch::Tensor &memory,
                                     const torch::Tensor &memory_pos, int64_t num_pointer_tokens);

  // One memory frame as attention tokens: maskmem (N,mem,g,g) -> (N,g*g,mem), and its position
  // encoding maskmem_pos (N or 1,mem,g,g) plus the temporal encoding of `temporal_position`
  // (0 for a conditioning frame, 1..num_maskmem-1 for the previous frames, the newest
  // highest) -> (N,g*g,mem).
  std::pair<torch::Tensor, torch::Tensor> memory_tokens(const torch::Tensor &maskmem,
                                                        const torch::Tensor &maskmem_pos,
                                                        int64_t temporal_position) const;

  // Object pointers (N,K,C) from K frames at temporal offsets `offsets` (K) as attention
  // tokens: each pointer split into C/mem tokens (N, K*C/mem, mem), with the projected 1-D
  // sine encoding of offset / (max_offset - 1), the same for a pointer's tokens.
  std::pair<torch::Tensor, torch::Tensor> pointer_tokens(const torch::Tensor &pointers,
                                                         const std::vector<int64_t> &offsets,
                                                         int64_t max_offset);

  // SAM heads on (memory-conditioned) features (N,C,g,g) with the frame's projected
  // high-resolution levels {s0 (N or 1,C/8,4g,4g), s1 (N or 1,C/4,2g,2g)}; mask_inputs
  // (N,1,4g,4g) logits or undefined. Absent objects (score <= 0) get kNoObjectScore masks and
  // the no_object_pointer; with multimask_output the mask with the best predicted IoU is kept.
  TrackerStepOutput sam_heads(const torch::Tensor &features,
                              const std::vector<torch::Tensor> &high_res_features,
                              const TrackerPrompt &prompt, const torch::Tensor &mask_inputs,
                              bool multimask_output);

  // Whether the SAM heads output 3 masks for this many clicks (a box counts as 2) on an
  // initial conditioning frame or a tracked one (the reference's _use_multimask).
  bool use_multimask(bool initial_conditioning_frame, int64_t num_points) const;

  // A mask taken as the prediction (the reference's _use_mask_as_output): masks (N,1,H,H) in
  // [0,1], H = 16g (official) or image_size (transformers); logits +-10, IoU 1, score +-10
  // from non-emptiness, and an object pointer from the SAM heads run on the raw features
  // (N,C,g,g) with the mask as prompt: a single mask (official), or with multimask_output
  // the best of three (transformers).
  TrackerStepOutput mask_as_output(const torch::Tensor &features,
                                   const std::vector<torch::Tensor> &high_res_features,
                                   const torch::Tensor &masks, bool multimask_output = false);

  // Memory of a frame: raw features (N or 1,C,g,g), mask logits (N,1,H,W) (any size; the
  // encoder resizes to 16g), object-score logits (N,). `binarize` maps the masks as (> 0)
  // (prompted frames) instead of sigmoid. Absent objects get the occlusion embedding added.
  // Returns {maskmem (N,mem,g,g), maskmem_pos (N,mem,g,g)}.
  std::pair<torch::Tensor, torch::Tensor> encode_memory(const torch::Tensor &features,
                                                        const torch::Tensor &mask_logits,
                                                        const torch::Tensor &object_score_logits,
                                                        bool binarize);

  TrackerPositionalEmbedding shared_image_embedding{nullptr};
  TrackerPromptEncoder prompt_encoder{nullptr};
  TrackerMaskDecoder mask_decoder{nullptr};
  TrackerMemoryAttention memory_attention{nullptr};
  TrackerMemoryEncoder memory_encoder{nullptr};
  TrackerFeedForward object_pointer_proj{nullptr};
  Linear temporal_positional_encoding_projection_layer{nullptr};
  torch::nn::Conv2d mask_downsample{nullptr};
  torch::Tensor no_memory_embedding;                   // (1, 1, C)
  torch::Tensor no_memory_positional_encoding;         // (1, 1, C), unused by inference
  torch::Tensor memory_temporal_positional_encoding;   // (num_maskmem, 1, 1, mem)
  torch::Tensor no_object_pointer;                     // (1, C)
  torch::Tensor occlusion_spatial_embedding_parameter; // (1, mem) when enabled

private:
  TrackerConfig config_;
};
TORCH_MODULE(TrackerModel);

} // namespace sam3
