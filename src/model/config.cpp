#include "model/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

namespace sam3 {

bool VitConfig::is_global(int64_t layer) const {
  return std::find(global_attn_indexes.begin(), global_attn_indexes.end(), layer) !=
         global_attn_indexes.end();
}

namespace {

// ordered_json keeps the file's key order, so the tracker sub-config is passed on as written
// and to_json emits keys in the order transformers does.
using json = nlohmann::ordered_json;

// The CLIP tokenizer pads and truncates every prompt to this many tokens; the text
// encoder's position table must have exactly one row per token.
constexpr int64_t kTextContextLength = 32;

std::string type_name(const json &v) {
  if (v.is_number_float())
    return "number " + v.dump();
  if (v.is_number())
    return "integer " + v.dump();
  return std::string(v.type_name()) + (v.is_primitive() && !v.is_null() ? " " + v.dump() : "");
}

// Reads the fields of one JSON object, naming every bad value by its full key path.
class Reader {
public:
  Reader(const json &object, std::string path, const std::string &source)
      : object_(object), path_(std::move(path)), source_(source) {}

  void read(const char *key, int64_t &out) const {
    if (const json *v = find(key)) {
      if (v->is_number_unsigned() &&
          v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(key, "is out of range: " + v->dump());
      if (!v->is_number_integer())
        fail(key, "must be an integer, got " + type_name(*v));
      out = v->get<int64_t>();
    }
  }

  void read(const char *key, double &out) const {
    if (const json *v = find(key)) {
      if (!v->is_number())
        fail(key, "must be a number, got " + type_name(*v));
      out = v->get<double>();
    }
  }

  void read(const char *key, bool &out) const {
    if (const json *v = find(key)) {
      if (!v->is_boolean())
        fail(key, "must be true or false, got " + type_name(*v));
      out = v->get<bool>();
    }
  }

  void read(const char *key, std::string &out) const {
    if (const json *v = find(key)) {
      if (!v->is_string())
        fail(key, "must be a string, got " + type_name(*v));
      out = v->get<std::string>();
    }
  }

  // transformers fills these lists in when they are null, so null keeps the default.
  void read(const char *key, std::vector<int64_t> &out) const {
    if (const json *v = find_nullable(key))
      out = int_list(key, *v);
  }

  void read(const char *key, std::vector<double> &out) const {
    if (const json *v = find_nullable(key)) {
      if (!v->is_array())
        fail(key, "must be a list of numbers, got " + type_name(*v));
      out.clear();
      for (const json &e : *v) {
        if (!e.is_number())
          fail(key, "must be a list of numbers, got an element " + type_name(e));
        out.push_back(e.get<double>());
      }
    }
  }

  void read(const char *key, std::vector<std::vector<int64_t>> &out) const {
    if (const json *v = find_nullable(key)) {
      if (!v->is_array())
        fail(key, "must be a list of [height, width] pairs, got " + type_name(*v));
      out.clear();
      for (const json &e : *v) {
        std::vector<int64_t> pair = int_list(key, e);
        if (pair.size() != 2)
          fail(key, "must be a list of [height, width] pairs, got an element " + e.dump());
        out.push_back(pair);
      }
    }
  }

  // Image and patch sizes may be written as n or [n, n] (transformers accepts both); the
  // model here is square.
  void read_square(const char *key, int64_t &out) const {
    const json *v = find(key);
    if (v == nullptr)
      return;
    if (v->is_array()) {
      const std::vector<int64_t> hw = int_list(key, *v);
      if (hw.size() != 2 || hw[0] != hw[1])
        fail(key, "must be an integer or a square [n, n] pair, got " + v->dump());
      out = hw[0];
      return;
    }
    read(key, out);
  }

  // A sub-config; absent or null means "all defaults".
  std::optional<Reader> child(const char *key) const {
    const json *v = find_nullable(key);
    if (v == nullptr)
      return std::nullopt;
    if (!v->is_object())
      fail(key, "must be a JSON object, got " + type_name(*v));
    return Reader(*v, key_path(key), source_);
  }

  const json *find_nullable(const char *key) const {
    const auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  [[noreturn]] void fail(const char *key, const std::string &problem) const {
    throw ConfigError(source_ + ": " + key_path(key) + " " + problem);
  }

private:
  const json *find(const char *key) const {
    const auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }

  std::string key_path(const char *key) const { return path_.empty() ? key : path_ + "." + key; }

  std::vector<int64_t> int_list(const char *key, const json &v) const {
    if (!v.is_array())
      fail(key, "must be a list of integers, got " + type_name(v));
    std::vector<int64_t> out;
    for (const json &e : v) {
      if (!e.is_number_integer() ||
          (e.is_number_unsigned() &&
           e.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())))
        fail(key, "must be a list of integers, got an element " + type_name(e));
      out.push_back(e.get<int64_t>());
    }
    return out;
  }

  const json &object_;
  std::string path_;
  const std::string &source_;
};

void read_vit(const Reader &r, VitConfig &c) {
  r.read("hidden_size", c.hidden_size);
  r.read("intermediate_size", c.intermediate_size);
  r.read("num_hidden_layers", c.num_hidden_layers);
  r.read("num_attention_heads", c.num_attention_heads);
  r.read("num_channels", c.num_channels);
  r.read_square("image_size", c.image_size);
  r.read_square("patch_size", c.patch_size);
  r.read("hidden_act", c.hidden_act);
  r.read("layer_norm_eps", c.layer_norm_eps);
  r.read("rope_theta", c.rope_theta);
  r.read("window_size", c.window_size);
  r.read("global_attn_indexes", c.global_attn_indexes);
  r.read_square("pretrain_image_size", c.pretrain_image_size);
}

void read_vision(const Reader &r, VisionConfig &c) {
  if (auto backbone = r.child("backbone_config"))
    read_vit(*backbone, c.backbone);
  r.read("fpn_hidden_size", c.fpn_hidden_size);
  r.read("backbone_feature_sizes", c.backbone_feature_sizes);
  r.read("scale_factors", c.scale_factors);
}

void read_text(const Reader &r, TextConfig &c) {
  r.read("vocab_size", c.vocab_size);
  r.read("hidden_size", c.hidden_size);
  r.read("intermediate_size", c.intermediate_size);
  r.read("projection_dim", c.projection_dim);
  r.read("num_hidden_layers", c.num_hidden_layers);
  r.read("num_attention_heads", c.num_attention_heads);
  r.read("max_position_embeddings", c.max_position_embeddings);
  r.read("hidden_act", c.hidden_act);
  r.read("layer_norm_eps", c.layer_norm_eps);
  r.read("bos_token_id", c.bos_token_id);
  r.read("eos_token_id", c.eos_token_id);
}

void read_geometry(const Reader &r, GeometryEncoderConfig &c) {
  r.read("hidden_size", c.hidden_size);
  r.read("num_layers", c.num_layers);
  r.read("num_attention_heads", c.num_attention_heads);
  r.read("intermediate_size", c.intermediate_size);
  r.read("hidden_act", c.hidden_act);
  r.read("layer_norm_eps", c.layer_norm_eps);
  r.read("roi_size", c.roi_size);
}

void read_detr_encoder(const Reader &r, DetrEncoderConfig &c) {
  r.read("hidden_size", c.hidden_size);
  r.read("num_layers", c.num_layers);
  r.read("num_attention_heads", c.num_attention_heads);
  r.read("intermediate_size", c.intermediate_size);
  r.read("hidden_act", c.hidden_act);
  r.read("layer_norm_eps", c.layer_norm_eps);
}

void read_detr_decoder(const Reader &r, DetrDecoderConfig &c) {
  r.read("hidden_size", c.hidden_size);
  r.read("num_layers", c.num_layers);
  r.read("num_queries", c.num_queries);
  r.read("num_attention_heads", c.num_attention_heads);
  r.read("intermediate_size", c.intermediate_size);
  r.read("hidden_act", c.hidden_act);
  r.read("layer_norm_eps", c.layer_norm_eps);
}

void read_mask_decoder(const Reader &r, MaskDecoderConfig &c) {
  r.read("hidden_size", c.hidden_size);
  r.read("num_upsampling_stages", c.num_upsampling_stages);
  r.read("num_attention_heads", c.num_attention_heads);
  r.read("layer_norm_eps", c.layer_norm_eps);
}

void read_detector(const Reader &r, DetectorConfig &c) {
  if (auto sub = r.child("vision_config"))
    read_vision(*sub, c.vision);
  if (auto sub = r.child("text_config"))
    read_text(*sub, c.text);
  if (auto sub = r.child("geometry_encoder_config"))
    read_geometry(*sub, c.geometry_encoder);
  if (auto sub = r.child("detr_encoder_config"))
    read_detr_encoder(*sub, c.detr_encoder);
  if (auto sub = r.child("detr_decoder_config"))
    read_detr_decoder(*sub, c.detr_decoder);
  if (auto sub = r.child("mask_decoder_config"))
    read_mask_decoder(*sub, c.mask_decoder);
}

void read_video(const Reader &r, VideoConfig &c) {
  r.read("low_res_mask_size", c.low_res_mask_size);
  r.read("score_threshold_detection", c.score_threshold_detection);
  r.read("det_nms_thresh", c.det_nms_thresh);
  r.read("assoc_iou_thresh", c.assoc_iou_thresh);
  r.read("trk_assoc_iou_thresh", c.trk_assoc_iou_thresh);
  r.read("new_det_thresh", c.new_det_thresh);
  r.read("recondition_on_trk_masks", c.recondition_on_trk_masks);
  r.read("hotstart_delay", c.hotstart_delay);
  r.read("hotstart_unmatch_thresh", c.hotstart_unmatch_thresh);
  r.read("hotstart_dup_thresh", c.hotstart_dup_thresh);
  r.read("suppress_unmatched_only_within_hotstart", c.suppress_unmatched_only_within_hotstart);
  r.read("init_trk_keep_alive", c.init_trk_keep_alive);
  r.read("max_trk_keep_alive", c.max_trk_keep_alive);
  r.read("min_trk_keep_alive", c.min_trk_keep_alive);
  r.read("suppress_overlapping_based_on_recent_occlusion_threshold",
         c.suppress_overlapping_based_on_recent_occlusion_threshold);
  r.read("decrease_trk_keep_alive_for_empty_masklets",
         c.decrease_trk_keep_alive_for_empty_masklets);
  r.read("fill_hole_area", c.fill_hole_area);
  r.read("max_num_objects", c.max_num_objects);
  r.read("recondition_every_nth_frame", c.recondition_every_nth_frame);
  r.read("high_conf_thresh", c.high_conf_thresh);
  r.read("high_iou_thresh", c.high_iou_thresh);
}

void read_tracker(const Reader &r, TrackerConfig &c) {
  // transformers keeps the image size in the tracker's vision_config and mirrors it into
  // the prompt encoder; either place (or a top-level image_size) sets it.
  if (auto vision = r.child("vision_config")) {
    if (auto backbone = vision->child("backbone_config")) {
      backbone->read_square("image_size", c.image_size);
      backbone->read_square("patch_size", c.prompt_encoder.patch_size);
    }
    vision->read_square("image_size", c.image_size);
  }
  c.prompt_encoder.image_size = c.image_size;
  if (auto p = r.child("prompt_encoder_config")) {
    p->read("hidden_size", c.prompt_encoder.hidden_size);
    p->read_square("image_size", c.prompt_encoder.image_size);
    p->read_square("patch_size", c.prompt_encoder.patch_size);
    p->read("mask_input_channels", c.prompt_encoder.mask_input_channels);
    p->read("num_point_embeddings", c.prompt_encoder.num_point_embeddings);
    p->read("hidden_act", c.prompt_encoder.hidden_act);
    p->read("layer_norm_eps", c.prompt_encoder.layer_norm_eps);
    p->read("scale", c.prompt_encoder.scale);
    c.image_size = c.prompt_encoder.image_size;
  }
  r.read_square("image_size", c.image_size);
  c.prompt_encoder.image_size = c.image_size;
  if (auto m = r.child("mask_decoder_config")) {
    TrackerMaskDecoderConfig &d = c.mask_decoder;
    m->read("hidden_size", d.hidden_size);
    m->read("hidden_act", d.hidden_act);
    m->read("mlp_dim", d.mlp_dim);
    m->read("num_hidden_layers", d.num_hidden_layers);
    m->read("num_attention_heads", d.num_attention_heads);
    m->read("attention_downsample_rate", d.attention_downsample_rate);
    m->read("num_multimask_outputs", d.num_multimask_outputs);
    m->read("iou_head_depth", d.iou_head_depth);
    m->read("iou_head_hidden_dim", d.iou_head_hidden_dim);
    m->read("dynamic_multimask_via_stability", d.dynamic_multimask_via_stability);
    m->read("dynamic_multimask_stability_delta", d.dynamic_multimask_stability_delta);
    m->read("dynamic_multimask_stability_thresh", d.dynamic_multimask_stability_thresh);
  }
  r.read("num_maskmem", c.num_maskmem);
  r.read("sigmoid_scale_for_mem_enc", c.sigmoid_scale_for_mem_enc);
  r.read("sigmoid_bias_for_mem_enc", c.sigmoid_bias_for_mem_enc);
  r.read("enable_occlusion_spatial_embedding", c.enable_occlusion_spatial_embedding);
  r.read("multimask_output_in_sam", c.multimask_output_in_sam);
  r.read("multimask_min_pt_num", c.multimask_min_pt_num);
  r.read("multimask_max_pt_num", c.multimask_max_pt_num);
  r.read("multimask_output_for_tracking", c.multimask_output_for_tracking);
  r.read("max_object_pointers_in_encoder", c.max_object_pointers_in_encoder);
  r.read("max_cond_frame_num", c.max_cond_frame_num);
  r.read("enable_temporal_pos_encoding_for_object_pointers",
         c.enable_temporal_pos_encoding_for_object_pointers);
  r.read("memory_attention_hidden_size", c.memory_attention_hidden_size);
  r.read("memory_attention_num_layers", c.memory_attention_num_layers);
  r.read("memory_attention_num_attention_heads", c.memory_attention_num_attention_heads);
  r.read("memory_attention_downsample_rate", c.memory_attention_downsample_rate);
  r.read("memory_attention_feed_forward_hidden_size", c.memory_attention_feed_forward_hidden_size);
  r.read("memory_attention_feed_forward_hidden_act", c.memory_attention_feed_forward_hidden_act);
  r.read("memory_attention_rope_feat_sizes", c.memory_attention_rope_feat_sizes);
  r.read("memory_attention_rope_theta", c.memory_attention_rope_theta);
  if (auto rope = r.child("rope_parameters"))
    rope->read("rope_theta", c.memory_attention_rope_theta);
  r.read("memory_encoder_hidden_size", c.memory_encoder_hidden_size);
  r.read("memory_encoder_output_channels", c.memory_encoder_output_channels);
  r.read("mask_downsampler_embed_dim", c.mask_downsampler_embed_dim);
  r.read("mask_downsampler_kernel_size", c.mask_downsampler_kernel_size);
  r.read("mask_downsampler_stride", c.mask_downsampler_stride);
  r.read("mask_downsampler_padding", c.mask_downsampler_padding);
  r.read("mask_downsampler_total_stride", c.mask_downsampler_total_stride);
  r.read("mask_downsampler_hidden_act", c.mask_downsampler_hidden_act);
  r.read("memory_fuser_num_layers", c.memory_fuser_num_layers);
  r.read("memory_fuser_embed_dim", c.memory_fuser_embed_dim);
  r.read("memory_fuser_intermediate_dim", c.memory_fuser_intermediate_dim);
  r.read("memory_fuser_kernel_size", c.memory_fuser_kernel_size);
  r.read("memory_fuser_padding", c.memory_fuser_padding);
  r.read("memory_fuser_layer_scale_init_value", c.memory_fuser_layer_scale_init_value);
  r.read("memory_fuser_hidden_act", c.memory_fuser_hidden_act);
}

json vit_json(const VitConfig &c) {
  return {{"model_type", "sam3_vit_model"},
          {"hidden_size", c.hidden_size},
          {"intermediate_size", c.intermediate_size},
          {"num_hidden_layers", c.num_hidden_layers},
          {"num_attention_heads", c.num_attention_heads},
          {"num_channels", c.num_channels},
          {"image_size", c.image_size},
          {"patch_size", c.patch_size},
          {"hidden_act", c.hidden_act},
          {"layer_norm_eps", c.layer_norm_eps},
          {"rope_theta", c.rope_theta},
          {"window_size", c.window_size},
          {"global_attn_indexes", c.global_attn_indexes},
          {"pretrain_image_size", c.pretrain_image_size}};
}

json vision_json(const VisionConfig &c) {
  return {{"model_type", "sam3_vision_model"},
          {"backbone_config", vit_json(c.backbone)},
          {"fpn_hidden_size", c.fpn_hidden_size},
          {"backbone_feature_sizes", c.backbone_feature_sizes},
          {"scale_factors", c.scale_factors}};
}

json detector_json(const DetectorConfig &c) {
  const TextConfig &t = c.text;
  const GeometryEncoderConfig &g = c.geometry_encoder;
  const DetrEncoderConfig &e = c.detr_encoder;
  const DetrDecoderConfig &d = c.detr_decoder;
  const MaskDecoderConfig &m = c.mask_decoder;
  return {{"model_type", "sam3"},
          {"vision_config", vision_json(c.vision)},
          {"text_config",
           {{"model_type", "clip_text_model"},
            {"vocab_size", t.vocab_size},
            {"hidden_size", t.hidden_size},
            {"intermediate_size", t.intermediate_size},
            {"projection_dim", t.projection_dim},
            {"num_hidden_layers", t.num_hidden_layers},
            {"num_attention_heads", t.num_attention_heads},
            {"max_position_embeddings", t.max_position_embeddings},
            {"hidden_act", t.hidden_act},
            {"layer_norm_eps", t.layer_norm_eps},
            {"bos_token_id", t.bos_token_id},
            {"eos_token_id", t.eos_token_id}}},
          {"geometry_encoder_config",
           {{"model_type", "sam3_geometry_encoder"},
            {"hidden_size", g.hidden_size},
            {"num_layers", g.num_layers},
            {"num_attention_heads", g.num_attention_heads},
            {"intermediate_size", g.intermediate_size},
            {"hidden_act", g.hidden_act},
            {"layer_norm_eps", g.layer_norm_eps},
            {"roi_size", g.roi_size}}},
          {"detr_encoder_config",
           {{"model_type", "sam3_detr_encoder"},
            {"hidden_size", e.hidden_size},
            {"num_layers", e.num_layers},
            {"num_attention_heads", e.num_attention_heads},
            {"intermediate_size", e.intermediate_size},
            {"hidden_act", e.hidden_act},
            {"layer_norm_eps", e.layer_norm_eps}}},
          {"detr_decoder_config",
           {{"model_type", "sam3_detr_decoder"},
            {"hidden_size", d.hidden_size},
            {"num_layers", d.num_layers},
            {"num_queries", d.num_queries},
            {"num_attention_heads", d.num_attention_heads},
            {"intermediate_size", d.intermediate_size},
            {"hidden_act", d.hidden_act},
            {"layer_norm_eps", d.layer_norm_eps}}},
          {"mask_decoder_config",
           {{"model_type", "sam3_mask_decoder"},
            {"hidden_size", m.hidden_size},
            {"num_upsampling_stages", m.num_upsampling_stages},
            {"num_attention_heads", m.num_attention_heads},
            {"layer_norm_eps", m.layer_norm_eps}}}};
}

json tracker_json(const TrackerConfig &c, const DetectorConfig &detector) {
  const TrackerPromptEncoderConfig &p = c.prompt_encoder;
  const TrackerMaskDecoderConfig &m = c.mask_decoder;
  // transformers rebuilds the tracker's (unused) vision_config from this; the release's
  // tracker shares the detector's backbone, so its sizes are written.
  json vision = vision_json(detector.vision);
  return {
      {"model_type", "sam3_tracker_video"},
      {"image_size", c.image_size},
      {"vision_config", vision},
      {"prompt_encoder_config",
       {{"hidden_size", p.hidden_size},
        {"image_size", p.image_size},
        {"patch_size", p.patch_size},
        {"mask_input_channels", p.mask_input_channels},
        {"num_point_embeddings", p.num_point_embeddings},
        {"hidden_act", p.hidden_act},
        {"layer_norm_eps", p.layer_norm_eps},
        // transformers types this field as an int and rejects the config for 1.0.
        {"scale", p.scale == std::floor(p.scale) ? nlohmann::json(static_cast<int64_t>(p.scale))
                                                 : nlohmann::json(p.scale)}}},
      {"mask_decoder_config",
       {{"hidden_size", m.hidden_size},
        {"hidden_act", m.hidden_act},
        {"mlp_dim", m.mlp_dim},
        {"num_hidden_layers", m.num_hidden_layers},
        {"num_attention_heads", m.num_attention_heads},
        {"attention_downsample_rate", m.attention_downsample_rate},
        {"num_multimask_outputs", m.num_multimask_outputs},
        {"iou_head_depth", m.iou_head_depth},
        {"iou_head_hidden_dim", m.iou_head_hidden_dim},
        {"dynamic_multimask_via_stability", m.dynamic_multimask_via_stability},
        {"dynamic_multimask_stability_delta", m.dynamic_multimask_stability_delta},
        {"dynamic_multimask_stability_thresh", m.dynamic_multimask_stability_thresh}}},
      {"num_maskmem", c.num_maskmem},
      {"sigmoid_scale_for_mem_enc", c.sigmoid_scale_for_mem_enc},
      {"sigmoid_bias_for_mem_enc", c.sigmoid_bias_for_mem_enc},
      {"enable_occlusion_spatial_embedding", c.enable_occlusion_spatial_embedding},
      {"multimask_output_in_sam", c.multimask_output_in_sam},
      {"multimask_min_pt_num", c.multimask_min_pt_num},
      {"multimask_max_pt_num", c.multimask_max_pt_num},
      {"multimask_output_for_tracking", c.multimask_output_for_tracking},
      {"max_object_pointers_in_encoder", c.max_object_pointers_in_encoder},
      {"max_cond_frame_num", c.max_cond_frame_num},
      {"enable_temporal_pos_encoding_for_object_pointers",
       c.enable_temporal_pos_encoding_for_object_pointers},
      {"memory_attention_hidden_size", c.memory_attention_hidden_size},
      {"memory_attention_num_layers", c.memory_attention_num_layers},
      {"memory_attention_num_attention_heads", c.memory_attention_num_attention_heads},
      {"memory_attention_downsample_rate", c.memory_attention_downsample_rate},
      {"memory_attention_feed_forward_hidden_size", c.memory_attention_feed_forward_hidden_size},
      {"memory_attention_feed_forward_hidden_act", c.memory_attention_feed_forward_hidden_act},
      {"memory_attention_rope_feat_sizes", c.memory_attention_rope_feat_sizes},
      {"rope_parameters",
       {{"rope_type", "default"}, {"rope_theta", c.memory_attention_rope_theta}}},
      {"memory_encoder_hidden_size", c.memory_encoder_hidden_size},
      {"memory_encoder_output_channels", c.memory_encoder_output_channels},
      {"mask_downsampler_embed_dim", c.mask_downsampler_embed_dim},
      {"mask_downsampler_kernel_size", c.mask_downsampler_kernel_size},
      {"mask_downsampler_stride", c.mask_downsampler_stride},
      {"mask_downsampler_padding", c.mask_downsampler_padding},
      {"mask_downsampler_total_stride", c.mask_downsampler_total_stride},
      {"mask_downsampler_hidden_act", c.mask_downsampler_hidden_act},
      {"memory_fuser_num_layers", c.memory_fuser_num_layers},
      {"memory_fuser_embed_dim", c.memory_fuser_embed_dim},
      {"memory_fuser_intermediate_dim", c.memory_fuser_intermediate_dim},
      {"memory_fuser_kernel_size", c.memory_fuser_kernel_size},
      {"memory_fuser_padding", c.memory_fuser_padding},
      {"memory_fuser_layer_scale_init_value", c.memory_fuser_layer_scale_init_value},
      {"memory_fuser_hidden_act", c.memory_fuser_hidden_act}};
}

void video_json(const VideoConfig &c, json &out) {
  out["low_res_mask_size"] = c.low_res_mask_size;
  out["score_threshold_detection"] = c.score_threshold_detection;
  out["det_nms_thresh"] = c.det_nms_thresh;
  out["assoc_iou_thresh"] = c.assoc_iou_thresh;
  out["trk_assoc_iou_thresh"] = c.trk_assoc_iou_thresh;
  out["new_det_thresh"] = c.new_det_thresh;
  out["recondition_on_trk_masks"] = c.recondition_on_trk_masks;
  out["hotstart_delay"] = c.hotstart_delay;
  out["hotstart_unmatch_thresh"] = c.hotstart_unmatch_thresh;
  out["hotstart_dup_thresh"] = c.hotstart_dup_thresh;
  out["suppress_unmatched_only_within_hotstart"] = c.suppress_unmatched_only_within_hotstart;
  out["init_trk_keep_alive"] = c.init_trk_keep_alive;
  out["max_trk_keep_alive"] = c.max_trk_keep_alive;
  out["min_trk_keep_alive"] = c.min_trk_keep_alive;
  out["suppress_overlapping_based_on_recent_occlusion_threshold"] =
      c.suppress_overlapping_based_on_recent_occlusion_threshold;
  out["decrease_trk_keep_alive_for_empty_masklets"] = c.decrease_trk_keep_alive_for_empty_masklets;
  out["fill_hole_area"] = c.fill_hole_area;
  out["max_num_objects"] = c.max_num_objects;
  out["recondition_every_nth_frame"] = c.recondition_every_nth_frame;
  out["high_conf_thresh"] = c.high_conf_thresh;
  out["high_iou_thresh"] = c.high_iou_thresh;
}

[[noreturn]] void violated(const std::string &what) {
  throw ConfigError("invalid model config: " + what);
}

void require(bool ok, const std::string &what) {
  if (!ok)
    violated(what);
}

void require_positive(int64_t value, const std::string &name) {
  require(value > 0, name + " must be positive (is " + std::to_string(value) + ")");
}

void require_divisible(int64_t value, int64_t by, const std::string &value_name,
                       const std::string &by_name) {
  require(by > 0 && value % by == 0, value_name + " (" + std::to_string(value) +
                                         ") must be divisible by " + by_name + " (" +
                                         std::to_string(by) + ")");
}

void require_attention(int64_t hidden, int64_t heads, const std::string &prefix) {
  require_positive(hidden, prefix + ".hidden_size");
  require_positive(heads, prefix + ".num_attention_heads");
  require_divisible(hidden, heads, prefix + ".hidden_size", prefix + ".num_attention_heads");
}

void validate_vit(const VitConfig &c) {
  const std::string p = "vision_config.backbone_config";
  require_attention(c.hidden_size, c.num_attention_heads, p);
  for (const auto &[value, name] : {std::pair{c.intermediate_size, "intermediate_size"},
                                    {c.num_hidden_layers, "num_hidden_layers"},
                                    {c.num_channels, "num_channels"},
                                    {c.image_size, "image_size"},
                                    {c.patch_size, "patch_size"},
                                    {c.window_size, "window_size"},
                                    {c.pretrain_image_size, "pretrain_image_size"}})
    require_positive(value, p + "." + name);
  require(c.layer_norm_eps > 0, p + ".layer_norm_eps must be positive");
  require(c.rope_theta > 0, p + ".rope_theta must be positive");
  // Axial RoPE gives each of x and y a quarter of the head's channels as complex pairs.
  require(c.head_dim() % 4 == 0, "ViT head_dim (" + std::to_string(c.head_dim()) +
                                     " = hidden_size / num_attention_heads) must be divisible "
                                     "by 4 for the axial 2-D RoPE");
  require_divisible(c.image_size, c.patch_size, p + ".image_size", p + ".patch_size");
  // The learned position table is a whole pretrain grid; it is tiled (and cropped) onto
  // the image grid, so any grid size works. Likewise a grid that the window does not
  // divide is padded per window, as in the reference, so neither is a constraint here.
  require_divisible(c.pretrain_image_size, c.patch_size, p + ".pretrain_image_size",
                    p + ".patch_size");

  const auto &g = c.global_attn_indexes;
  require(!g.empty(), p + ".global_attn_indexes must not be empty: the ViT output is taken "
                          "at the last global block");
  for (size_t i = 0; i < g.size(); ++i) {
    require(g[i] >= 0 && g[i] < c.num_hidden_layers,
            p + ".global_attn_indexes entry " + std::to_string(g[i]) + " is out of range [0, " +
                std::to_string(c.num_hidden_layers) + ")");
    require(i == 0 || g[i] > g[i - 1], p + ".global_attn_indexes must be strictly increasing");
  }
  require(g.back() == c.num_hidden_layers - 1,
          p + ".global_attn_indexes must end with the last layer (" +
              std::to_string(c.num_hidden_layers - 1) + "): the ViT output is taken there, got " +
              std::to_string(g.back()));
}

void validate_vision(const VisionConfig &c) {
  validate_vit(c.backbone);
  const std::string p = "vision_config";
  const int64_t fpn = c.fpn_hidden_size;
  require_positive(fpn, p + ".fpn_hidden_size");
  // The sine position encoding gives each axis fpn/2 channels as (sin, cos) pairs.
  require_divisible(fpn, 4, p + ".fpn_hidden_size", "4 (sine position encoding)");

  const auto &s = c.scale_factors;
  // The lowest-resolution (last) level is computed but dropped, so one more is needed.
  require(s.size() >= 2, p +
                             ".scale_factors needs at least 2 levels (the last one is "
                             "dropped), got " +
                             std::to_string(s.size()));
  // The x4 level narrows the ViT width to hidden/2 and hidden/4 channels; the RoPE rule
  // (head_dim % 4 == 0) already makes hidden divisible by 4.
  for (size_t i = 0; i < s.size(); ++i) {
    const double f = s[i];
    require(f == 4.0 || f == 2.0 || f == 1.0 || f == 0.5,
            p + ".scale_factors entry " + std::to_string(f) + " is not one of 4, 2, 1, 0.5");
    require(i == 0 || f < s[i - 1], p + ".scale_factors must be in decreasing order (the last, "
                                        "lowest-resolution level is dropped)");
  }

  const int64_t grid = c.backbone.grid();
  const auto &sizes = c.backbone_feature_sizes;
  require(sizes.size() <= s.size(), p + ".backbone_feature_sizes has " +
                                        std::to_string(sizes.size()) + " levels but " + p +
                                        ".scale_factors only " + std::to_string(s.size()));
  for (size_t i = 0; i < sizes.size(); ++i) {
    // Up-sampling is exact; the x0.5 level max-pools, which floors.
    const auto expected = static_cast<int64_t>(std::floor(static_cast<double>(grid) * s[i]));
    require(sizes[i].size() == 2 && sizes[i][0] == expected && sizes[i][1] == expected,
            p + ".backbone_feature_sizes level " + std::to_string(i) + " must be [" +
                std::to_string(expected) + ", " + std::to_string(expected) + "] (grid " +
                std::to_string(grid) + " x scale factor " + std::to_string(s[i]) + ")");
  }
}

void validate_text(const TextConfig &c) {
  const std::string p = "text_config";
  require_attention(c.hidden_size, c.num_attention_heads, p);
  require_positive(c.intermediate_size, p + ".intermediate_size");
  require_positive(c.projection_dim, p + ".projection_dim");
  require_positive(c.num_hidden_layers, p + ".num_hidden_layers");
  require(c.layer_norm_eps > 0, p + ".layer_norm_eps must be positive");
  require(c.max_position_embeddings == kTextContextLength,
          p + ".max_position_embeddings must equal the tokenizer context length (" +
              std::to_string(kTextContextLength) + "), got " +
              std::to_string(c.max_position_embeddings));
  for (const auto &[id, name] :
       {std::pair{c.bos_token_id, "bos_token_id"}, {c.eos_token_id, "eos_token_id"}})
    require(id >= 0 && id < c.vocab_size, p + "." + name + " (" + std::to_string(id) +
                                              ") must lie inside the vocabulary (vocab_size " +
                                              std::to_string(c.vocab_size) + ")");
}

// Every detector block after the neck works on the neck's channels directly.
void require_model_width(int64_t hidden, int64_t fpn, const std::string &prefix) {
  require(hidden == fpn, prefix + ".hidden_size (" + std::to_string(hidden) +
                             ") must equal vision_config.fpn_hidden_size (" + std::to_string(fpn) +
                             ")");
}

} // namespace

void validate(const DetectorConfig &config) {
  validate_vision(config.vision);
  validate_text(config.text);
  const int64_t fpn = config.vision.fpn_hidden_size;

  const GeometryEncoderConfig &g = config.geometry_encoder;
  require_attention(g.hidden_size, g.num_attention_heads, "geometry_encoder_config");
  require_model_width(g.hidden_size, fpn, "geometry_encoder_config");
  require_positive(g.num_layers, "geometry_encoder_config.num_layers");
  require_positive(g.intermediate_size, "geometry_encoder_config.intermediate_size");
  require_positive(g.roi_size, "geometry_encoder_config.roi_size");

  const DetrEncoderConfig &e = config.detr_encoder;
  require_attention(e.hidden_size, e.num_attention_heads, "detr_encoder_config");
  require_model_width(e.hidden_size, fpn, "detr_encoder_config");
  require_positive(e.num_layers, "detr_encoder_config.num_layers");
  require_positive(e.intermediate_size, "detr_encoder_config.intermediate_size");

  const DetrDecoderConfig &d = config.detr_decoder;
  require_attention(d.hidden_size, d.num_attention_heads, "detr_decoder_config");
  require_model_width(d.hidden_size, fpn, "detr_decoder_config");
  require_positive(d.num_layers, "detr_decoder_config.num_layers");
  require_positive(d.num_queries, "detr_decoder_config.num_queries");
  require_positive(d.intermediate_size, "detr_decoder_config.intermediate_size");

  const MaskDecoderConfig &m = config.mask_decoder;
  require_attention(m.hidden_size, m.num_attention_heads, "mask_decoder_config");
  require_model_width(m.hidden_size, fpn, "mask_decoder_config");
  // The pixel decoder normalises with GroupNorm(8 groups).
  require_divisible(m.hidden_size, 8, "mask_decoder_config.hidden_size",
                    "8 (pixel decoder GroupNorm groups)");
  const auto kept_levels = static_cast<int64_t>(config.vision.scale_factors.size()) - 1;
  require(m.num_upsampling_stages >= kept_levels - 1,
          "mask_decoder_config.num_upsampling_stages (" + std::to_string(m.num_upsampling_stages) +
              ") must be at least the number of kept "
              "FPN levels minus one (" +
              std::to_string(kept_levels - 1) + ")");
}

void validate(const TrackerConfig &c, const DetectorConfig &detector) {
  const std::string p = "tracker_config";
  require_positive(c.prompt_encoder.patch_size, p + ".prompt_encoder_config.patch_size");
  require(c.image_size == detector.vision.backbone.image_size &&
              c.prompt_encoder.patch_size == detector.vision.backbone.patch_size,
          p + ": image_size/patch_size (" + std::to_string(c.image_size) + "/" +
              std::to_string(c.prompt_encoder.patch_size) +
              ") must equal the detector's: the tracker reads the detector's ViT features (" +
              std::to_string(detector.vision.backbone.image_size) + "/" +
              std::to_string(detector.vision.backbone.patch_size) + ")");
  // The tracker neck is a copy of the detector's and feeds the SAM heads at three scales.
  require(detector.vision.scale_factors.size() >= 4,
          p + ": the tracker needs four neck levels (x4, x2, x1 and the dropped x0.5)");
  const int64_t hidden = c.prompt_encoder.hidden_size;
  require(hidden == detector.vision.fpn_hidden_size,
          p + ".prompt_encoder_config.hidden_size (" + std::to_string(hidden) +
              ") must equal vision_config.fpn_hidden_size (" +
              std::to_string(detector.vision.fpn_hidden_size) + ")");
  require(c.mask_decoder.hidden_size == hidden && c.memory_attention_hidden_size == hidden &&
              c.memory_encoder_hidden_size == hidden && c.mask_downsampler_embed_dim == hidden &&
              c.memory_fuser_embed_dim == hidden,
          p +
              ": mask_decoder_config.hidden_size, memory_attention_hidden_size, "
              "memory_encoder_hidden_size, mask_downsampler_embed_dim and memory_fuser_embed_dim "
              "must all equal prompt_encoder_config.hidden_size (" +
              std::to_string(hidden) + ")");
  // conv_s0/conv_s1 narrow the x4/x2 levels to hidden/8 and hidden/4 channels.
  require_divisible(hidden, 8, p + ".mask_decoder_config.hidden_size", "8");
  // The two-way transformer's cross attentions work at hidden / attention_downsample_rate.
  require_positive(c.mask_decoder.attention_downsample_rate,
                   p + ".mask_decoder_config.attention_downsample_rate");
  require_divisible(c.mask_decoder.hidden_size, c.mask_decoder.attention_downsample_rate,
                    p + ".mask_decoder_config.hidden_size", "attention_downsample_rate");
  require_attention(c.mask_decoder.hidden_size / c.mask_decoder.attention_downsample_rate,
                    c.mask_decoder.num_attention_heads, p + ".mask_decoder_config");
  require_attention(c.memory_attention_hidden_size, c.memory_attention_num_attention_heads,
                    p + ".memory_attention");
  require_divisible(c.memory_attention_hidden_size / c.memory_attention_num_attention_heads, 4,
                    p + ".memory_attention head size", "4 (2-D RoPE pairs per axis)");
  require_positive(c.memory_encoder_output_channels, p + ".memory_encoder_output_channels");
  require_divisible(hidden, c.memory_encoder_output_channels, p + " hidden size",
                    p + ".memory_encoder_output_channels (object pointers are split into "
                        "memory-sized tokens)");
  require(c.memory_attention_rope_feat_sizes.size() == 2 &&
              c.memory_attention_rope_feat_sizes[0] == c.grid() &&
              c.memory_attention_rope_feat_sizes[1] == c.grid(),
          p + ".memory_attention_rope_feat_sizes must be [" + std::to_string(c.grid()) + ", " +
              std::to_string(c.grid()) + "] (the feature grid)");
  require(c.num_maskmem >= 1, p + ".num_maskmem must be at least 1");
  require(c.max_cond_frame_num >= 1, p + ".max_cond_frame_num must be at least 1");
  require(c.max_object_pointers_in_encoder >= 1,
          p + ".max_object_pointers_in_encoder must be at least 1");
  require_positive(c.mask_downsampler_stride, p + ".mask_downsampler_stride");
  require_positive(c.memory_fuser_num_layers, p + ".memory_fuser_num_layers");
  require_positive(c.memory_attention_num_layers, p + ".memory_attention_num_layers");
  require_positive(c.mask_decoder.num_multimask_outputs,
                   p + ".mask_decoder_config.num_multimask_outputs");
}

void validate(const ModelConfig &config) {
  validate(config.detector);
  if (config.model_type == "sam3_video")
    validate(config.tracker, config.detector);
  const VideoConfig &v = config.video;
  if (v.hotstart_delay > 0) {
    require(v.hotstart_unmatch_thresh <= v.hotstart_delay,
            "hotstart_unmatch_thresh (" + std::to_string(v.hotstart_unmatch_thresh) +
                ") must be <= hotstart_delay (" + std::to_string(v.hotstart_delay) + ")");
    require(v.hotstart_dup_thresh <= v.hotstart_delay,
            "hotstart_dup_thresh (" + std::to_string(v.hotstart_dup_thresh) +
                ") must be <= hotstart_delay (" + std::to_string(v.hotstart_delay) + ")");
  }
}

ModelConfig parse_config(const std::string &json_text, const std::string &source_name) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception &e) {
    throw ConfigError(source_name + ": not valid JSON: " + e.what());
  }
  if (!root.is_object())
    throw ConfigError(source_name + ": the top level must be a JSON object");
  const Reader top(root, "", source_name);

  ModelConfig config;
  // transformers writes model_type into every config.json; a file without one is taken
  // by its shape.
  config.model_type = root.contains("detector_config") ? "sam3_video" : "sam3";
  top.read("model_type", config.model_type);
  if (config.model_type == "sam3") {
    read_detector(top, config.detector);
  } else if (config.model_type == "sam3_video") {
    if (auto detector = top.child("detector_config")) {
      std::string detector_type = "sam3";
      detector->read("model_type", detector_type);
      if (detector_type != "sam3")
        detector->fail("model_type", "must be \"sam3\", got \"" + detector_type + "\"");
      read_detector(*detector, config.detector);
    }
    if (auto tracker = top.child("tracker_config"))
      read_tracker(*tracker, config.tracker);
    read_video(top, config.video);
  } else {
    top.fail("model_type",
             "is \"" + config.model_type + "\"; expected \"sam3\" (image model) or \"sam3_video\"");
  }
  return config;
}

ModelConfig load_config(const std::string &path_to_config_json) {
  std::ifstream in(path_to_config_json, std::ios::binary);
  if (!in)
    throw ConfigError(path_to_config_json + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    throw ConfigError(path_to_config_json + ": read failed");
  return parse_config(text.str(), path_to_config_json);
}

std::string to_json(const ModelConfig &config) {
  json out;
  if (config.model_type == "sam3") {
    out = detector_json(config.detector);
  } else if (config.model_type == "sam3_video") {
    out["model_type"] = "sam3_video";
    out["detector_config"] = detector_json(config.detector);
    out["tracker_config"] = tracker_json(config.tracker, config.detector);
    video_json(config.video, out);
  } else {
    throw ConfigError("to_json: unknown model_type \"" + config.model_type + "\"");
  }
  return out.dump(2) + "\n";
}

} // namespace sam3
