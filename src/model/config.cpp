#include "model/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <type_traits>
#include <variant>

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

// What validate() holds one member to on its own; constraints between members are checked
// in the validate functions below.
enum class Range {
  any,
  positive,     // > 0
  at_least_one, // >= 1, for counts of things the tracker keeps
};

// How a member is spelled in config.json beyond its JSON type.
enum class Form {
  plain,
  // n or [n, n] on input (transformers accepts both; the model here is square), n on output.
  square,
  // Written as an integer when whole: transformers types the tracker prompt encoder's scale
  // as an int and rejects the config for 1.0.
  whole_as_int,
};

// One config.json member of the sub-config C: the parser, the writer and validate() all
// work from these. Defaults are the member initialisers in config.h.
template <class C> struct Field {
  using Member = std::variant<int64_t C::*, double C::*, bool C::*, std::string C::*,
                              std::vector<int64_t> C::*, std::vector<double> C::*,
                              std::vector<std::vector<int64_t>> C::*>;
  const char *key;
  Member member;
  Range range = Range::any;
  Form form = Form::plain;
};

// Every table lists its members in the order transformers writes them, which is also the
// order they are read (so the first bad one is the one reported).
const Field<VitConfig> kVitFields[] = {
    {"hidden_size", &VitConfig::hidden_size, Range::positive},
    {"intermediate_size", &VitConfig::intermediate_size, Range::positive},
    {"num_hidden_layers", &VitConfig::num_hidden_layers, Range::positive},
    {"num_attention_heads", &VitConfig::num_attention_heads, Range::positive},
    {"num_channels", &VitConfig::num_channels, Range::positive},
    {"image_size", &VitConfig::image_size, Range::positive, Form::square},
    {"patch_size", &VitConfig::patch_size, Range::positive, Form::square},
    {"hidden_act", &VitConfig::hidden_act},
    {"layer_norm_eps", &VitConfig::layer_norm_eps, Range::positive},
    {"rope_theta", &VitConfig::rope_theta, Range::positive},
    {"window_size", &VitConfig::window_size, Range::positive},
    {"global_attn_indexes", &VitConfig::global_attn_indexes},
    {"pretrain_image_size", &VitConfig::pretrain_image_size, Range::positive, Form::square},
};

// After the nested backbone_config.
const Field<VisionConfig> kVisionFields[] = {
    {"fpn_hidden_size", &VisionConfig::fpn_hidden_size, Range::positive},
    {"backbone_feature_sizes", &VisionConfig::backbone_feature_sizes},
    {"scale_factors", &VisionConfig::scale_factors},
};

const Field<TextConfig> kTextFields[] = {
    {"vocab_size", &TextConfig::vocab_size},
    {"hidden_size", &TextConfig::hidden_size, Range::positive},
    {"intermediate_size", &TextConfig::intermediate_size, Range::positive},
    {"projection_dim", &TextConfig::projection_dim, Range::positive},
    {"num_hidden_layers", &TextConfig::num_hidden_layers, Range::positive},
    {"num_attention_heads", &TextConfig::num_attention_heads, Range::positive},
    {"max_position_embeddings", &TextConfig::max_position_embeddings},
    {"hidden_act", &TextConfig::hidden_act},
    {"layer_norm_eps", &TextConfig::layer_norm_eps, Range::positive},
    {"bos_token_id", &TextConfig::bos_token_id},
    {"eos_token_id", &TextConfig::eos_token_id},
};

const Field<GeometryEncoderConfig> kGeometryEncoderFields[] = {
    {"hidden_size", &GeometryEncoderConfig::hidden_size, Range::positive},
    {"num_layers", &GeometryEncoderConfig::num_layers, Range::positive},
    {"num_attention_heads", &GeometryEncoderConfig::num_attention_heads, Range::positive},
    {"intermediate_size", &GeometryEncoderConfig::intermediate_size, Range::positive},
    {"hidden_act", &GeometryEncoderConfig::hidden_act},
    {"layer_norm_eps", &GeometryEncoderConfig::layer_norm_eps},
    {"roi_size", &GeometryEncoderConfig::roi_size, Range::positive},
};

const Field<DetrEncoderConfig> kDetrEncoderFields[] = {
    {"hidden_size", &DetrEncoderConfig::hidden_size, Range::positive},
    {"num_layers", &DetrEncoderConfig::num_layers, Range::positive},
    {"num_attention_heads", &DetrEncoderConfig::num_attention_heads, Range::positive},
    {"intermediate_size", &DetrEncoderConfig::intermediate_size, Range::positive},
    {"hidden_act", &DetrEncoderConfig::hidden_act},
    {"layer_norm_eps", &DetrEncoderConfig::layer_norm_eps},
};

const Field<DetrDecoderConfig> kDetrDecoderFields[] = {
    {"hidden_size", &DetrDecoderConfig::hidden_size, Range::positive},
    {"num_layers", &DetrDecoderConfig::num_layers, Range::positive},
    {"num_queries", &DetrDecoderConfig::num_queries, Range::positive},
    {"num_attention_heads", &DetrDecoderConfig::num_attention_heads, Range::positive},
    {"intermediate_size", &DetrDecoderConfig::intermediate_size, Range::positive},
    {"hidden_act", &DetrDecoderConfig::hidden_act},
    {"layer_norm_eps", &DetrDecoderConfig::layer_norm_eps},
};

const Field<MaskDecoderConfig> kMaskDecoderFields[] = {
    {"hidden_size", &MaskDecoderConfig::hidden_size, Range::positive},
    {"num_upsampling_stages", &MaskDecoderConfig::num_upsampling_stages},
    {"num_attention_heads", &MaskDecoderConfig::num_attention_heads, Range::positive},
    {"layer_norm_eps", &MaskDecoderConfig::layer_norm_eps},
};

// The top level of a sam3_video config.json, after the two sub-configs.
const Field<VideoConfig> kVideoFields[] = {
    {"low_res_mask_size", &VideoConfig::low_res_mask_size},
    {"score_threshold_detection", &VideoConfig::score_threshold_detection},
    {"det_nms_thresh", &VideoConfig::det_nms_thresh},
    {"assoc_iou_thresh", &VideoConfig::assoc_iou_thresh},
    {"trk_assoc_iou_thresh", &VideoConfig::trk_assoc_iou_thresh},
    {"new_det_thresh", &VideoConfig::new_det_thresh},
    {"recondition_on_trk_masks", &VideoConfig::recondition_on_trk_masks},
    {"hotstart_delay", &VideoConfig::hotstart_delay},
    {"hotstart_unmatch_thresh", &VideoConfig::hotstart_unmatch_thresh},
    {"hotstart_dup_thresh", &VideoConfig::hotstart_dup_thresh},
    {"suppress_unmatched_only_within_hotstart",
     &VideoConfig::suppress_unmatched_only_within_hotstart},
    {"init_trk_keep_alive", &VideoConfig::init_trk_keep_alive},
    {"max_trk_keep_alive", &VideoConfig::max_trk_keep_alive},
    {"min_trk_keep_alive", &VideoConfig::min_trk_keep_alive},
    {"suppress_overlapping_based_on_recent_occlusion_threshold",
     &VideoConfig::suppress_overlapping_based_on_recent_occlusion_threshold},
    {"decrease_trk_keep_alive_for_empty_masklets",
     &VideoConfig::decrease_trk_keep_alive_for_empty_masklets},
    {"fill_hole_area", &VideoConfig::fill_hole_area},
    {"max_num_objects", &VideoConfig::max_num_objects},
    {"recondition_every_nth_frame", &VideoConfig::recondition_every_nth_frame},
    {"high_conf_thresh", &VideoConfig::high_conf_thresh},
    {"high_iou_thresh", &VideoConfig::high_iou_thresh},
};

const Field<TrackerPromptEncoderConfig> kTrackerPromptEncoderFields[] = {
    {"hidden_size", &TrackerPromptEncoderConfig::hidden_size},
    {"image_size", &TrackerPromptEncoderConfig::image_size, Range::any, Form::square},
    {"patch_size", &TrackerPromptEncoderConfig::patch_size, Range::positive, Form::square},
    {"mask_input_channels", &TrackerPromptEncoderConfig::mask_input_channels},
    {"num_point_embeddings", &TrackerPromptEncoderConfig::num_point_embeddings},
    {"hidden_act", &TrackerPromptEncoderConfig::hidden_act},
    {"layer_norm_eps", &TrackerPromptEncoderConfig::layer_norm_eps},
    {"scale", &TrackerPromptEncoderConfig::scale, Range::any, Form::whole_as_int},
};

const Field<TrackerMaskDecoderConfig> kTrackerMaskDecoderFields[] = {
    {"hidden_size", &TrackerMaskDecoderConfig::hidden_size},
    {"hidden_act", &TrackerMaskDecoderConfig::hidden_act},
    {"mlp_dim", &TrackerMaskDecoderConfig::mlp_dim},
    {"num_hidden_layers", &TrackerMaskDecoderConfig::num_hidden_layers},
    {"num_attention_heads", &TrackerMaskDecoderConfig::num_attention_heads},
    {"attention_downsample_rate", &TrackerMaskDecoderConfig::attention_downsample_rate,
     Range::positive},
    {"num_multimask_outputs", &TrackerMaskDecoderConfig::num_multimask_outputs, Range::positive},
    {"iou_head_depth", &TrackerMaskDecoderConfig::iou_head_depth},
    {"iou_head_hidden_dim", &TrackerMaskDecoderConfig::iou_head_hidden_dim},
    {"dynamic_multimask_via_stability", &TrackerMaskDecoderConfig::dynamic_multimask_via_stability},
    {"dynamic_multimask_stability_delta",
     &TrackerMaskDecoderConfig::dynamic_multimask_stability_delta},
    {"dynamic_multimask_stability_thresh",
     &TrackerMaskDecoderConfig::dynamic_multimask_stability_thresh},
};

// The tracker's top level after its sub-configs, up to rope_parameters ...
const Field<TrackerConfig> kTrackerFields[] = {
    {"num_maskmem", &TrackerConfig::num_maskmem, Range::at_least_one},
    {"sigmoid_scale_for_mem_enc", &TrackerConfig::sigmoid_scale_for_mem_enc},
    {"sigmoid_bias_for_mem_enc", &TrackerConfig::sigmoid_bias_for_mem_enc},
    {"enable_occlusion_spatial_embedding", &TrackerConfig::enable_occlusion_spatial_embedding},
    {"multimask_output_in_sam", &TrackerConfig::multimask_output_in_sam},
    {"multimask_min_pt_num", &TrackerConfig::multimask_min_pt_num},
    {"multimask_max_pt_num", &TrackerConfig::multimask_max_pt_num},
    {"multimask_output_for_tracking", &TrackerConfig::multimask_output_for_tracking},
    {"max_object_pointers_in_encoder", &TrackerConfig::max_object_pointers_in_encoder,
     Range::at_least_one},
    {"max_cond_frame_num", &TrackerConfig::max_cond_frame_num, Range::at_least_one},
    {"enable_temporal_pos_encoding_for_object_pointers",
     &TrackerConfig::enable_temporal_pos_encoding_for_object_pointers},
    {"memory_attention_hidden_size", &TrackerConfig::memory_attention_hidden_size},
    {"memory_attention_num_layers", &TrackerConfig::memory_attention_num_layers, Range::positive},
    {"memory_attention_num_attention_heads", &TrackerConfig::memory_attention_num_attention_heads},
    {"memory_attention_downsample_rate", &TrackerConfig::memory_attention_downsample_rate},
    {"memory_attention_feed_forward_hidden_size",
     &TrackerConfig::memory_attention_feed_forward_hidden_size},
    {"memory_attention_feed_forward_hidden_act",
     &TrackerConfig::memory_attention_feed_forward_hidden_act},
    {"memory_attention_rope_feat_sizes", &TrackerConfig::memory_attention_rope_feat_sizes},
};

// ... and after it.
const Field<TrackerConfig> kTrackerMemoryFields[] = {
    {"memory_encoder_hidden_size", &TrackerConfig::memory_encoder_hidden_size},
    {"memory_encoder_output_channels", &TrackerConfig::memory_encoder_output_channels,
     Range::positive},
    {"mask_downsampler_embed_dim", &TrackerConfig::mask_downsampler_embed_dim},
    {"mask_downsampler_kernel_size", &TrackerConfig::mask_downsampler_kernel_size},
    {"mask_downsampler_stride", &TrackerConfig::mask_downsampler_stride, Range::positive},
    {"mask_downsampler_padding", &TrackerConfig::mask_downsampler_padding},
    {"mask_downsampler_total_stride", &TrackerConfig::mask_downsampler_total_stride},
    {"mask_downsampler_hidden_act", &TrackerConfig::mask_downsampler_hidden_act},
    {"memory_fuser_num_layers", &TrackerConfig::memory_fuser_num_layers, Range::positive},
    {"memory_fuser_embed_dim", &TrackerConfig::memory_fuser_embed_dim},
    {"memory_fuser_intermediate_dim", &TrackerConfig::memory_fuser_intermediate_dim},
    {"memory_fuser_kernel_size", &TrackerConfig::memory_fuser_kernel_size},
    {"memory_fuser_padding", &TrackerConfig::memory_fuser_padding},
    {"memory_fuser_layer_scale_init_value", &TrackerConfig::memory_fuser_layer_scale_init_value},
    {"memory_fuser_hidden_act", &TrackerConfig::memory_fuser_hidden_act},
};

// The detector's sub-configs after vision_config, in file order: key (also the prefix of
// their validation messages), the model_type written into each, and the member's table.
template <class Detector, class F> void for_each_detector_section(Detector &c, F &&f) {
  f("text_config", "clip_text_model", kTextFields, c.text);
  f("geometry_encoder_config", "sam3_geometry_encoder", kGeometryEncoderFields, c.geometry_encoder);
  f("detr_encoder_config", "sam3_detr_encoder", kDetrEncoderFields, c.detr_encoder);
  f("detr_decoder_config", "sam3_detr_decoder", kDetrDecoderFields, c.detr_decoder);
  f("mask_decoder_config", "sam3_mask_decoder", kMaskDecoderFields, c.mask_decoder);
}

template <class C, size_t N> void read_fields(const Reader &r, const Field<C> (&fields)[N], C &c) {
  for (const Field<C> &f : fields)
    std::visit(
        [&](auto member) {
          auto &out = c.*member;
          if constexpr (std::is_same_v<std::decay_t<decltype(out)>, int64_t>) {
            if (f.form == Form::square) {
              r.read_square(f.key, out);
              return;
            }
          }
          r.read(f.key, out);
        },
        f.member);
}

template <class C, size_t N> void write_fields(json &out, const Field<C> (&fields)[N], const C &c) {
  for (const Field<C> &f : fields)
    std::visit(
        [&](auto member) {
          const auto &value = c.*member;
          if constexpr (std::is_same_v<std::decay_t<decltype(value)>, double>) {
            if (f.form == Form::whole_as_int && value == std::floor(value)) {
              out[f.key] = static_cast<int64_t>(value);
              return;
            }
          }
          out[f.key] = value;
        },
        f.member);
}

// A sub-config object; model_type (when given) comes first, as transformers writes it.
template <class C, size_t N>
json section_json(const char *model_type, const Field<C> (&fields)[N], const C &c) {
  json out = json::object();
  if (model_type != nullptr)
    out["model_type"] = model_type;
  write_fields(out, fields, c);
  return out;
}

void read_vision(const Reader &r, VisionConfig &c) {
  if (auto backbone = r.child("backbone_config"))
    read_fields(*backbone, kVitFields, c.backbone);
  read_fields(r, kVisionFields, c);
}

json vision_json(const VisionConfig &c) {
  json out = {{"model_type", "sam3_vision_model"},
              {"backbone_config", section_json("sam3_vit_model", kVitFields, c.backbone)}};
  write_fields(out, kVisionFields, c);
  return out;
}

void read_detector(const Reader &r, DetectorConfig &c) {
  if (auto sub = r.child("vision_config"))
    read_vision(*sub, c.vision);
  for_each_detector_section(c, [&](const char *key, const char *, const auto &fields, auto &s) {
    if (auto sub = r.child(key))
      read_fields(*sub, fields, s);
  });
}

json detector_json(const DetectorConfig &c) {
  json out = {{"model_type", "sam3"}, {"vision_config", vision_json(c.vision)}};
  for_each_detector_section(c,
                            [&](const char *key, const char *model_type, const auto &fields,
                                const auto &s) { out[key] = section_json(model_type, fields, s); });
  return out;
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
    read_fields(*p, kTrackerPromptEncoderFields, c.prompt_encoder);
    c.image_size = c.prompt_encoder.image_size;
  }
  r.read_square("image_size", c.image_size);
  c.prompt_encoder.image_size = c.image_size;
  if (auto m = r.child("mask_decoder_config"))
    read_fields(*m, kTrackerMaskDecoderFields, c.mask_decoder);
  read_fields(r, kTrackerFields, c);
  // The theta may stand at the top level or in rope_parameters (what to_json writes); the
  // latter wins.
  r.read("memory_attention_rope_theta", c.memory_attention_rope_theta);
  if (auto rope = r.child("rope_parameters"))
    rope->read("rope_theta", c.memory_attention_rope_theta);
  read_fields(r, kTrackerMemoryFields, c);
}

json tracker_json(const TrackerConfig &c, const DetectorConfig &detector) {
  // transformers rebuilds the tracker's (unused) vision_config from this; the release's
  // tracker shares the detector's backbone, so its sizes are written.
  json out = {
      {"model_type", "sam3_tracker_video"},
      {"image_size", c.image_size},
      {"vision_config", vision_json(detector.vision)},
      {"prompt_encoder_config",
       section_json(nullptr, kTrackerPromptEncoderFields, c.prompt_encoder)},
      {"mask_decoder_config", section_json(nullptr, kTrackerMaskDecoderFields, c.mask_decoder)}};
  write_fields(out, kTrackerFields, c);
  out["rope_parameters"] = {{"rope_type", "default"},
                            {"rope_theta", c.memory_attention_rope_theta}};
  write_fields(out, kTrackerMemoryFields, c);
  return out;
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

// Holds each member of a table to its range; section prefixes the key in the message.
template <class C, size_t N>
void check_ranges(const Field<C> (&fields)[N], const C &c, const std::string &section) {
  for (const Field<C> &f : fields) {
    if (f.range == Range::any)
      continue;
    const std::string name = section + "." + f.key;
    std::visit(
        [&](auto member) {
          const auto &value = c.*member;
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, int64_t>) {
            if (f.range == Range::positive)
              require_positive(value, name);
            else
              require(value >= 1, name + " must be at least 1");
          } else if constexpr (std::is_same_v<T, double>) {
            require(value > 0, name + " must be positive");
          } else {
            throw std::logic_error(name + ": a range on a member that is not a number");
          }
        },
        f.member);
  }
}

void validate_vit(const VitConfig &c) {
  const std::string p = "vision_config.backbone_config";
  check_ranges(kVitFields, c, p);
  require_divisible(c.hidden_size, c.num_attention_heads, p + ".hidden_size",
                    p + ".num_attention_heads");
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
  check_ranges(kVisionFields, c, p);
  const int64_t fpn = c.fpn_hidden_size;
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
  require_divisible(c.hidden_size, c.num_attention_heads, p + ".hidden_size",
                    p + ".num_attention_heads");
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
  for_each_detector_section(config,
                            [](const char *key, const char *, const auto &fields,
                               const auto &section) { check_ranges(fields, section, key); });
  validate_text(config.text);
  const int64_t fpn = config.vision.fpn_hidden_size;

  // The blocks after the neck (all but the text encoder) work on the neck's channels.
  for_each_detector_section(
      config, [&](const char *key, const char *, const auto &, const auto &section) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(section)>, TextConfig>) {
          const std::string p = key;
          require_divisible(section.hidden_size, section.num_attention_heads, p + ".hidden_size",
                            p + ".num_attention_heads");
          require_model_width(section.hidden_size, fpn, p);
        }
      });

  const MaskDecoderConfig &m = config.mask_decoder;
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
  check_ranges(kTrackerPromptEncoderFields, c.prompt_encoder, p + ".prompt_encoder_config");
  check_ranges(kTrackerMaskDecoderFields, c.mask_decoder, p + ".mask_decoder_config");
  check_ranges(kTrackerFields, c, p);
  check_ranges(kTrackerMemoryFields, c, p);
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
  require_divisible(c.mask_decoder.hidden_size, c.mask_decoder.attention_downsample_rate,
                    p + ".mask_decoder_config.hidden_size", "attention_downsample_rate");
  require_attention(c.mask_decoder.hidden_size / c.mask_decoder.attention_downsample_rate,
                    c.mask_decoder.num_attention_heads, p + ".mask_decoder_config");
  require_attention(c.memory_attention_hidden_size, c.memory_attention_num_attention_heads,
                    p + ".memory_attention");
  require_divisible(c.memory_attention_hidden_size / c.memory_attention_num_attention_heads, 4,
                    p + ".memory_attention head size", "4 (2-D RoPE pairs per axis)");
  require_divisible(hidden, c.memory_encoder_output_channels, p + " hidden size",
                    p + ".memory_encoder_output_channels (object pointers are split into "
                        "memory-sized tokens)");
  require(c.memory_attention_rope_feat_sizes.size() == 2 &&
              c.memory_attention_rope_feat_sizes[0] == c.grid() &&
              c.memory_attention_rope_feat_sizes[1] == c.grid(),
          p + ".memory_attention_rope_feat_sizes must be [" + std::to_string(c.grid()) + ", " +
              std::to_string(c.grid()) + "] (the feature grid)");
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
    read_fields(top, kVideoFields, config.video);
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
    write_fields(out, kVideoFields, config.video);
  } else {
    throw ConfigError("to_json: unknown model_type \"" + config.model_type + "\"");
  }
  return out.dump(2) + "\n";
}

} // namespace sam3
