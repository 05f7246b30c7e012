// Numerical parity of the tracker with transformers' Sam3TrackerVideoModel, live: a small
// sam3_video model with seeded weights, a 16-frame clip, object 1 prompted with a box and
// object 2 with two clicks on frame 0, both propagated to the end (the memory bank full from
// frame 7 on, older frames evicted). tools/make_tracker_reference.py records transformers'
// blocks and every frame's outputs; here the same blocks are fed the reference's inputs, and
// libsam3's tracker (tracker/sam2_tracker.h, as the video loop drives it) runs the clip.
#include "detector/detector.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/test_model.h"
#include "parity_compare.h"
#include "tracker/sam2_tracker.h"
#include "tracker/tracker_features.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace sam3::parity;

class TrackerParity : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    root_ = new std::string(temp_dir());
    sam3::write_test_model(model_dir(), sam3::reference_video_test_config(), 0);
    for (const auto *behaviour : {"transformers", "official"})
      run_tool("make_tracker_reference.py",
               "--model " + model_dir() + " --out " + reference(behaviour) + " --behaviour " +
                   behaviour,
               reference(behaviour) + ".log");
  }
  static void TearDownTestSuite() {
    std::system(("rm -rf " + *root_).c_str());
    delete root_;
  }
  static std::string model_dir() { return *root_ + "/model"; }
  static std::string reference(const std::string &behaviour) {
    return *root_ + "/tracker-" + behaviour + ".safetensors";
  }
  static std::shared_ptr<sam3::Model> load() {
    // The reference runs transformers' ViT (its configured LayerNorm eps): the tracker is
    // what is compared here, on the same features.
    sam3::DetectorBehaviour vit_as_transformers;
    vit_as_transformers.vit_layer_norm_eps_from_config = true;
    return sam3::Model::load(model_dir(), torch::kCPU, sam3::Precision::kFloat32,
                             vit_as_transformers);
  }
  static std::string *root_;
};
std::string *TrackerParity::root_ = nullptr;

// The clip through libsam3's tracker; every frame's stages, named as the reference names them.
std::map<std::string, torch::Tensor> run_clip(sam3::Model &model,
                                              const sam3::SafetensorsFile &reference,
                                              const sam3::Sam2TrackerOptions &options) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> out;
  sam3::Sam2Tracker tracker(model.tracker(), options);
  const int64_t frames = std::stoll(reference.metadata().at("frames"));
  const double size = static_cast<double>(model.image_size());
  const std::vector<int64_t> ids = {1, 2};
  for (int64_t f = 0; f < frames; ++f) {
    const std::string p = "f" + std::to_string(f) + ".";
    auto vision = model.detector()->encode_image(reference.tensor(p + "pixel_values"));
    const auto frame =
        sam3::make_tracker_frame(f, vision.backbone, model.tracker_neck(), model.tracker());
    for (size_t i = 0; i < frame.features.size(); ++i)
      out[p + "features." + std::to_string(i)] = frame.features[i];
    out[p + "position"] = frame.position;

    std::vector<sam3::TrackerPrediction> predictions;
    if (f == 0) {
      predictions.push_back(tracker.add_prompt(1, frame, {}, {}, reference.tensor("box") / size));
      predictions.push_back(tracker.add_prompt(2, frame, reference.tensor("points") / size,
                                               reference.tensor("point_labels"), {}));
    } else {
      predictions = tracker.propagate(frame);
      std::vector<torch::Tensor> masks, scores;
      for (const auto &prediction : predictions) {
        masks.push_back(prediction.mask_logits);
        scores.push_back(torch::tensor(prediction.object_score_logit));
      }
      tracker.encode_memories(frame, ids, torch::stack(masks), torch::stack(scores));
    }
    for (size_t k = 0; k < predictions.size(); ++k) {
      const std::string o = p + "obj" + std::to_string(k) + ".";
      out[o + "mask_logits"] = predictions[k].mask_logits;
      out[o + "object_score"] = torch::tensor(predictions[k].object_score_logit);
    }
  }
  return out;
}

// Frame 0 reads no memory and is held to the detector's bounds. Every later frame reads
// memory stored in bf16 (as the reference stores it): an fp32 rounding difference of one ulp
// before the cast becomes one bf16 ulp (2^-8) in a memory token, and the reference itself,
// its memory features nudged by one fp32 ulp, moves its mask logits by up to 3.6e-4 on this
// clip. So from frame 1 on a stage is bounded as a whole (kTolerance * (1 + max|ref|)). The
// masks (logits > 0) must agree on every pixel whose reference logit lies farther from 0 than
// that bound: random weights leave many logits near 0, where the sign is within tolerance.
ParityReport compare(const std::map<std::string, torch::Tensor> &ours,
                     const sam3::SafetensorsFile &reference, const std::string &title) {
  ParityReport report;
  for (const auto &[name, tensor] : ours) {
    if (!reference.has(name)) {
      report.stages.push_back(unmatched_stage(name, "missing from the reference"));
      continue;
    }
    const auto ref = reference.tensor(name);
    const bool reads_memory = name.rfind("f0.", 0) != 0;
    report.stages.push_back(
        compare_stage(name, tensor, ref, reads_memory ? Bound::kWhole : Bound::kByName));
    if (name.size() > 11 && name.compare(name.size() - 11, 11, "mask_logits") == 0)
      report.stages.push_back(decisive_mask_stage(name.substr(0, name.size() - 11) + "mask", tensor,
                                                  ref, report.stages.back().bound));
  }
  print_report(report, title);
  return report;
}

TEST_F(TrackerParity, EveryBlockMatchesTransformers) {
  torch::NoGradGuard no_grad;
  auto model = load();
  auto &tracker = model->tracker();
  const auto ref = sam3::SafetensorsFile::open(reference("transformers"));
  const auto t = [&](const std::string &name) { return ref.tensor(name); };
  const auto hidden = tracker->hidden_size();
  std::map<std::string, torch::Tensor> ours, expected;

  for (const std::string prompt : {"box", "points"}) {
    const std::string p = "prompt_encoder." + prompt + ".";
    const auto points = t(p + "in.input_points").view({1, -1, 2});
    const auto labels = t(p + "in.input_labels").view({1, -1}).to(torch::kInt64);
    const auto [sparse, dense] = tracker->prompt_encoder->forward(points, labels, {}, 1);
    ours[p + "sparse"] = sparse;
    expected[p + "sparse"] = t(p + "out.0").view({1, -1, hidden});
    ours[p + "dense"] = dense;
    expected[p + "dense"] = t(p + "out.1");
  }
  for (const std::string kind : {"single", "multimask"}) {
    const std::string p = "mask_decoder." + kind + ".";
    const bool multimask = t(p + "in.multimask_output").item<int64_t>() != 0;
    EXPECT_EQ(multimask, kind == "multimask");
    const auto heads = tracker->mask_decoder->forward(
        t(p + "in.image_embeddings"), t(p + "in.image_positional_embeddings").slice(0, 0, 1),
        t(p + "in.sparse_prompt_embeddings").view({1, -1, hidden}),
        t(p + "in.dense_prompt_embeddings"), multimask,
        {t(p + "in.high_resolution_features.0"), t(p + "in.high_resolution_features.1")});
    const auto m = heads.masks.size(1);
    ours[p + "mask_logits"] = heads.masks;
    expected[p + "mask_logits"] = t(p + "out.0").view(heads.masks.sizes());
    ours[p + "iou_score"] = heads.iou_scores;
    expected[p + "iou_score"] = t(p + "out.1").view({1, m});
    ours[p + "sam_tokens"] = heads.sam_tokens;
    expected[p + "sam_tokens"] = t(p + "out.2").view({1, m, hidden});
    ours[p + "object_score_logits"] = heads.object_score_logits;
    expected[p + "object_score_logits"] = t(p + "out.3").view({1, 1});
  }
  {
    // transformers keeps these sequence-first (tokens, batch, channels); ours batch-first.
    const std::string p = "memory_attention.full_bank.";
    const auto first = [](const torch::Tensor &x) { return x.permute({1, 0, 2}); };
    const auto pointers = t(p + "in.num_object_pointer_tokens").item<int64_t>();
    EXPECT_GT(pointers, 0);
    // The full bank: the conditioning frame and num_maskmem - 1 previous frames.
    const auto g2 = tracker->grid() * tracker->grid();
    EXPECT_EQ(t(p + "in.memory").size(0) - pointers, tracker->config().num_maskmem * g2);
    ours[p + "features"] = tracker->memory_attention->forward(
        first(t(p + "in.current_vision_features")),
        first(t(p + "in.current_vision_position_embeddings")), first(t(p + "in.memory")),
        first(t(p + "in.memory_posision_embeddings")), pointers);
    expected[p + "features"] = t(p + "out.0").view({1, g2, hidden});
  }
  {
    const std::string p = "memory_encoder.prompted.";
    const auto [features, position] =
        tracker->memory_encoder->forward(t(p + "in.vision_features"), t(p + "in.masks"));
    ours[p + "maskmem"] = features;
    expected[p + "maskmem"] = t(p + "out.0");
    ours[p + "position"] = position;
    expected[p + "position"] = t(p + "out.1");
  }
  {
    const std::string p = "object_pointer_proj.tracked.";
    ours[p + "pointer"] = tracker->object_pointer_proj->forward(t(p + "in.hidden_states"));
    expected[p + "pointer"] = t(p + "out.0");
  }

  ParityReport report;
  for (const auto &[name, tensor] : ours)
    report.stages.push_back(compare_stage(name, tensor, expected.at(name)));
  print_report(report, "tracker blocks on transformers' inputs");
  expect_all_pass(report);
  EXPECT_EQ(report.stages.size(), 16u);
}

sam3::Sam2TrackerOptions transformers_options() {
  sam3::Sam2TrackerOptions options;
  options.use_memory_selection = false; // transformers' tracker has none (docs/parity.md)
  options.binarize_memory_mask_before_resize = false;
  return options;
}

TEST_F(TrackerParity, EveryFrameMatchesTransformers) {
  auto model = load();
  const auto reference_file = sam3::SafetensorsFile::open(reference("transformers"));
  const auto ours = run_clip(*model, reference_file, transformers_options());
  ASSERT_GE(std::stoll(reference_file.metadata().at("frames")), 8);
  const auto report = compare(ours, reference_file, "tracker, 16 frames, transformers' order");
  EXPECT_TRUE(ours.count("f15.obj1.mask_logits"));
  expect_all_pass(report);
}

TEST_F(TrackerParity, OfficialMemoryMaskOrderIsTheDefaultAndMatchesItsReference) {
  auto model = load();
  sam3::Sam2TrackerOptions official;
  official.use_memory_selection = false;
  EXPECT_TRUE(official.binarize_memory_mask_before_resize);
  const auto official_ref = sam3::SafetensorsFile::open(reference("official"));
  expect_all_pass(compare(run_clip(*model, official_ref, official), official_ref,
                          "tracker, the official memory-mask order"));
  // The switch is real: transformers' order misses the official reference from the first
  // frame that reads the prompted frame's memory, not before.
  const auto failing = compare(run_clip(*model, official_ref, transformers_options()), official_ref,
                               "tracker, transformers' order against the official reference")
                           .failing();
  EXPECT_FALSE(failing.count("f0.obj0.mask_logits"));
  EXPECT_TRUE(failing.count("f1.obj0.mask_logits"));
}

} // namespace
