// Model sizes, read from a release's config.json (transformers' Sam3Config, or the
// detector_config inside Sam3VideoConfig). Field names follow transformers so a reader can
// put the JSON beside this file. Defaults are the official SAM 3 model.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sam3 {

struct VitConfig {
  int64_t hidden_size = 1024;
  int64_t intermediate_size = 4736;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 16;
  int64_t num_channels = 3;
  int64_t image_size = 1008;
  int64_t patch_size = 14;
  std::string hidden_act = "gelu";
  double layer_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  int64_t window_size = 24;
  std::vector<int64_t> global_attn_indexes = {7, 15, 23, 31};
  int64_t pretrain_image_size = 336;

  int64_t grid() const { return image_size / patch_size; }
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  bool is_global(int64_t layer) const;
};

struct VisionConfig {
  VitConfig backbone;
  int64_t fpn_hidden_size = 256;
  std::vector<std::vector<int64_t>> backbone_feature_sizes = {{288, 288}, {144, 144}, {72, 72}};
  std::vector<double> scale_factors = {4.0, 2.0, 1.0, 0.5};
};

// CLIP text model (transformers' CLIPTextConfig as SAM 3 sets it).
struct TextConfig {
  int64_t vocab_size = 49408;
  int64_t hidden_size = 1024;
  int64_t intermediate_size = 4096;
  int64_t projection_dim = 512;
  int64_t num_hidden_layers = 24;
  int64_t num_attention_heads = 16;
  int64_t max_position_embeddings = 32;
  std::string hidden_act = "gelu";
  double layer_norm_eps = 1e-5;
  int64_t bos_token_id = 49406;
  int64_t eos_token_id = 49407;
};

struct GeometryEncoderConfig {
  int64_t hidden_size = 256;
  int64_t num_layers = 3;
  int64_t num_attention_heads = 8;
  int64_t intermediate_size = 2048;
  std::string hidden_act = "relu";
  double layer_norm_eps = 1e-6;
  int64_t roi_size = 7;
};

struct DetrEncoderConfig {
  int64_t hidden_size = 256;
  int64_t num_layers = 6;
  int64_t num_attention_heads = 8;
  int64_t intermediate_size = 2048;
  std::string hidden_act = "relu";
  double layer_norm_eps = 1e-6;
};

struct DetrDecoderConfig {
  int64_t hidden_size = 256;
  int64_t num_layers = 6;
  int64_t num_queries = 200;
  int64_t num_attention_heads = 8;
  int64_t intermediate_size = 2048;
  std::string hidden_act = "relu";
  double layer_norm_eps = 1e-6;
};

struct MaskDecoderConfig {
  int64_t hidden_size = 256;
  int64_t num_upsampling_stages = 3;
  int64_t num_attention_heads = 8;
  double layer_norm_eps = 1e-6;
};

// The places where transformers' Sam3Model departs from the official SAM 3
// (facebookresearch/sam3) in the detector. Not part of config.json: the defaults are the
// official behaviour, which the released weights were trained with; the parity tests switch
// to transformers' (reference_behaviour::transformers()). docs/parity.md has one row each.
struct DetectorBehaviour {
  // Official: Sam3Image._encode_prompt always runs the geometry encoder, and its
  // SequenceGeometryEncoder (add_cls=True) always appends the CLS token, so a text-only prompt
  // is 32 text tokens + 1 image-conditioned CLS. transformers runs the geometry encoder only
  // when boxes are given.
  bool geometry_cls_for_text_only = true;
  // Official: the ViT's nn.LayerNorm keeps PyTorch's eps, 1e-5. transformers uses the config's
  // layer_norm_eps (1e-6 in the release's config.json).
  bool vit_layer_norm_eps_from_config = false;
  // Official: the decoder calls clamp on the presence logit without keeping the result (no
  // clamp). transformers clamps it to [-10, 10].
  bool clamp_presence_logits = false;
};

struct DetectorConfig {
  VisionConfig vision;
  TextConfig text;
  GeometryEncoderConfig geometry_encoder;
  DetrEncoderConfig detr_encoder;
  DetrDecoderConfig detr_decoder;
  MaskDecoderConfig mask_decoder;
  DetectorBehaviour behaviour;
};

// PyTorch's nn.LayerNorm default, which the official ViT keeps.
constexpr double kOfficialVitLayerNormEps = 1e-5;

// Detection-tracking fusion settings of the video model (top level of Sam3VideoConfig).
struct VideoConfig {
  int64_t low_res_mask_size = 288;
  double score_threshold_detection = 0.5;
  double det_nms_thresh = 0.1;
  double assoc_iou_thresh = 0.1;
  double trk_assoc_iou_thresh = 0.5;
  double new_det_thresh = 0.7;
  // transformers' switch (its default true): keep the tracker's own prediction as the
  // reconditioned frame. The official code has none: the detection gives the object pointer,
  // the tracker's mask the memory (false, our default).
  bool recondition_on_trk_masks = false;
  int64_t hotstart_delay = 15;
  int64_t hotstart_unmatch_thresh = 8;
  int64_t hotstart_dup_thresh = 8;
  bool suppress_unmatched_only_within_hotstart = true;
  int64_t init_trk_keep_alive = 30;
  int64_t max_trk_keep_alive = 30;
  int64_t min_trk_keep_alive = -1;
  double suppress_overlapping_based_on_recent_occlusion_threshold = 0.7;
  bool decrease_trk_keep_alive_for_empty_masklets = false;
  int64_t fill_hole_area = 16;
  int64_t max_num_objects = 10000;
  int64_t recondition_every_nth_frame = 16;
  double high_conf_thresh = 0.8;
  double high_iou_thresh = 0.8;
};

// The SAM 2-style tracker (transformers' Sam3TrackerVideoConfig, the "tracker_config" of a
// sam3_video release). Its image features come from the detector's ViT through a second neck.
struct TrackerPromptEncoderConfig {
  int64_t hidden_size = 256;
  int64_t image_size = 1008;
  int64_t patch_size = 14;
  int64_t mask_input_channels = 16;
  int64_t num_point_embeddings = 4;
  std::string hidden_act = "gelu";
  double layer_norm_eps = 1e-6;
  double scale = 1.0;
};

struct TrackerMaskDecoderConfig {
  int64_t hidden_size = 256;
  std::string hidden_act = "gelu";
  int64_t mlp_dim = 2048;
  int64_t num_hidden_layers = 2;
  int64_t num_attention_heads = 8;
  int64_t attention_downsample_rate = 2;
  int64_t num_multimask_outputs = 3;
  int64_t iou_head_depth = 3;
  int64_t iou_head_hidden_dim = 256;
  bool dynamic_multimask_via_stability = true;
  double dynamic_multimask_stability_delta = 0.05;
  double dynamic_multimask_stability_thresh = 0.98;
};

struct TrackerConfig {
  int64_t image_size = 1008;
  TrackerPromptEncoderConfig prompt_encoder;
  TrackerMaskDecoderConfig mask_decoder;
  int64_t num_maskmem = 7;
  double sigmoid_scale_for_mem_enc = 20.0;
  double sigmoid_bias_for_mem_enc = -10.0;
  bool enable_occlusion_spatial_embedding = true;
  bool multimask_output_in_sam = true;
  int64_t multimask_min_pt_num = 0;
  int64_t multimask_max_pt_num = 1;
  bool multimask_output_for_tracking = true;
  int64_t max_object_pointers_in_encoder = 16;
  int64_t max_cond_frame_num = 4;
  bool enable_temporal_pos_encoding_for_object_pointers = true;
  int64_t memory_attention_hidden_size = 256;
  int64_t memory_attention_num_layers = 4;
  int64_t memory_attention_num_attention_heads = 1;
  int64_t memory_attention_downsample_rate = 1;
  int64_t memory_attention_feed_forward_hidden_size = 2048;
  std::string memory_attention_feed_forward_hidden_act = "relu";
  std::vector<int64_t> memory_attention_rope_feat_sizes = {72, 72};
  double memory_attention_rope_theta = 10000.0; // rope_parameters.rope_theta
  int64_t memory_encoder_hidden_size = 256;
  int64_t memory_encoder_output_channels = 64;
  int64_t mask_downsampler_embed_dim = 256;
  int64_t mask_downsampler_kernel_size = 3;
  int64_t mask_downsampler_stride = 2;
  int64_t mask_downsampler_padding = 1;
  int64_t mask_downsampler_total_stride = 16;
  std::string mask_downsampler_hidden_act = "gelu";
  int64_t memory_fuser_num_layers = 2;
  int64_t memory_fuser_embed_dim = 256;
  int64_t memory_fuser_intermediate_dim = 1024;
  int64_t memory_fuser_kernel_size = 7;
  int64_t memory_fuser_padding = 3;
  double memory_fuser_layer_scale_init_value = 1e-6;
  std::string memory_fuser_hidden_act = "gelu";

  // Side of the square image-feature grid the tracker works on (72 for the release).
  int64_t grid() const { return image_size / prompt_encoder.patch_size; }
  // Side of the low-resolution masks (288 for the release).
  int64_t low_res_mask_size() const { return 4 * grid(); }
};

struct ModelConfig {
  // "sam3" (image model only) or "sam3_video" (detector + tracker wrapper).
  std::string model_type = "sam3_video";
  DetectorConfig detector;
  // Meaningful for "sam3_video" only.
  TrackerConfig tracker;
  // Meaningful for "sam3_video" only.
  VideoConfig video;
};

// A config.json that cannot be read, or sizes that do not fit together. Parse errors start
// with the file (source) name and name the key path, e.g.
// "config.json: detector_config.vision_config.backbone_config.hidden_size must be an integer".
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Reads a transformers config.json: the "sam3_video" wrapper or the image-only "sam3" form.
// Missing keys keep the defaults above; unknown keys are ignored. Throws ConfigError.
ModelConfig load_config(const std::string &path_to_config_json);
ModelConfig parse_config(const std::string &json_text, const std::string &source_name);

// Checks that the sizes fit together (the constraints of sam3-reference.md section 10);
// throws ConfigError naming the violated constraint.
void validate(const DetectorConfig &config);
// The tracker's sizes, and that they fit the detector's (image size, neck width).
void validate(const TrackerConfig &tracker, const DetectorConfig &detector);
// The detector plus, for sam3_video, the tracker and the video settings.
void validate(const ModelConfig &config);

// config.json text in the transformers layout, readable by parse_config and by transformers.
std::string to_json(const ModelConfig &config);

} // namespace sam3
