// Model sizes, read from a release's config.json (transformers' Sam3Config, or the
// detector_config inside Sam3VideoConfig). Field names follow transformers so a reader can
// put the JSON beside this file. Defaults are the official SAM 3 model.
#pragma once

#include <cstdint>
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

struct DetectorConfig {
  VisionConfig vision;
  TextConfig text;
  GeometryEncoderConfig geometry_encoder;
  DetrEncoderConfig detr_encoder;
  DetrDecoderConfig detr_decoder;
  MaskDecoderConfig mask_decoder;
};

struct ModelConfig {
  // "sam3" (image model only) or "sam3_video" (detector + tracker wrapper).
  std::string model_type = "sam3_video";
  DetectorConfig detector;
  // The tracker sub-config, kept verbatim as JSON text until the tracker reads it.
  std::string tracker_config_json;
};

} // namespace sam3
