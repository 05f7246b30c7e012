#include "model/config.h"

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sam3 {
namespace {

using json = nlohmann::json;

std::string error_of(const std::function<void()> &f) {
  try {
    f();
  } catch (const ConfigError &e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return "";
}

// A small model whose every field differs from the official default (except
// text_config.max_position_embeddings, which must stay 32), so a field that is not written
// or not read shows up in the round trip.
ModelConfig tiny_config() {
  ModelConfig c;
  c.model_type = "sam3_video";
  VitConfig &v = c.detector.vision.backbone;
  v.hidden_size = 32;
  v.intermediate_size = 64;
  v.num_hidden_layers = 3;
  v.num_attention_heads = 4;
  v.num_channels = 1;
  v.image_size = 224;
  v.patch_size = 14;
  v.hidden_act = "quick_gelu";
  v.layer_norm_eps = 1e-5;
  v.rope_theta = 500.0;
  v.window_size = 8;
  v.global_attn_indexes = {0, 2};
  v.pretrain_image_size = 112;
  VisionConfig &vis = c.detector.vision;
  vis.fpn_hidden_size = 32;
  vis.scale_factors = {4.0, 2.0, 1.0, 0.5};
  vis.backbone_feature_sizes = {{64, 64}, {32, 32}, {16, 16}};
  TextConfig &t = c.detector.text;
  t.vocab_size = 1000;
  t.hidden_size = 48;
  t.intermediate_size = 96;
  t.projection_dim = 24;
  t.num_hidden_layers = 2;
  t.num_attention_heads = 6;
  t.hidden_act = "quick_gelu";
  t.layer_norm_eps = 2e-5;
  t.bos_token_id = 998;
  t.eos_token_id = 999;
  GeometryEncoderConfig &g = c.detector.geometry_encoder;
  g.hidden_size = 32;
  g.num_layers = 1;
  g.num_attention_heads = 2;
  g.intermediate_size = 40;
  g.hidden_act = "gelu";
  g.layer_norm_eps = 3e-6;
  g.roi_size = 3;
  DetrEncoderConfig &e = c.detector.detr_encoder;
  e.hidden_size = 32;
  e.num_layers = 2;
  e.num_attention_heads = 4;
  e.intermediate_size = 56;
  e.hidden_act = "gelu";
  e.layer_norm_eps = 4e-6;
  DetrDecoderConfig &d = c.detector.detr_decoder;
  d.hidden_size = 32;
  d.num_layers = 2;
  d.num_queries = 5;
  d.num_attention_heads = 4;
  d.intermediate_size = 72;
  d.hidden_act = "gelu";
  d.layer_norm_eps = 5e-6;
  MaskDecoderConfig &m = c.detector.mask_decoder;
  m.hidden_size = 32;
  m.num_upsampling_stages = 2;
  m.num_attention_heads = 2;
  m.layer_norm_eps = 6e-6;
  c.tracker.num_maskmem = 3;
  c.tracker.mask_decoder.num_attention_heads = 2;
  c.tracker.memory_attention_rope_theta = 5000.0;
  VideoConfig &w = c.video;
  w.low_res_mask_size = 64;
  w.score_threshold_detection = 0.25;
  w.det_nms_thresh = 0.2;
  w.assoc_iou_thresh = 0.15;
  w.trk_assoc_iou_thresh = 0.45;
  w.new_det_thresh = 0.65;
  w.recondition_on_trk_masks = false;
  w.hotstart_delay = 5;
  w.hotstart_unmatch_thresh = 3;
  w.hotstart_dup_thresh = 4;
  w.suppress_unmatched_only_within_hotstart = false;
  w.init_trk_keep_alive = 20;
  w.max_trk_keep_alive = 25;
  w.min_trk_keep_alive = -3;
  w.suppress_overlapping_based_on_recent_occlusion_threshold = 0.6;
  w.decrease_trk_keep_alive_for_empty_masklets = true;
  w.fill_hole_area = 4;
  w.max_num_objects = 50;
  w.recondition_every_nth_frame = 8;
  w.high_conf_thresh = 0.75;
  w.high_iou_thresh = 0.85;
  // The tracker reads the detector's ViT features, so it shares the input size and width.
  TrackerConfig &k = c.tracker;
  k.prompt_encoder.hidden_size = k.mask_decoder.hidden_size = k.memory_attention_hidden_size =
      k.memory_encoder_hidden_size = k.mask_downsampler_embed_dim = k.memory_fuser_embed_dim = 32;
  k.memory_encoder_output_channels = 16;
  c.tracker.image_size = v.image_size;
  c.tracker.prompt_encoder.image_size = v.image_size;
  c.tracker.memory_attention_rope_feat_sizes = {v.image_size / v.patch_size,
                                                v.image_size / v.patch_size};
  return c;
}

void expect_same(const DetectorConfig &a, const DetectorConfig &b) {
  const VitConfig &va = a.vision.backbone, &vb = b.vision.backbone;
  EXPECT_EQ(va.hidden_size, vb.hidden_size);
  EXPECT_EQ(va.intermediate_size, vb.intermediate_size);
  EXPECT_EQ(va.num_hidden_layers, vb.num_hidden_layers);
  EXPECT_EQ(va.num_attention_heads, vb.num_attention_heads);
  EXPECT_EQ(va.num_channels, vb.num_channels);
  EXPECT_EQ(va.image_size, vb.image_size);
  EXPECT_EQ(va.patch_size, vb.patch_size);
  EXPECT_EQ(va.hidden_act, vb.hidden_act);
  EXPECT_EQ(va.layer_norm_eps, vb.layer_norm_eps);
  EXPECT_EQ(va.rope_theta, vb.rope_theta);
  EXPECT_EQ(va.window_size, vb.window_size);
  EXPECT_EQ(va.global_attn_indexes, vb.global_attn_indexes);
  EXPECT_EQ(va.pretrain_image_size, vb.pretrain_image_size);
  EXPECT_EQ(a.vision.fpn_hidden_size, b.vision.fpn_hidden_size);
  EXPECT_EQ(a.vision.backbone_feature_sizes, b.vision.backbone_feature_sizes);
  EXPECT_EQ(a.vision.scale_factors, b.vision.scale_factors);
  const TextConfig &ta = a.text, &tb = b.text;
  EXPECT_EQ(ta.vocab_size, tb.vocab_size);
  EXPECT_EQ(ta.hidden_size, tb.hidden_size);
  EXPECT_EQ(ta.intermediate_size, tb.intermediate_size);
  EXPECT_EQ(ta.projection_dim, tb.projection_dim);
  EXPECT_EQ(ta.num_hidden_layers, tb.num_hidden_layers);
  EXPECT_EQ(ta.num_attention_heads, tb.num_attention_heads);
  EXPECT_EQ(ta.max_position_embeddings, tb.max_position_embeddings);
  EXPECT_EQ(ta.hidden_act, tb.hidden_act);
  EXPECT_EQ(ta.layer_norm_eps, tb.layer_norm_eps);
  EXPECT_EQ(ta.bos_token_id, tb.bos_token_id);
  EXPECT_EQ(ta.eos_token_id, tb.eos_token_id);
  const GeometryEncoderConfig &ga = a.geometry_encoder, &gb = b.geometry_encoder;
  EXPECT_EQ(ga.hidden_size, gb.hidden_size);
  EXPECT_EQ(ga.num_layers, gb.num_layers);
  EXPECT_EQ(ga.num_attention_heads, gb.num_attention_heads);
  EXPECT_EQ(ga.intermediate_size, gb.intermediate_size);
  EXPECT_EQ(ga.hidden_act, gb.hidden_act);
  EXPECT_EQ(ga.layer_norm_eps, gb.layer_norm_eps);
  EXPECT_EQ(ga.roi_size, gb.roi_size);
  const DetrEncoderConfig &ea = a.detr_encoder, &eb = b.detr_encoder;
  EXPECT_EQ(ea.hidden_size, eb.hidden_size);
  EXPECT_EQ(ea.num_layers, eb.num_layers);
  EXPECT_EQ(ea.num_attention_heads, eb.num_attention_heads);
  EXPECT_EQ(ea.intermediate_size, eb.intermediate_size);
  EXPECT_EQ(ea.hidden_act, eb.hidden_act);
  EXPECT_EQ(ea.layer_norm_eps, eb.layer_norm_eps);
  const DetrDecoderConfig &da = a.detr_decoder, &db = b.detr_decoder;
  EXPECT_EQ(da.hidden_size, db.hidden_size);
  EXPECT_EQ(da.num_layers, db.num_layers);
  EXPECT_EQ(da.num_queries, db.num_queries);
  EXPECT_EQ(da.num_attention_heads, db.num_attention_heads);
  EXPECT_EQ(da.intermediate_size, db.intermediate_size);
  EXPECT_EQ(da.hidden_act, db.hidden_act);
  EXPECT_EQ(da.layer_norm_eps, db.layer_norm_eps);
  const MaskDecoderConfig &ma = a.mask_decoder, &mb = b.mask_decoder;
  EXPECT_EQ(ma.hidden_size, mb.hidden_size);
  EXPECT_EQ(ma.num_upsampling_stages, mb.num_upsampling_stages);
  EXPECT_EQ(ma.num_attention_heads, mb.num_attention_heads);
  EXPECT_EQ(ma.layer_norm_eps, mb.layer_norm_eps);
}

void expect_same(const VideoConfig &a, const VideoConfig &b) {
  EXPECT_EQ(a.low_res_mask_size, b.low_res_mask_size);
  EXPECT_EQ(a.score_threshold_detection, b.score_threshold_detection);
  EXPECT_EQ(a.det_nms_thresh, b.det_nms_thresh);
  EXPECT_EQ(a.assoc_iou_thresh, b.assoc_iou_thresh);
  EXPECT_EQ(a.trk_assoc_iou_thresh, b.trk_assoc_iou_thresh);
  EXPECT_EQ(a.new_det_thresh, b.new_det_thresh);
  EXPECT_EQ(a.recondition_on_trk_masks, b.recondition_on_trk_masks);
  EXPECT_EQ(a.hotstart_delay, b.hotstart_delay);
  EXPECT_EQ(a.hotstart_unmatch_thresh, b.hotstart_unmatch_thresh);
  EXPECT_EQ(a.hotstart_dup_thresh, b.hotstart_dup_thresh);
  EXPECT_EQ(a.suppress_unmatched_only_within_hotstart, b.suppress_unmatched_only_within_hotstart);
  EXPECT_EQ(a.init_trk_keep_alive, b.init_trk_keep_alive);
  EXPECT_EQ(a.max_trk_keep_alive, b.max_trk_keep_alive);
  EXPECT_EQ(a.min_trk_keep_alive, b.min_trk_keep_alive);
  EXPECT_EQ(a.suppress_overlapping_based_on_recent_occlusion_threshold,
            b.suppress_overlapping_based_on_recent_occlusion_threshold);
  EXPECT_EQ(a.decrease_trk_keep_alive_for_empty_masklets,
            b.decrease_trk_keep_alive_for_empty_masklets);
  EXPECT_EQ(a.fill_hole_area, b.fill_hole_area);
  EXPECT_EQ(a.max_num_objects, b.max_num_objects);
  EXPECT_EQ(a.recondition_every_nth_frame, b.recondition_every_nth_frame);
  EXPECT_EQ(a.high_conf_thresh, b.high_conf_thresh);
  EXPECT_EQ(a.high_iou_thresh, b.high_iou_thresh);
}

TEST(Config, MissingKeysTakeTheOfficialDefaults) {
  const ModelConfig c = parse_config(R"({"model_type":"sam3_video"})", "config.json");
  EXPECT_EQ(c.model_type, "sam3_video");
  EXPECT_EQ(c.tracker.num_maskmem, 7);
  EXPECT_EQ(c.tracker.grid(), 72);
  EXPECT_EQ(c.tracker.low_res_mask_size(), 288);
  const VitConfig &v = c.detector.vision.backbone;
  EXPECT_EQ(v.hidden_size, 1024);
  EXPECT_EQ(v.intermediate_size, 4736);
  EXPECT_EQ(v.num_hidden_layers, 32);
  EXPECT_EQ(v.num_attention_heads, 16);
  EXPECT_EQ(v.image_size, 1008);
  EXPECT_EQ(v.patch_size, 14);
  EXPECT_EQ(v.grid(), 72);
  EXPECT_EQ(v.head_dim(), 64);
  EXPECT_EQ(v.window_size, 24);
  EXPECT_EQ(v.global_attn_indexes, (std::vector<int64_t>{7, 15, 23, 31}));
  EXPECT_EQ(v.pretrain_image_size, 336);
  EXPECT_EQ(v.rope_theta, 10000.0);
  EXPECT_EQ(c.detector.vision.fpn_hidden_size, 256);
  EXPECT_EQ(c.detector.vision.scale_factors, (std::vector<double>{4.0, 2.0, 1.0, 0.5}));
  EXPECT_EQ(c.detector.vision.backbone_feature_sizes,
            (std::vector<std::vector<int64_t>>{{288, 288}, {144, 144}, {72, 72}}));
  EXPECT_EQ(c.detector.text.vocab_size, 49408);
  EXPECT_EQ(c.detector.text.hidden_size, 1024);
  EXPECT_EQ(c.detector.text.num_hidden_layers, 24);
  EXPECT_EQ(c.detector.text.max_position_embeddings, 32);
  EXPECT_EQ(c.detector.geometry_encoder.num_layers, 3);
  EXPECT_EQ(c.detector.geometry_encoder.roi_size, 7);
  EXPECT_EQ(c.detector.detr_encoder.num_layers, 6);
  EXPECT_EQ(c.detector.detr_decoder.num_queries, 200);
  EXPECT_EQ(c.detector.mask_decoder.num_upsampling_stages, 3);
  EXPECT_EQ(c.video.hotstart_delay, 15);
  EXPECT_EQ(c.video.min_trk_keep_alive, -1);
  EXPECT_EQ(c.video.new_det_thresh, 0.7);
  expect_same(c.detector, DetectorConfig{});
  expect_same(c.video, VideoConfig{});
  EXPECT_NO_THROW(validate(c));
}

TEST(Config, ParsesTheVideoWrapper) {
  const std::string text = R"({
    "architectures": ["Sam3VideoModel"],
    "model_type": "sam3_video",
    "torch_dtype": "float32",
    "hotstart_delay": 10,
    "recondition_on_trk_masks": false,
    "det_nms_thresh": 0.3,
    "detector_config": {
      "model_type": "sam3",
      "vision_config": {
        "model_type": "sam3_vision_model",
        "fpn_hidden_size": 64,
        "scale_factors": [2.0, 1.0],
        "backbone_feature_sizes": [[32, 32]],
        "hidden_act": "gelu",
        "backbone_config": {"hidden_size": 48, "num_hidden_layers": 2, "image_size": [224, 224],
                            "global_attn_indexes": [1], "layer_scale_init_value": null}
      },
      "text_config": {"model_type": "clip_text_model", "hidden_size": 40, "pad_token_id": 1},
      "detr_decoder_config": {"num_queries": 7, "dropout": 0.1},
      "mask_decoder_config": {"num_upsampling_stages": 1}
    },
    "tracker_config": {"model_type": "sam3_tracker_video", "num_maskmem": 7,
                       "mask_decoder_config": {"hidden_size": 256}}
  })";
  const ModelConfig c = parse_config(text, "config.json");
  EXPECT_EQ(c.model_type, "sam3_video");
  EXPECT_EQ(c.detector.vision.fpn_hidden_size, 64);
  EXPECT_EQ(c.detector.vision.scale_factors, (std::vector<double>{2.0, 1.0}));
  EXPECT_EQ(c.detector.vision.backbone_feature_sizes,
            (std::vector<std::vector<int64_t>>{{32, 32}}));
  EXPECT_EQ(c.detector.vision.backbone.hidden_size, 48);
  EXPECT_EQ(c.detector.vision.backbone.num_hidden_layers, 2);
  EXPECT_EQ(c.detector.vision.backbone.image_size, 224);
  EXPECT_EQ(c.detector.vision.backbone.global_attn_indexes, std::vector<int64_t>{1});
  EXPECT_EQ(c.detector.vision.backbone.intermediate_size, 4736);
  EXPECT_EQ(c.detector.text.hidden_size, 40);
  EXPECT_EQ(c.detector.detr_decoder.num_queries, 7);
  EXPECT_EQ(c.detector.mask_decoder.num_upsampling_stages, 1);
  EXPECT_EQ(c.video.hotstart_delay, 10);
  EXPECT_FALSE(c.video.recondition_on_trk_masks);
  EXPECT_EQ(c.video.det_nms_thresh, 0.3);
  EXPECT_EQ(c.tracker.num_maskmem, 7);
  EXPECT_EQ(c.tracker.mask_decoder.hidden_size, 256);
}

TEST(Config, ParsesTheImageOnlyForm) {
  const std::string text = R"({
    "model_type": "sam3",
    "vision_config": {"backbone_config": {"hidden_size": 64, "patch_size": 16}},
    "geometry_encoder_config": {"roi_size": 5},
    "detr_encoder_config": {"num_layers": 2}
  })";
  const ModelConfig c = parse_config(text, "config.json");
  EXPECT_EQ(c.model_type, "sam3");
  EXPECT_EQ(c.detector.vision.backbone.hidden_size, 64);
  EXPECT_EQ(c.detector.vision.backbone.patch_size, 16);
  EXPECT_EQ(c.detector.geometry_encoder.roi_size, 5);
  EXPECT_EQ(c.detector.detr_encoder.num_layers, 2);
}

TEST(Config, ReadsTheTrackerConfig) {
  const ModelConfig c = parse_config(R"({"model_type":"sam3_video",
      "tracker_config": {"vision_config": {"backbone_config": {"image_size": 112}},
                         "rope_parameters": {"rope_theta": 100.0},
                         "memory_encoder_output_channels": 16,
                         "mask_decoder_config": {"num_multimask_outputs": 2}}})",
                                     "config.json");
  EXPECT_EQ(c.tracker.image_size, 112);
  EXPECT_EQ(c.tracker.prompt_encoder.image_size, 112);
  EXPECT_EQ(c.tracker.grid(), 8);
  EXPECT_EQ(c.tracker.memory_attention_rope_theta, 100.0);
  EXPECT_EQ(c.tracker.memory_encoder_output_channels, 16);
  EXPECT_EQ(c.tracker.mask_decoder.num_multimask_outputs, 2);
  EXPECT_THROW(parse_config(R"({"model_type":"sam3_video","tracker_config":{"num_maskmem":"7"}})",
                            "config.json"),
               ConfigError);
}

TEST(Config, TrackerMustFitTheDetector) {
  ModelConfig c = parse_config(R"({"model_type":"sam3_video"})", "config.json");
  EXPECT_NO_THROW(validate(c));
  c.tracker.image_size = 1024;
  EXPECT_THROW(validate(c), ConfigError);
  c = parse_config(R"({"model_type":"sam3_video"})", "config.json");
  c.tracker.memory_encoder_output_channels = 48;
  EXPECT_THROW(validate(c), ConfigError);
  c = parse_config(R"({"model_type":"sam3_video"})", "config.json");
  c.tracker.memory_attention_rope_feat_sizes = {64, 64};
  EXPECT_THROW(validate(c), ConfigError);
}

// Found by fuzz_config: a zero rate was a division by zero inside validate().
TEST(Config, TrackerAttentionDownsampleRateMustBePositiveAndDivide) {
  ModelConfig c = parse_config(R"({"model_type":"sam3_video"})", "config.json");
  c.tracker.mask_decoder.attention_downsample_rate = 0;
  EXPECT_NE(error_of([&] {
              validate(c);
            }).find("mask_decoder_config.attention_downsample_rate must be positive (is 0)"),
            std::string::npos);
  c.tracker.mask_decoder.attention_downsample_rate = 3;
  EXPECT_NE(error_of([&] { validate(c); }).find("must be divisible by attention_downsample_rate"),
            std::string::npos);
}

TEST(Config, FormIsInferredWhenModelTypeIsMissing) {
  EXPECT_EQ(parse_config(R"({"detector_config": {}})", "c.json").model_type, "sam3_video");
  EXPECT_EQ(parse_config(R"({"vision_config": {}})", "c.json").model_type, "sam3");
}

TEST(Config, NullListsAndSubConfigsKeepDefaults) {
  const ModelConfig c = parse_config(
      R"({"model_type":"sam3","text_config":null,
          "vision_config":{"scale_factors":null,"backbone_config":{"global_attn_indexes":null}}})",
      "config.json");
  expect_same(c.detector, DetectorConfig{});
}

TEST(Config, RoundTripsThroughToJson) {
  const ModelConfig tiny = tiny_config();
  const std::string text = to_json(tiny);
  const ModelConfig back = parse_config(text, "generated");
  EXPECT_EQ(back.model_type, "sam3_video");
  expect_same(back.detector, tiny.detector);
  expect_same(back.video, tiny.video);
  EXPECT_EQ(back.tracker.num_maskmem, 3);
  EXPECT_EQ(back.tracker.mask_decoder.num_attention_heads, 2);
  EXPECT_EQ(back.tracker.memory_attention_rope_theta, 5000.0);
  EXPECT_EQ(to_json(back), text);

  // The transformers layout: sub-configs nested and typed.
  const json j = json::parse(text);
  EXPECT_EQ(j["detector_config"]["model_type"], "sam3");
  EXPECT_EQ(j["detector_config"]["vision_config"]["backbone_config"]["model_type"],
            "sam3_vit_model");
  EXPECT_EQ(j["detector_config"]["text_config"]["model_type"], "clip_text_model");
  EXPECT_EQ(j["tracker_config"]["num_maskmem"], 3);
  // transformers 5 types the prompt encoder's scale as an int: 1.0 makes it reject the file.
  EXPECT_TRUE(j["tracker_config"]["prompt_encoder_config"]["scale"].is_number_integer());

  ModelConfig image = tiny;
  image.model_type = "sam3";
  const ModelConfig image_back = parse_config(to_json(image), "generated");
  EXPECT_EQ(image_back.model_type, "sam3");
  expect_same(image_back.detector, tiny.detector);
  EXPECT_FALSE(json::parse(to_json(image)).contains("detector_config"));
}

TEST(Config, LoadConfigReadsAFile) {
  const std::string path = ::testing::TempDir() + "sam3_test_config.json";
  {
    std::ofstream out(path);
    out << to_json(tiny_config());
  }
  expect_same(load_config(path).detector, tiny_config().detector);
  std::remove(path.c_str());

  const std::string missing = ::testing::TempDir() + "no_such_config.json";
  const std::string msg = error_of([&] { load_config(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;
}

TEST(Config, BadTypesNameTheKeyPath) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"model_type":"sam3_video","detector_config":{"vision_config":{"backbone_config":)"
       R"({"hidden_size":"big"}}}})",
       "detector_config.vision_config.backbone_config.hidden_size must be an integer"},
      {R"({"model_type":"sam3","vision_config":{"backbone_config":{"num_hidden_layers":2.5}}})",
       "vision_config.backbone_config.num_hidden_layers must be an integer"},
      {R"({"model_type":"sam3","vision_config":{"scale_factors":[1,"x"]}})",
       "vision_config.scale_factors must be a list of numbers"},
      {R"({"model_type":"sam3","vision_config":{"backbone_feature_sizes":[[1,2,3]]}})",
       "vision_config.backbone_feature_sizes must be a list of [height, width] pairs"},
      {R"({"model_type":"sam3","vision_config":{"backbone_config":{"global_attn_indexes":3}}})",
       "vision_config.backbone_config.global_attn_indexes must be a list of integers"},
      {R"({"model_type":"sam3","vision_config":{"backbone_config":{"image_size":[224,112]}}})",
       "vision_config.backbone_config.image_size must be an integer or a square"},
      {R"({"model_type":"sam3","text_config":{"layer_norm_eps":"1e-5"}})",
       "text_config.layer_norm_eps must be a number"},
      {R"({"model_type":"sam3","text_config":{"hidden_act":5}})",
       "text_config.hidden_act must be a string"},
      {R"({"model_type":"sam3","text_config":{"hidden_size":null}})",
       "text_config.hidden_size must be an integer"},
      {R"({"model_type":"sam3","detr_decoder_config":[]})",
       "detr_decoder_config must be a JSON object"},
      {R"({"model_type":"sam3","mask_decoder_config":{"hidden_size":18446744073709551615}})",
       "mask_decoder_config.hidden_size is out of range"},
      {R"({"model_type":"sam3_video","recondition_on_trk_masks":1})",
       "recondition_on_trk_masks must be true or false"},
      {R"({"model_type":"sam3_video","tracker_config":"x"})",
       "tracker_config must be a JSON object"},
      {R"({"model_type":"sam3_video","detector_config":{"model_type":"sam2"}})",
       "detector_config.model_type must be \"sam3\""},
      {R"({"model_type":"sam2_video"})", "model_type is \"sam2_video\""},
      {R"({"model_type":3})", "model_type must be a string"},
      {R"([1])", "the top level must be a JSON object"},
      {R"({"model_type":)", "not valid JSON"},
  };
  for (const auto &[text, expected] : cases) {
    const std::string msg = error_of([&] { parse_config(text, "my/config.json"); });
    EXPECT_EQ(msg.rfind("my/config.json: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(expected), std::string::npos) << text << "\n -> " << msg;
  }
}

TEST(Config, TinyAndOfficialConfigsValidate) {
  EXPECT_NO_THROW(validate(tiny_config()));
  EXPECT_NO_THROW(validate(DetectorConfig{}));
  // A grid the window does not divide is padded, and a pretrain grid that does not divide
  // the image grid is tiled and cropped (as transformers does): both are allowed.
  DetectorConfig c = tiny_config().detector;
  c.vision.backbone.window_size = 7;
  c.vision.backbone.pretrain_image_size = 14 * 5;
  EXPECT_NO_THROW(validate(c));
}

TEST(Config, EachViolatedConstraintIsNamed) {
  using Mutation = std::function<void(DetectorConfig &)>;
  const std::vector<std::pair<Mutation, std::string>> cases = {
      {[](DetectorConfig &c) { c.vision.backbone.num_attention_heads = 5; },
       "backbone_config.hidden_size (32) must be divisible by "
       "vision_config.backbone_config.num_attention_heads (5)"},
      {[](DetectorConfig &c) { c.vision.backbone.num_attention_heads = 16; },
       "ViT head_dim (2 = hidden_size / num_attention_heads) must be divisible by 4 for the "
       "axial 2-D RoPE"},
      {[](DetectorConfig &c) { c.vision.backbone.image_size = 220; },
       "backbone_config.image_size (220) must be divisible by "
       "vision_config.backbone_config.patch_size (14)"},
      {[](DetectorConfig &c) { c.vision.backbone.pretrain_image_size = 100; },
       "pretrain_image_size (100) must be divisible"},
      {[](DetectorConfig &c) { c.vision.backbone.window_size = 0; },
       "backbone_config.window_size must be positive"},
      {[](DetectorConfig &c) {
         c.vision.backbone.global_attn_indexes = {0, 3};
       },
       "global_attn_indexes entry 3 is out of range [0, 3)"},
      {[](DetectorConfig &c) {
         c.vision.backbone.global_attn_indexes = {-1, 2};
       },
       "global_attn_indexes entry -1 is out of range"},
      {[](DetectorConfig &c) {
         c.vision.backbone.global_attn_indexes = {0, 1};
       },
       "global_attn_indexes must end with the last layer (2)"},
      {[](DetectorConfig &c) {
         c.vision.backbone.global_attn_indexes = {2, 2};
       },
       "global_attn_indexes must be strictly increasing"},
      {[](DetectorConfig &c) { c.vision.backbone.global_attn_indexes.clear(); },
       "global_attn_indexes must not be empty"},
      {[](DetectorConfig &c) { c.vision.backbone.layer_norm_eps = 0; },
       "layer_norm_eps must be positive"},
      {[](DetectorConfig &c) { c.vision.scale_factors = {1.0}; },
       "scale_factors needs at least 2 levels"},
      {[](DetectorConfig &c) {
         c.vision.scale_factors = {3.0, 1.0};
       },
       "scale_factors entry 3.000000 is not one of 4, 2, 1, 0.5"},
      {[](DetectorConfig &c) {
         c.vision.scale_factors = {1.0, 2.0, 0.5};
       },
       "scale_factors must be in decreasing order"},
      {[](DetectorConfig &c) {
         c.vision.backbone_feature_sizes = {{64, 64}, {32, 31}};
       },
       "backbone_feature_sizes level 1 must be [32, 32]"},
      {[](DetectorConfig &c) {
         c.vision.backbone_feature_sizes = {{64, 64}, {32, 32}, {16, 16}, {8, 8}, {4, 4}};
       },
       "backbone_feature_sizes has 5 levels but vision_config.scale_factors only 4"},
      {[](DetectorConfig &c) {
         c.vision.fpn_hidden_size = 30;
         c.geometry_encoder.hidden_size = c.detr_encoder.hidden_size = c.detr_decoder.hidden_size =
             c.mask_decoder.hidden_size = 30;
       },
       "fpn_hidden_size (30) must be divisible by 4"},
      {[](DetectorConfig &c) { c.text.max_position_embeddings = 77; },
       "max_position_embeddings must equal the tokenizer context length (32), got 77"},
      {[](DetectorConfig &c) { c.text.num_attention_heads = 5; },
       "text_config.hidden_size (48) must be divisible by text_config.num_attention_heads (5)"},
      {[](DetectorConfig &c) { c.text.eos_token_id = 1000; },
       "text_config.eos_token_id (1000) must lie inside the vocabulary"},
      {[](DetectorConfig &c) { c.geometry_encoder.hidden_size = 64; },
       "geometry_encoder_config.hidden_size (64) must equal vision_config.fpn_hidden_size (32)"},
      {[](DetectorConfig &c) { c.geometry_encoder.roi_size = 0; },
       "geometry_encoder_config.roi_size must be positive"},
      {[](DetectorConfig &c) { c.detr_encoder.num_attention_heads = 3; },
       "detr_encoder_config.hidden_size (32) must be divisible by "
       "detr_encoder_config.num_attention_heads (3)"},
      {[](DetectorConfig &c) { c.detr_encoder.hidden_size = 16; },
       "detr_encoder_config.hidden_size (16) must equal vision_config.fpn_hidden_size"},
      {[](DetectorConfig &c) { c.detr_decoder.num_attention_heads = 0; },
       "detr_decoder_config.num_attention_heads must be positive"},
      {[](DetectorConfig &c) { c.detr_decoder.hidden_size = 64; },
       "detr_decoder_config.hidden_size (64) must equal"},
      {[](DetectorConfig &c) { c.detr_decoder.num_queries = 0; },
       "detr_decoder_config.num_queries must be positive"},
      {[](DetectorConfig &c) { c.mask_decoder.hidden_size = 64; },
       "mask_decoder_config.hidden_size (64) must equal"},
      {[](DetectorConfig &c) {
         c.vision.fpn_hidden_size = 36;
         c.geometry_encoder.hidden_size = c.detr_encoder.hidden_size = c.detr_decoder.hidden_size =
             c.mask_decoder.hidden_size = 36;
       },
       "mask_decoder_config.hidden_size (36) must be divisible by 8"},
      {[](DetectorConfig &c) { c.mask_decoder.num_upsampling_stages = 0; },
       "num_upsampling_stages (0) must be at least the number of kept FPN levels minus one (2)"},
  };
  for (const auto &[mutate, expected] : cases) {
    DetectorConfig c = tiny_config().detector;
    mutate(c);
    const std::string msg = error_of([&] { validate(c); });
    EXPECT_NE(msg.find(expected), std::string::npos) << expected << "\n -> " << msg;
  }
}

TEST(Config, VideoSettingsAreValidated) {
  ModelConfig c = tiny_config();
  c.video.hotstart_unmatch_thresh = 6;
  EXPECT_NE(error_of([&] { validate(c); })
                .find("hotstart_unmatch_thresh (6) must be <= "
                      "hotstart_delay (5)"),
            std::string::npos);
  c = tiny_config();
  c.video.hotstart_dup_thresh = 9;
  EXPECT_NE(error_of([&] { validate(c); }).find("hotstart_dup_thresh (9)"), std::string::npos);
  c.video.hotstart_delay = 0;
  EXPECT_NO_THROW(validate(c));
  c.detector.text.max_position_embeddings = 16;
  EXPECT_NE(error_of([&] { validate(c); }).find("max_position_embeddings"), std::string::npos);
}

TEST(Config, IsGlobalFollowsGlobalAttnIndexes) {
  VitConfig v;
  for (int64_t i = 0; i < v.num_hidden_layers; ++i)
    EXPECT_EQ(v.is_global(i), i == 7 || i == 15 || i == 23 || i == 31) << i;
  v.global_attn_indexes = {0, 2};
  EXPECT_TRUE(v.is_global(0));
  EXPECT_FALSE(v.is_global(1));
  EXPECT_TRUE(v.is_global(2));
  EXPECT_FALSE(v.is_global(3));
}

} // namespace
} // namespace sam3
