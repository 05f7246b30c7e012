#include "tracker/tracker_model.h"

#include <cmath>
#include <string>

namespace sam3 {
namespace {

// The reference's get_1d_sine_pe: positions (K,) -> (K, dim), sines then cosines.
torch::Tensor sine_encoding_1d(const torch::Tensor &positions, int64_t dim) {
  const auto half = dim / 2;
  auto dim_t = torch::arange(half, positions.options().dtype(torch::kFloat32));
  dim_t = torch::pow(10000.0, 2 * torch::floor_divide(dim_t, 2) / static_cast<double>(half));
  const auto embed = positions.to(torch::kFloat32).unsqueeze(-1) / dim_t;
  return torch::cat({embed.sin(), embed.cos()}, -1);
}

void check_features(const torch::Tensor &features, int64_t channels, int64_t grid,
                    const char *what) {
  TORCH_CHECK(features.defined() && features.dim() == 4 && features.size(1) == channels &&
                  features.size(2) == grid && features.size(3) == grid,
              "tracker: ", what, " must be shaped (N, ", channels, ", ", grid, ", ", grid,
              "), got ", features.defined() ? features.sizes() : c10::IntArrayRef{});
}

} // namespace

TrackerModelImpl::TrackerModelImpl(const TrackerConfig &config) : config_(config) {
  const auto hidden = config.prompt_encoder.hidden_size;
  const auto mem = config.memory_encoder_output_channels;
  TORCH_CHECK(config.num_maskmem >= 1, "tracker: num_maskmem must be at least 1, got ",
              config.num_maskmem);
  TORCH_CHECK(mem > 0 && hidden % mem == 0, "tracker: the memory width ", mem,
              " must divide the hidden size ", hidden, " (object pointers are split into ",
              "memory-width tokens)");
  TORCH_CHECK(config.mask_decoder.hidden_size == hidden, "tracker: the mask decoder width ",
              config.mask_decoder.hidden_size, " differs from the prompt encoder width ", hidden);
  TORCH_CHECK(config.max_object_pointers_in_encoder >= 2,
              "tracker: max_object_pointers_in_encoder must be at least 2, got ",
              config.max_object_pointers_in_encoder);

  shared_image_embedding =
      register_module("shared_image_embedding", TrackerPositionalEmbedding(config));
  prompt_encoder = register_module("prompt_encoder", TrackerPromptEncoder(config));
  mask_decoder = register_module("mask_decoder", TrackerMaskDecoder(config));
  no_memory_embedding = register_parameter("no_memory_embedding", torch::zeros({1, 1, hidden}));
  memory_attention = register_module("memory_attention", TrackerMemoryAttention(config));
  memory_encoder = register_module("memory_encoder", TrackerMemoryEncoder(config));
  no_memory_positional_encoding =
      register_parameter("no_memory_positional_encoding", torch::zeros({1, 1, hidden}));
  memory_temporal_positional_encoding = register_parameter(
      "memory_temporal_positional_encoding", torch::zeros({config.num_maskmem, 1, 1, mem}));
  no_object_pointer = register_parameter("no_object_pointer", torch::zeros({1, hidden}));
  mask_downsample = register_module("mask_downsample",
                                    torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 1, 4).stride(4)));
  object_pointer_proj =
      register_module("object_pointer_proj", TrackerFeedForward(hidden, hidden, hidden, 3));
  TORCH_CHECK(config.enable_temporal_pos_encoding_for_object_pointers,
              "tracker: enable_temporal_pos_encoding_for_object_pointers=false is not supported "
              "(every SAM 3 release enables it)");
  temporal_positional_encoding_projection_layer =
      register_module("temporal_positional_encoding_projection_layer", Linear(hidden, mem));
  if (config.enable_occlusion_spatial_embedding)
    occlusion_spatial_embedding_parameter =
        register_parameter("occlusion_spatial_embedding_parameter", torch::zeros({1, mem}));
}

torch::Tensor TrackerModelImpl::features_without_memory(const torch::Tensor &features) const {
  check_features(features, hidden_size(), grid(), "frame features");
  return features + no_memory_embedding.view({1, -1, 1, 1});
}

torch::Tensor TrackerModelImpl::features_with_memory(const torch::Tensor &features,
                                                     const torch::Tensor &features_pos,
                                                     const torch::Tensor &memory,
                                                     const torch::Tensor &memory_pos,
                                                     int64_t num_pointer_tokens) {
  check_features(features, hidden_size(), grid(), "frame features");
  const auto n = features.size(0);
  const auto g = grid();
  TORCH_CHECK(memory.defined() && memory.dim() == 3 && memory.size(0) == n &&
                  memory.size(2) == memory_channels() && memory_pos.defined() &&
                  memory_pos.sizes() == memory.sizes(),
              "tracker: memory and its position encoding must both be shaped (", n, ", M, ",
              memory_channels(), ")");
  const auto current = features.flatten(2).transpose(1, 2);
  const auto current_pos = features_pos.expand_as(features).flatten(2).transpose(1, 2);
  const auto out = memory_attention(current, current_pos, memory, memory_pos, num_pointer_tokens);
  return out.transpose(1, 2).reshape({n, hidden_size(), g, g});
}

std::pair<torch::Tensor, torch::Tensor>
TrackerModelImpl::memory_tokens(const torch::Tensor &maskmem, const torch::Tensor &maskmem_pos,
                                int64_t temporal_position) const {
  check_features(maskmem, memory_channels(), grid(), "memory features");
  TORCH_CHECK(temporal_position >= 0 && temporal_position < config_.num_maskmem,
              "tracker: memory temporal position ", temporal_position, " outside [0, ",
              config_.num_maskmem, ")");
  const auto tokens = maskmem.flatten(2).transpose(1, 2);
  const auto tpos =
      memory_temporal_positional_encoding[config_.num_maskmem - temporal_position - 1].view(
          {1, 1, -1});
  const auto pos = maskmem_pos.flatten(2).transpose(1, 2).expand_as(tokens) + tpos;
  return {tokens, pos};
}

std::pair<torch::Tensor, torch::Tensor>
TrackerModelImpl::pointer_tokens(const torch::Tensor &pointers, const std::vector<int64_t> &offsets,
                                 int64_t max_offset) {
  TORCH_CHECK(pointers.defined() && pointers.dim() == 3 && pointers.size(2) == hidden_size() &&
                  pointers.size(1) == static_cast<int64_t>(offsets.size()),
              "tracker: object pointers must be shaped (N, ", offsets.size(), ", ", hidden_size(),
              ")");
  TORCH_CHECK(max_offset >= 2, "tracker: the pointer offset normaliser must be at least 2");
  const auto n = pointers.size(0);
  const auto k = pointers.size(1);
  const auto splits = hidden_size() / memory_channels();
  const auto positions =
      torch::tensor(offsets,
                    torch::TensorOptions().dtype(torch::kFloat32).device(pointers.device()))
          .div(static_cast<double>(max_offset - 1));
  auto pos = temporal_positional_encoding_projection_layer(
      sine_encoding_1d(positions, hidden_size()).to(pointers.scalar_type()));
  pos = pos.repeat_interleave(splits, 0).unsqueeze(0).expand({n, k * splits, memory_channels()});
  const auto tokens = pointers.reshape({n, k * splits, memory_channels()});
  return {tokens, pos};
}

bool TrackerModelImpl::use_multimask(bool initial_conditioning_frame, int64_t num_points) const {
  return config_.multimask_output_in_sam &&
         (initial_conditioning_frame || config_.multimask_output_for_tracking) &&
         config_.multimask_min_pt_num <= num_points && num_points <= config_.multimask_max_pt_num;
}

TrackerStepOutput TrackerModelImpl::sam_heads(const torch::Tensor &features,
                                              const std::vector<torch::Tensor> &high_res_features,
                                              const TrackerPrompt &prompt,
                                              const torch::Tensor &mask_inputs,
                                              bool multimask_output) {
  check_features(features, hidden_size(), grid(), "frame features");
  TORCH_CHECK(high_res_features.size() == 2, "tracker: the SAM heads need the 2 projected ",
              "high-resolution levels, got ", high_res_features.size());
  const auto n = features.size(0);
  const auto dense_pe = shared_image_embedding->grid(grid()).to(features.scalar_type());
  const auto prompts = prompt_encoder(prompt.points, prompt.labels, mask_inputs, n);
  const auto heads = mask_decoder(features, dense_pe, prompts.first, prompts.second,
                                  multimask_output, high_res_features);

  const auto score = heads.object_score_logits.reshape({n});
  const auto visible = score > 0;
  const auto masks = torch::where(visible.view({n, 1, 1, 1}), heads.masks,
                                  torch::full({}, kNoObjectScore, heads.masks.options()));
  TrackerStepOutput out;
  auto token = heads.sam_tokens.select(1, 0);
  if (multimask_output) {
    const auto best = heads.iou_scores.argmax(-1);
    const auto rows = torch::arange(n, best.options());
    out.low_res_masks = masks.index({rows, best});
    out.iou_scores = heads.iou_scores.index({rows, best});
    if (heads.sam_tokens.size(1) > 1)
      token = heads.sam_tokens.index({rows, best});
  } else {
    out.low_res_masks = masks.select(1, 0);
    out.iou_scores = heads.iou_scores.select(1, 0);
  }
  const auto lambda = visible.to(token.scalar_type()).unsqueeze(-1);
  out.object_pointers = lambda * object_pointer_proj(token) + (1 - lambda) * no_object_pointer;
  out.object_score_logits = score;
  return out;
}

TrackerStepOutput
TrackerModelImpl::mask_as_output(const torch::Tensor &features,
                                 const std::vector<torch::Tensor> &high_res_features,
                                 const torch::Tensor &masks, bool multimask_output) {
  check_features(features, hidden_size(), grid(), "frame features");
  const auto n = features.size(0);
  TORCH_CHECK(masks.defined() && masks.dim() == 4 && masks.size(0) == n && masks.size(1) == 1 &&
                  masks.size(2) == masks.size(3),
              "tracker: input masks must be shaped (", n, ", 1, H, H), got ",
              masks.defined() ? masks.sizes() : c10::IntArrayRef{});
  const auto binary = masks.to(features.scalar_type());
  const auto high_res = binary * 20.0 - 10.0;
  const auto low = 4 * grid();
  const auto to_low = [&](const torch::Tensor &x) {
    namespace F = torch::nn::functional;
    return F::interpolate(x.to(torch::kFloat32), F::InterpolateFuncOptions()
                                                     .size(std::vector<int64_t>{low, low})
                                                     .mode(torch::kBilinear)
                                                     .align_corners(false)
                                                     .antialias(true))
        .to(features.scalar_type());
  };
  // The mask prompt must be 4g: the mask downsampler gives that from 16g; another input size
  // (transformers feeds image_size) is brought there as transformers does.
  auto prompt = mask_downsample(binary);
  if (prompt.size(-1) != low)
    prompt = to_low(prompt);
  TrackerStepOutput out;
  out.low_res_masks = to_low(high_res).select(1, 0);
  out.iou_scores = torch::ones({n}, features.options());
  // The pointer comes from the SAM heads prompted with the mask brought to the low-res grid by
  // the learned mask_downsample, on the raw (memory-free) features.
  const auto heads =
      sam_heads(features, high_res_features, TrackerPrompt{}, prompt, multimask_output);
  const auto visible = binary.flatten(1).gt(0).any(1);
  const auto lambda = visible.to(features.scalar_type()).unsqueeze(-1);
  out.object_score_logits = visible.to(features.scalar_type()) * 20.0 - 10.0;
  out.object_pointers = lambda * heads.object_pointers + (1 - lambda) * no_object_pointer;
  return out;
}

std::pair<torch::Tensor, torch::Tensor>
TrackerModelImpl::encode_memory(const torch::Tensor &features, const torch::Tensor &mask_logits,
                                const torch::Tensor &object_score_logits, bool binarize) {
  TORCH_CHECK(mask_logits.defined() && mask_logits.dim() == 4 && mask_logits.size(1) == 1,
              "tracker: memory masks must be shaped (N, 1, H, W), got ",
              mask_logits.defined() ? mask_logits.sizes() : c10::IntArrayRef{});
  const auto n = mask_logits.size(0);
  check_features(features, hidden_size(), grid(), "frame features");
  TORCH_CHECK(features.size(0) == n || features.size(0) == 1, "tracker: memory features batch ",
              features.size(0), " for ", n, " masks");
  TORCH_CHECK(object_score_logits.defined() && object_score_logits.numel() == n,
              "tracker: need one object-score logit per memory mask (", n, ")");
  const auto probability =
      binarize ? mask_logits.gt(0).to(mask_logits.scalar_type()) : mask_logits.sigmoid();
  const auto mask_for_memory =
      probability * config_.sigmoid_scale_for_mem_enc + config_.sigmoid_bias_for_mem_enc;
  auto encoded =
      memory_encoder(features.expand({n, -1, -1, -1}), mask_for_memory.to(features.scalar_type()));
  auto maskmem = encoded.first;
  if (occlusion_spatial_embedding_parameter.defined()) {
    const auto absent = object_score_logits.reshape({n}).le(0).to(maskmem.scalar_type());
    maskmem = maskmem +
              absent.view({n, 1, 1, 1}) * occlusion_spatial_embedding_parameter.view({1, -1, 1, 1});
  }
  return {maskmem, encoded.second};
}

} // namespace sam3
