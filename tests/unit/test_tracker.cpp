// The composed SAM 2-style tracker: the tiny sam3_video model's tracker weights under
// transformers' names, memory selection as the reference picks frames, and Sam2Tracker on
// random frames (shapes, ids, determinism, batching, bounded memory, occlusion, removal).
#include "model/model.h"
#include "model/test_model.h"
#include "tracker/sam2_tracker.h"
#include "tracker/tracker_features.h"
#include "video/mask_ops.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace sam3 {
namespace {

using Frames = std::vector<std::pair<int64_t, int64_t>>;

std::string temp_dir() {
  char tmpl[] = "/tmp/sam3-test-tracker-XXXXXX";
  const char *dir = ::mkdtemp(tmpl);
  if (!dir)
    throw std::runtime_error("mkdtemp failed");
  return dir;
}

// One tiny sam3_video model for the whole file: writing and loading it is the slow part.
class TrackerTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(temp_dir());
    write_test_model(*dir_, tiny_video_test_config(), 7);
    model_ = new std::shared_ptr<Model>(Model::load(*dir_, torch::kCPU, Precision::kFloat32));
  }
  static void TearDownTestSuite() {
    delete model_;
    std::system(("rm -rf " + *dir_).c_str());
    delete dir_;
  }

  static Model &model() { return **model_; }

  // A frame from a random ViT map through the real tracker neck.
  static TrackerFrame frame(int64_t index) {
    torch::NoGradGuard no_grad;
    const auto &vit = model().config().detector.vision.backbone;
    torch::manual_seed(1000 + index);
    const auto map = torch::randn({1, vit.hidden_size, vit.grid(), vit.grid()});
    return make_tracker_frame(index, map, model().tracker_neck(), model().tracker());
  }

  // A blob mask (S x S logits) centred at (cx, cy) in [0, 1].
  static torch::Tensor blob(double cx, double cy, double radius) {
    const auto s = 4 * model().tracker()->grid();
    const auto c = (torch::arange(s).to(torch::kFloat32) + 0.5) / s;
    const auto d = (c.view({1, s}) - cx).pow(2) + (c.view({s, 1}) - cy).pow(2);
    return (radius * radius - d) * 400.0;
  }

  // Adds `ids` on frame 0 (object i at centre first_centre + i of three), then propagates and
  // encodes `frames` frames; returns every prediction's mask, frame after frame.
  static std::vector<torch::Tensor> run(Sam2Tracker &tracker, const std::vector<int64_t> &ids,
                                        int64_t frames, size_t first_centre = 0) {
    const std::vector<std::pair<double, double>> centres = {{0.3, 0.3}, {0.7, 0.4}, {0.5, 0.7}};
    const auto f0 = frame(0);
    for (size_t i = 0; i < ids.size(); ++i)
      tracker.add_object(ids[i], f0,
                         blob(centres[(first_centre + i) % 3].first,
                              centres[(first_centre + i) % 3].second, 0.15));
    std::vector<torch::Tensor> masks;
    for (int64_t t = 1; t <= frames; ++t) {
      const auto f = frame(t);
      const auto predictions = tracker.propagate(f);
      std::vector<torch::Tensor> logits;
      std::vector<float> scores;
      for (const auto &p : predictions) {
        logits.push_back(p.mask_logits);
        scores.push_back(p.object_score_logit);
        masks.push_back(p.mask_logits);
      }
      tracker.encode_memories(f, tracker.object_ids(), torch::stack(logits), torch::tensor(scores));
    }
    return masks;
  }

  // Sets the object-score head's bias while alive, so that the seeded model's verdict
  // (present or absent) is chosen; restores it after.
  class ObjectScoreBias {
  public:
    ObjectScoreBias()
        : bias_(model().tracker()->mask_decoder->pred_obj_score_head->proj_out->bias),
          saved_(bias_.clone()) {}
    ~ObjectScoreBias() { set(saved_); }
    void set(const torch::Tensor &value) {
      torch::NoGradGuard no_grad;
      bias_.copy_(value);
    }
    void set(double value) { set(torch::full_like(saved_, value)); }

  private:
    torch::Tensor &bias_;
    torch::Tensor saved_;
  };

  static std::string *dir_;
  static std::shared_ptr<Model> *model_;
};
std::string *TrackerTest::dir_ = nullptr;
std::shared_ptr<Model> *TrackerTest::model_ = nullptr;

MemorySelectionConfig selection_config(bool use_memory_selection = true) {
  MemorySelectionConfig c;
  c.num_maskmem = 7;
  c.max_cond_frame_num = 4;
  c.max_object_pointers = 16;
  c.use_memory_selection = use_memory_selection;
  c.mf_threshold = 0.01;
  return c;
}

// The frames a selection reads, whatever their order (attention does not depend on it).
MemorySelection sorted(MemorySelection s) {
  std::sort(s.conditioning.begin(), s.conditioning.end());
  std::sort(s.previous.begin(), s.previous.end());
  std::sort(s.pointers.begin(), s.pointers.end());
  return s;
}

std::map<int64_t, float> scores(int64_t first, int64_t last, float score = 0.5f) {
  std::map<int64_t, float> m;
  for (int64_t t = first; t <= last; ++t)
    m[t] = score;
  return m;
}

TEST(MemorySelection, ReadsTheLastSixFramesAndAllButTheOldestSelectedPointer) {
  const auto s = select_memory(10, {0}, scores(1, 9), selection_config());
  EXPECT_EQ(s.conditioning, std::vector<int64_t>({0}));
  EXPECT_EQ(s.previous, Frames({{4, 1}, {5, 2}, {6, 3}, {7, 4}, {8, 5}, {9, 6}}));
  // frame_filter's list is 1..9; the pointer loop stops one short of its oldest entry.
  EXPECT_EQ(s.pointers,
            Frames({{0, 10}, {9, 1}, {8, 2}, {7, 3}, {6, 4}, {5, 5}, {4, 6}, {3, 7}, {2, 8}}));
}

TEST(MemorySelection, SkipsFramesBelowTheThresholdButAlwaysReadsThePreviousFrame) {
  auto tracked = scores(1, 9);
  tracked[3] = 0.005f;
  tracked[5] = 0.f;
  tracked[9] = 0.01f; // not above the threshold, but the previous frame
  const auto s = select_memory(10, {0}, tracked, selection_config());
  EXPECT_EQ(s.previous, Frames({{2, 1}, {4, 2}, {6, 3}, {7, 4}, {8, 5}, {9, 6}}));
  EXPECT_EQ(s.pointers, Frames({{0, 10}, {9, 1}, {8, 2}, {7, 3}, {6, 4}, {4, 5}, {2, 6}}));
}

TEST(MemorySelection, ScansBackUntilFifteenFramesPassAndNeverScansFrameZero) {
  auto tracked = scores(0, 39);
  const auto s = select_memory(40, {0}, tracked, selection_config());
  EXPECT_EQ(s.previous, Frames({{34, 1}, {35, 2}, {36, 3}, {37, 4}, {38, 5}, {39, 6}}));
  ASSERT_EQ(s.pointers.size(), 1u + 14u);
  EXPECT_EQ(s.pointers[1], std::make_pair(int64_t{39}, int64_t{1}));
  EXPECT_EQ(s.pointers.back(), std::make_pair(int64_t{26}, int64_t{14}));

  // Frame 0 is tracked and passes, but only ever read as the previous frame.
  // (A frame is either conditioning or tracked, never both: the tracker keeps them apart.)
  auto early_tracked = scores(0, 2);
  early_tracked.erase(1);
  const auto early = select_memory(3, {1}, early_tracked, selection_config());
  EXPECT_EQ(early.previous, Frames({{2, 6}}));
  EXPECT_EQ(early.pointers, Frames({{1, 2}}));
  EXPECT_EQ(select_memory(1, {5}, scores(0, 0), selection_config()).previous, Frames({{0, 6}}));
}

TEST(MemorySelection, KeepsTheClosestConditioningFrames) {
  const auto s = select_memory(30, {0, 5, 10, 15, 20, 25}, {}, selection_config());
  EXPECT_EQ(s.conditioning, std::vector<int64_t>({25, 20, 15, 10}));
  // Without memory selection an unselected conditioning frame in the window is read as a
  // previous frame.
  const auto plain = select_memory(7, {0, 1, 2, 3, 4, 6}, {{5, 0.f}}, selection_config(false));
  EXPECT_EQ(plain.conditioning, std::vector<int64_t>({6, 4, 3, 2}));
  EXPECT_EQ(plain.previous, Frames({{1, 1}, {5, 5}}));
}

TEST(MemorySelection, WithoutSelectionReadsTheLastFramesInOrder) {
  const auto s = select_memory(3, {0}, {{1, 0.f}, {2, 0.f}}, selection_config(false));
  EXPECT_EQ(s.previous, Frames({{1, 5}, {2, 6}}));
  EXPECT_EQ(s.pointers, Frames({{0, 3}, {2, 1}, {1, 2}}));
}

TEST(MemorySelection, RetentionKeepsEverythingALaterFrameCanRead) {
  for (const bool use_selection : {true, false}) {
    const auto config = selection_config(use_selection);
    std::map<int64_t, float> tracked;
    std::vector<int64_t> conditioning = {0, 13, 27, 41, 55, 69};
    for (int64_t t = 1; t < 80; ++t)
      if (!std::count(conditioning.begin(), conditioning.end(), t))
        tracked[t] = (t % 3 == 0) ? 0.f : 0.5f;
    const auto keep = retained_memory(79, conditioning, tracked, config);
    for (int64_t next = 80; next < 120; ++next) {
      const auto s = select_memory(next, conditioning, tracked, config);
      for (const auto t : s.conditioning)
        EXPECT_TRUE(keep.conditioning.count(t)) << t;
      for (const auto &[t, pos] : s.previous)
        EXPECT_TRUE(keep.tracked_memory.count(t) || keep.conditioning.count(t)) << t;
      for (const auto &[t, offset] : s.pointers)
        EXPECT_TRUE(keep.tracked.count(t) || keep.conditioning.count(t)) << t;
      // What is dropped changes nothing.
      std::map<int64_t, float> kept;
      for (const auto t : keep.tracked)
        kept[t] = tracked.at(t);
      std::vector<int64_t> kept_conditioning(keep.conditioning.begin(), keep.conditioning.end());
      EXPECT_EQ(sorted(select_memory(next, kept_conditioning, kept, config)), sorted(s)) << next;
    }
    EXPECT_LE(static_cast<int64_t>(keep.tracked.size()), config.max_object_pointers);
    EXPECT_LE(static_cast<int64_t>(keep.tracked_memory.size()), config.num_maskmem);
  }
}

TEST(MemorySelection, ScoreIsTheRescaledObjectProbabilityTimesIoU) {
  EXPECT_FLOAT_EQ(selection_score(-3.f, 0.9f), 0.f);
  EXPECT_FLOAT_EQ(selection_score(0.f, 0.9f), 0.f);
  EXPECT_NEAR(selection_score(2.f, 0.5f), (2.f / (1.f + std::exp(-2.f)) - 1.f) * 0.5f, 1e-7);
}

TEST(MemorySelection, CohortScoreIsMeanVisibilityTimesMeanIoU) {
  // The official cal_mem_score: mean visibility x mean IoU over the cohort. One object barely
  // visible with a poor mask, the other hidden with a confident one: the mean of per-object
  // products is 0 (the frame could never be selected), the official score passes the 0.01
  // threshold.
  const std::vector<float> logits = {0.2f, -1.f}, ious = {0.f, 1.f};
  const float visible = (2.f / (1.f + std::exp(-0.2f)) - 1.f) / 2.f;
  EXPECT_NEAR(cohort_selection_score(logits, ious), visible * 0.5f, 1e-7);
  EXPECT_GT(cohort_selection_score(logits, ious), 0.01f);
  EXPECT_FLOAT_EQ((selection_score(logits[0], ious[0]) + selection_score(logits[1], ious[1])) / 2,
                  0.f);
  // A cohort of one is the per-object score.
  EXPECT_FLOAT_EQ(cohort_selection_score({2.f}, {0.5f}), selection_score(2.f, 0.5f));
  EXPECT_THROW(cohort_selection_score({}, {}), c10::Error);
}

TEST_F(TrackerTest, TinyVideoModelHasTransformersTrackerKeys) {
  ASSERT_TRUE(model().has_tracker());
  std::set<std::string> keys;
  for (const auto &p : model().tracker()->named_parameters(true))
    keys.insert(p.key());
  for (const auto &b : model().tracker()->named_buffers(true))
    keys.insert(b.key());
  const auto &c = model().config().tracker;
  std::set<std::string> expected = {
      "shared_image_embedding.positional_embedding",
      "no_memory_embedding",
      "no_memory_positional_encoding",
      "memory_temporal_positional_encoding",
      "no_object_pointer",
      "occlusion_spatial_embedding_parameter",
      "mask_downsample.weight",
      "mask_downsample.bias",
      "temporal_positional_encoding_projection_layer.weight",
      "temporal_positional_encoding_projection_layer.bias",
      "memory_attention.layer_norm.weight",
      "memory_attention.layer_norm.bias",
      "memory_encoder.mask_downsampler.final_conv.weight",
      "memory_encoder.mask_downsampler.final_conv.bias",
      "memory_encoder.feature_projection.weight",
      "memory_encoder.feature_projection.bias",
      "memory_encoder.projection.weight",
      "memory_encoder.projection.bias",
  };
  for (const auto *l : {"proj_in", "layers.0", "proj_out"})
    for (const auto *w : {".weight", ".bias"})
      expected.insert(std::string("object_pointer_proj.") + l + w);
  for (int64_t i = 0; i < c.memory_attention_num_layers; ++i) {
    const auto p = "memory_attention.layers." + std::to_string(i) + ".";
    for (const auto *a : {"self_attn.", "cross_attn_image."})
      for (const auto *proj : {"q_proj", "k_proj", "v_proj", "o_proj"})
        for (const auto *w : {".weight", ".bias"})
          expected.insert(p + a + proj + w);
    for (const auto *m : {"linear1", "linear2", "layer_norm1", "layer_norm2", "layer_norm3"})
      for (const auto *w : {".weight", ".bias"})
        expected.insert(p + m + w);
  }
  for (int64_t i = 0; i < 4; ++i) // log2(total stride 16) downsampling layers
    for (const auto *m : {"conv", "layer_norm"})
      for (const auto *w : {".weight", ".bias"})
        expected.insert("memory_encoder.mask_downsampler.layers." + std::to_string(i) + "." + m +
                        w);
  for (int64_t i = 0; i < c.memory_fuser_num_layers; ++i) {
    const auto p = "memory_encoder.memory_fuser.layers." + std::to_string(i) + ".";
    expected.insert(p + "scale");
    for (const auto *m : {"depthwise_conv", "layer_norm", "pointwise_conv1", "pointwise_conv2"})
      for (const auto *w : {".weight", ".bias"})
        expected.insert(p + m + w);
  }
  // The heads' own names are pinned by test_tracker_heads; here: everything else is exact.
  std::set<std::string> rest;
  for (const auto &k : keys)
    if (k.rfind("prompt_encoder.", 0) != 0 && k.rfind("mask_decoder.", 0) != 0)
      rest.insert(k);
  EXPECT_EQ(rest, expected);
  EXPECT_TRUE(keys.count("prompt_encoder.shared_embedding.positional_embedding"));
  EXPECT_TRUE(keys.count("mask_decoder.conv_s0.weight"));
  EXPECT_TRUE(keys.count("mask_decoder.conv_s1.weight"));
  // The image embedding and the prompt encoder share the Fourier matrix, as converted.
  EXPECT_TRUE(
      torch::equal(model().tracker()->shared_image_embedding->positional_embedding,
                   model().tracker()->prompt_encoder->shared_embedding->positional_embedding));
}

TEST_F(TrackerTest, ImageOnlyModelHasNoTracker) {
  const auto dir = temp_dir();
  write_test_model(dir, tiny_test_config(), 3);
  const auto image_model = Model::load(dir, torch::kCPU, Precision::kFloat32);
  EXPECT_FALSE(image_model->has_tracker());
  EXPECT_THROW(image_model->tracker(), std::logic_error);
  EXPECT_THROW(image_model->tracker_neck(), std::logic_error);
  std::system(("rm -rf " + dir).c_str());
}

TEST_F(TrackerTest, TrackerFrameHasTheProjectedLevels) {
  const auto f = frame(3);
  const auto g = model().tracker()->grid();
  const auto c = model().tracker()->hidden_size();
  ASSERT_EQ(f.features.size(), 3u);
  EXPECT_EQ(f.index, 3);
  EXPECT_EQ(f.features[0].sizes(), torch::IntArrayRef({1, c / 8, 4 * g, 4 * g}));
  EXPECT_EQ(f.features[1].sizes(), torch::IntArrayRef({1, c / 4, 2 * g, 2 * g}));
  EXPECT_EQ(f.features[2].sizes(), torch::IntArrayRef({1, c, g, g}));
  EXPECT_EQ(f.position.sizes(), torch::IntArrayRef({1, c, g, g}));
  EXPECT_THROW(
      make_tracker_frame(0, torch::zeros({1, 5, 8, 8}), model().tracker_neck(), model().tracker()),
      std::exception);
}

TEST_F(TrackerTest, PropagatesOneAndThreeObjectsDeterministically) {
  for (const std::vector<int64_t> &ids : {std::vector<int64_t>{5}, std::vector<int64_t>{2, 9, 4}}) {
    Sam2Tracker a(model().tracker()), b(model().tracker());
    const auto masks_a = run(a, ids, 20);
    const auto masks_b = run(b, ids, 20);
    EXPECT_EQ(a.object_ids(), ids);
    ASSERT_EQ(masks_a.size(), ids.size() * 20);
    for (size_t i = 0; i < masks_a.size(); ++i) {
      EXPECT_EQ(masks_a[i].sizes(), torch::IntArrayRef({32, 32}));
      EXPECT_TRUE(torch::isfinite(masks_a[i]).all().item<bool>());
      EXPECT_TRUE(torch::equal(masks_a[i], masks_b[i])) << i;
    }
    const auto f = frame(21);
    const auto predictions = a.propagate(f);
    ASSERT_EQ(predictions.size(), ids.size());
    for (size_t i = 0; i < ids.size(); ++i)
      EXPECT_EQ(predictions[i].object_id, ids[i]);
  }
}

TEST_F(TrackerTest, BatchedObjectsMatchObjectsTrackedAlone) {
  // With every frame passing the selection threshold, the cohort's mean cannot change which
  // frames an object reads, so a batch must reproduce each object tracked alone.
  Sam2TrackerOptions options;
  options.mf_threshold = -1.0;
  Sam2Tracker together(model().tracker(), options);
  const auto batched = run(together, {1, 2, 3}, 20);
  for (int64_t k = 0; k < 3; ++k) {
    Sam2Tracker alone(model().tracker(), options);
    const auto single = run(alone, {k + 1}, 20, static_cast<size_t>(k));
    for (int64_t t = 0; t < 20; ++t) {
      const auto &expected = single[t];
      const auto &actual = batched[t * 3 + k];
      // Batched matrix products round differently; memories are stored in bf16.
      EXPECT_TRUE(torch::allclose(actual, expected, 1e-3, 1e-3))
          << "object " << k << " frame " << t + 1 << " max diff "
          << (actual - expected).abs().max().item<float>();
    }
  }
}

// The official tracker reads at most min(num_frames, max_obj_ptrs_in_encoder) object pointers
// and divides their offsets by it minus 1: a 6-frame clip tracks as a model whose cap is 6,
// and differs from a stream.
TEST_F(TrackerTest, AShortClipReadsItsPointersAsTheOfficialCodeDoes) {
  Sam2TrackerOptions clip;
  clip.num_frames = 6;
  Sam2Tracker short_clip(model().tracker(), clip), stream(model().tracker());
  const auto clip_masks = run(short_clip, {1}, 5);
  const auto stream_masks = run(stream, {1}, 5);

  const auto dir = temp_dir();
  auto config = tiny_video_test_config();
  config.tracker.max_object_pointers_in_encoder = 6;
  write_test_model(dir, config, 7);
  const auto capped_model = Model::load(dir, torch::kCPU, Precision::kFloat32);
  Sam2Tracker capped(capped_model->tracker());
  const auto capped_masks = run(capped, {1}, 5);
  std::system(("rm -rf " + dir).c_str());

  bool differs = false;
  for (size_t t = 0; t < clip_masks.size(); ++t) {
    EXPECT_TRUE(torch::equal(clip_masks[t], capped_masks[t])) << "frame " << t + 1;
    differs = differs || !torch::allclose(clip_masks[t], stream_masks[t], 1e-4, 1e-4);
  }
  EXPECT_TRUE(differs) << "a 6-frame clip should read its pointers differently from a stream";
}

TEST_F(TrackerTest, MemoryStaysBoundedOverAnEndlessStream) {
  for (const bool use_selection : {false, true}) {
    Sam2TrackerOptions options;
    options.use_memory_selection = use_selection;
    Sam2Tracker tracker(model().tracker(), options);
    const auto f0 = frame(0);
    tracker.add_object(1, f0, blob(0.3, 0.3, 0.2));
    tracker.add_object(2, f0, blob(0.7, 0.6, 0.2));
    const auto &c = model().config().tracker;
    const auto g = c.grid();
    const int64_t map_bytes = c.memory_encoder_output_channels * g * g * 2; // bf16
    const int64_t pointer_bytes = c.prompt_encoder.hidden_size * 4;
    const int64_t bound =
        2 * ((c.max_cond_frame_num + c.num_maskmem) * map_bytes +
             (c.max_cond_frame_num + c.max_object_pointers_in_encoder) * pointer_bytes) +
        map_bytes * 2;
    int64_t at_warm_up = 0;
    for (int64_t t = 1; t <= 300; ++t) {
      const auto f = frame(t % 7); // features repeat; only the index must grow
      const TrackerFrame indexed{t, f.features, f.position};
      const auto predictions = tracker.propagate(indexed);
      std::vector<torch::Tensor> logits;
      std::vector<float> scores;
      for (const auto &p : predictions) {
        logits.push_back(p.mask_logits);
        scores.push_back(p.object_score_logit);
      }
      tracker.encode_memories(indexed, tracker.object_ids(), torch::stack(logits),
                              torch::tensor(scores));
      const auto bytes = tracker.memory_bytes();
      ASSERT_LE(bytes, bound) << "frame " << t;
      if (t == 2 * c.max_object_pointers_in_encoder)
        at_warm_up = bytes;
      if (!use_selection && t > 2 * c.max_object_pointers_in_encoder) {
        ASSERT_EQ(bytes, at_warm_up) << "frame " << t;
      }
    }
    EXPECT_GT(at_warm_up, 0);
  }
}

TEST_F(TrackerTest, OccludedObjectGetsNoObjectScoreMasks) {
  std::vector<TrackerPrediction> predictions;
  {
    ObjectScoreBias bias;
    bias.set(-1e4);
    Sam2Tracker tracker(model().tracker());
    tracker.add_object(3, frame(0), blob(0.5, 0.5, 0.2));
    predictions = tracker.propagate(frame(1));
  }
  ASSERT_EQ(predictions.size(), 1u);
  EXPECT_LT(predictions[0].object_score_logit, 0.f);
  EXPECT_TRUE(torch::all(predictions[0].mask_logits == kNoObjectScore).item<bool>());
}

TEST_F(TrackerTest, PromptsCreateAndRefineObjects) {
  Sam2Tracker tracker(model().tracker());
  const auto f0 = frame(0);
  const auto click = tracker.add_prompt(4, f0, torch::tensor({{0.5f, 0.5f}}),
                                        torch::tensor({int64_t{1}}), torch::Tensor());
  EXPECT_EQ(click.object_id, 4);
  EXPECT_EQ(click.mask_logits.sizes(), torch::IntArrayRef({32, 32}));
  const auto boxed = tracker.add_prompt(6, f0, torch::Tensor(), torch::Tensor(),
                                        torch::tensor({0.2f, 0.2f, 0.6f, 0.7f}));
  EXPECT_EQ(boxed.mask_logits.sizes(), torch::IntArrayRef({32, 32}));
  EXPECT_EQ(tracker.object_ids(), std::vector<int64_t>({4, 6}));
  tracker.propagate(frame(1));
  const auto refined = tracker.add_prompt(4, frame(1), torch::tensor({{0.1f, 0.1f}}),
                                          torch::tensor({int64_t{0}}), torch::Tensor());
  EXPECT_TRUE(torch::isfinite(refined.mask_logits).all().item<bool>());
  EXPECT_THROW(tracker.add_prompt(7, f0, torch::Tensor(), torch::Tensor(), torch::Tensor()),
               std::invalid_argument);
  EXPECT_THROW(tracker.add_prompt(7, frame(1), torch::tensor({{0.1f, 0.1f}}),
                                  torch::tensor({int64_t{5}}), torch::Tensor()),
               std::invalid_argument);
  EXPECT_THROW(tracker.add_prompt(7, frame(1), torch::Tensor(), torch::Tensor(),
                                  torch::tensor({0.6f, 0.2f, 0.2f, 0.7f})),
               std::invalid_argument);
}

TEST_F(TrackerTest, ReconditioningMakesAConditioningFrame) {
  Sam2Tracker tracker(model().tracker());
  tracker.add_object(1, frame(0), blob(0.4, 0.4, 0.2));
  for (int64_t t = 1; t <= 3; ++t)
    tracker.propagate(frame(t));
  const auto before = tracker.memory_bytes();
  tracker.recondition(1, frame(3), blob(0.45, 0.4, 0.2));
  // The frame now holds the detection's memory map on top of its pointer.
  EXPECT_GT(tracker.memory_bytes(), before);
  const auto p = tracker.propagate(frame(4));
  EXPECT_TRUE(torch::isfinite(p[0].mask_logits).all().item<bool>());
  EXPECT_THROW(tracker.recondition(99, frame(4), blob(0.4, 0.4, 0.2)), std::invalid_argument);
}

// Officially the objects born together share one tracker state, so reconditioning one of them
// makes the frame a conditioning frame of all of them (read at temporal position 0, no longer
// a memory-selection candidate), whatever their own score; objects born on another frame are
// untouched. transformers (recondition_cohort false) moves the reconditioned object's only.
// Propagates `tracker` on frame t and writes the frame's memory from its own predictions, as
// the loop does; `before_encode` runs in between (a reconditioning).
template <class Hook>
std::vector<TrackerPrediction> track(Sam2Tracker &tracker, const TrackerFrame &f,
                                     Hook before_encode) {
  const auto predictions = tracker.propagate(f);
  before_encode();
  std::vector<torch::Tensor> logits;
  std::vector<float> scores;
  for (const auto &p : predictions) {
    logits.push_back(p.mask_logits);
    scores.push_back(p.object_score_logit);
  }
  tracker.encode_memories(f, tracker.object_ids(), torch::stack(logits), torch::tensor(scores));
  return predictions;
}

TEST_F(TrackerTest, ReconditioningMakesTheFrameConditioningForTheWholeCohort) {
  std::map<bool, std::vector<TrackerPrediction>> on_frame_5;
  for (const bool cohort : {true, false}) {
    Sam2TrackerOptions options;
    options.recondition_cohort = cohort;
    Sam2Tracker tracker(model().tracker(), options);
    const auto step = [&](int64_t t, bool recondition) {
      const auto f = frame(t);
      track(tracker, f, [&] {
        if (recondition)
          tracker.recondition(1, f, blob(0.35, 0.3, 0.15));
      });
    };
    tracker.add_object(1, frame(0), blob(0.3, 0.3, 0.15));
    tracker.add_object(2, frame(0), blob(0.7, 0.4, 0.15));
    step(1, false);
    step(2, false);
    tracker.add_object(3, frame(2), blob(0.5, 0.7, 0.15));
    step(3, false);
    step(4, true);

    const auto conditioning = [&](int64_t id) {
      return sorted(tracker.memory_for(id, 5)).conditioning;
    };
    const auto reads_as_previous = [&](int64_t id, int64_t t) {
      const auto previous = tracker.memory_for(id, 5).previous;
      return std::any_of(previous.begin(), previous.end(),
                         [t](const auto &p) { return p.first == t; });
    };
    EXPECT_EQ(conditioning(1), (std::vector<int64_t>{0, 4}));
    EXPECT_FALSE(reads_as_previous(1, 4));
    EXPECT_EQ(conditioning(2), cohort ? (std::vector<int64_t>{0, 4}) : (std::vector<int64_t>{0}))
        << "cohort " << cohort;
    EXPECT_EQ(reads_as_previous(2, 4), !cohort) << "cohort " << cohort;
    EXPECT_EQ(conditioning(3), (std::vector<int64_t>{2}));
    EXPECT_TRUE(reads_as_previous(3, 4));
    on_frame_5[cohort] = tracker.propagate(frame(5));
  }
  // Reading frame 4 as a conditioning frame changes what the cohort-mate sees (the random
  // model's masks may all be absent: the object score shows it); the object of the other
  // cohort reads the same memories either way.
  const auto diff = [&](size_t k) {
    const auto &a = on_frame_5[true][k], &b = on_frame_5[false][k];
    return std::max((a.mask_logits - b.mask_logits).abs().max().item<float>(),
                    std::abs(a.object_score_logit - b.object_score_logit));
  };
  EXPECT_GT(diff(1), 1e-3f);
  EXPECT_EQ(diff(2), 0.f);
}

// As the official add_new_points_or_box with use_prev_mem_frame off: a refinement reads no
// memory; the clicks and the object's previous logits on that frame (clamped to +-32) are the
// prompt, also when the object was absent there. The clamp itself is not pinned: an absent
// object's constant kNoObjectScore map leaves the mask embedding's LayerNorm the same as -32.
TEST_F(TrackerTest, ARefinementReadsNoMemoryAndPromptsWithThePreviousLogits) {
  auto tracker_model = model().tracker();
  const auto s = 4 * tracker_model->grid();
  const auto click = torch::tensor({{0.4f, 0.35f}});
  const auto positive = torch::tensor({int64_t{1}});
  ObjectScoreBias bias;
  for (const bool absent : {false, true}) {
    Sam2Tracker tracker(tracker_model);
    tracker.add_object(1, frame(0), blob(0.4, 0.4, 0.2));
    for (int64_t t = 1; t <= 2; ++t)
      track(tracker, frame(t), [] {});
    const auto f = frame(3);
    // The object score decides between the decoder's logits and kNoObjectScore: absent on
    // frame 3 or not, then present for the refinement, so that its masks show the prompt.
    bias.set(absent ? -1e4 : 1e4);
    const auto previous = track(tracker, f, [] {})[0].mask_logits;
    ASSERT_EQ(torch::all(previous == kNoObjectScore).item<bool>(), absent);
    bias.set(1e4);
    const auto refined = tracker.add_prompt(1, f, click, positive, torch::Tensor());

    torch::NoGradGuard no_grad;
    TrackerPrompt prompt;
    prompt.points =
        click.mul(static_cast<double>(tracker_model->config().image_size)).view({1, 1, 2});
    prompt.labels = positive.view({1, 1});
    const auto expected = tracker_model
                              ->sam_heads(tracker_model->features_without_memory(f.features[2]),
                                          {f.features[0], f.features[1]}, prompt,
                                          previous.clamp(-32, 32).view({1, 1, s, s}),
                                          tracker_model->use_multimask(false, 1))
                              .low_res_masks[0];
    EXPECT_TRUE(torch::allclose(refined.mask_logits, expected, 1e-5, 1e-5))
        << "absent " << absent << ", max diff "
        << (refined.mask_logits - expected).abs().max().item<float>();
  }
}

// Of more than 16 prompt points the first 8 and the last 8 are kept, as the official tracker
// predictor does.
TEST_F(TrackerTest, APromptKeepsTheFirstAndLastEightOfMoreThanSixteenPoints) {
  torch::manual_seed(3);
  const auto points = torch::rand({20, 2});
  const auto labels = torch::arange(20, torch::kInt64).remainder(2);
  const auto kept = torch::cat({torch::arange(8), torch::arange(12, 20)});
  Sam2Tracker all(model().tracker()), sixteen(model().tracker());
  const auto a = all.add_prompt(1, frame(0), points, labels, torch::Tensor());
  const auto b = sixteen.add_prompt(1, frame(0), points.index_select(0, kept),
                                    labels.index_select(0, kept), torch::Tensor());
  EXPECT_TRUE(torch::equal(a.mask_logits, b.mask_logits));
}

// The official video model gives an object added by a prompt a tracker state of its own, so
// it is not in the cohort of the objects born on its frame.
TEST_F(TrackerTest, AnObjectAddedByAPromptHasACohortOfItsOwn) {
  Sam2Tracker tracker(model().tracker());
  tracker.add_object(1, frame(0), blob(0.3, 0.3, 0.15));
  tracker.add_object(2, frame(0), blob(0.7, 0.4, 0.15));
  tracker.add_prompt(3, frame(0), torch::tensor({{0.5f, 0.7f}}), torch::tensor({int64_t{1}}),
                     torch::Tensor());
  for (int64_t t = 1; t <= 3; ++t)
    track(tracker, frame(t), [] {});
  const auto f4 = frame(4);
  track(tracker, f4, [&] { tracker.recondition(1, f4, blob(0.3, 0.3, 0.15)); });
  EXPECT_EQ(sorted(tracker.memory_for(2, 5)).conditioning, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(sorted(tracker.memory_for(3, 5)).conditioning, (std::vector<int64_t>{0}));
}

// A refinement makes its frame a conditioning frame of the cohort and, as the official
// clear_detector_added_cond_frame_in_tracker, turns the refined object's conditioning frames
// from mask inputs (birth, reconditioning) within 16 frames back into ordinary frames of the
// whole cohort, out of the memory selection. A cohort-mate's frames are not its own inputs.
TEST_F(TrackerTest, ARefinementClearsTheObjectsDetectorFramesNearItForTheCohort) {
  for (const int64_t refined : {1, 2}) {
    Sam2Tracker tracker(model().tracker());
    tracker.add_object(1, frame(0), blob(0.3, 0.3, 0.15));
    tracker.add_object(2, frame(0), blob(0.7, 0.4, 0.15));
    for (int64_t t = 1; t <= 20; ++t) {
      const auto f = frame(t);
      track(tracker, f, [&] {
        if (t == 16)
          tracker.recondition(1, f, blob(0.3, 0.3, 0.15));
      });
    }
    tracker.add_prompt(refined, frame(20), torch::tensor({{0.5f, 0.5f}}),
                       torch::tensor({int64_t{1}}), torch::Tensor());
    const std::vector<int64_t> expected =
        refined == 1 ? std::vector<int64_t>{0, 20} : std::vector<int64_t>{0, 16, 20};
    for (const int64_t id : {1, 2}) {
      const auto read = tracker.memory_for(id, 21);
      EXPECT_EQ(sorted(read).conditioning, expected) << "refined " << refined << ", object " << id;
      if (refined == 1) {
        for (const auto &[t, position] : read.previous)
          EXPECT_NE(t, 16) << "object " << id;
        for (const auto &[t, offset] : read.pointers)
          EXPECT_NE(t, 16) << "object " << id;
      }
    }
  }
}

// After a refinement the official preflight re-encodes the frame's memory for the whole
// cohort: each object's latest prediction there, brought to the image size and made not to
// overlap pixel by pixel, binarised as a prompted mask. A cohort-mate's memory that the loop
// wrote from its settled mask is replaced; an object added by a prompt (its own cohort) is not
// touched.
TEST_F(TrackerTest, ARefinementReencodesTheCohortsMemoryWithoutOverlap) {
  ObjectScoreBias bias; // present: masks of decoder logits, which overlap
  bias.set(1e4);
  Sam2Tracker tracker(model().tracker());
  tracker.add_object(1, frame(0), blob(0.4, 0.4, 0.2));
  tracker.add_object(2, frame(0), blob(0.5, 0.45, 0.2));
  tracker.add_prompt(3, frame(0), torch::tensor({{0.45f, 0.45f}}), torch::tensor({int64_t{1}}),
                     torch::Tensor());
  const auto f1 = frame(1);
  const auto predictions = tracker.propagate(f1);
  ASSERT_EQ(predictions.size(), 3u);
  std::vector<torch::Tensor> logits;
  std::vector<float> scores;
  for (const auto &p : predictions) {
    logits.push_back(p.mask_logits);
    scores.push_back(p.object_score_logit);
  }
  tracker.encode_memories(f1, tracker.object_ids(), torch::stack(logits), torch::tensor(scores));
  const auto loop_memory_2 = tracker.memory_features(2, 1).clone();
  const auto loop_memory_3 = tracker.memory_features(3, 1).clone();

  const auto refined = tracker.add_prompt(1, f1, torch::tensor({{0.45f, 0.42f}}),
                                          torch::tensor({int64_t{1}}), torch::Tensor());
  torch::NoGradGuard no_grad;
  auto tracker_model = model().tracker();
  const auto side = tracker_model->config().image_size;
  const auto high_res = torch::nn::functional::interpolate(
      torch::stack({refined.mask_logits, predictions[1].mask_logits}).unsqueeze(1),
      torch::nn::functional::InterpolateFuncOptions()
          .size(std::vector<int64_t>{side, side})
          .mode(torch::kBilinear)
          .align_corners(false));
  const auto separated = non_overlap_by_pixel(high_res.squeeze(1));
  ASSERT_FALSE(torch::equal(separated > 0, high_res.squeeze(1) > 0))
      << "the two predictions must compete for pixels for the test to mean anything";
  const auto expected =
      tracker_model
          ->encode_memory(f1.features[2], separated.unsqueeze(1),
                          torch::tensor({refined.object_score_logit, scores[1]}), true)
          .first.to(torch::kBFloat16);
  for (const int64_t k : {0, 1}) {
    const auto stored = tracker.memory_features(k + 1, 1);
    ASSERT_TRUE(stored.defined()) << "object " << k + 1;
    EXPECT_TRUE(
        torch::allclose(stored.to(torch::kFloat32), expected[k].to(torch::kFloat32), 1e-2, 1e-2))
        << "object " << k + 1 << ", max diff "
        << (stored.to(torch::kFloat32) - expected[k].to(torch::kFloat32)).abs().max().item<float>();
  }
  EXPECT_FALSE(torch::equal(tracker.memory_features(2, 1), loop_memory_2));
  EXPECT_TRUE(torch::equal(tracker.memory_features(3, 1), loop_memory_3));
}

TEST_F(TrackerTest, RemoveAndResetForgetObjects) {
  Sam2Tracker tracker(model().tracker());
  const auto f0 = frame(0);
  tracker.add_object(1, f0, blob(0.3, 0.3, 0.2));
  tracker.add_object(2, f0, blob(0.6, 0.6, 0.2));
  tracker.propagate(frame(1));
  const auto two = tracker.memory_bytes();
  tracker.remove_object(1);
  EXPECT_EQ(tracker.object_ids(), std::vector<int64_t>({2}));
  EXPECT_LT(tracker.memory_bytes(), two);
  EXPECT_EQ(tracker.propagate(frame(2)).size(), 1u);
  EXPECT_THROW(tracker.remove_object(1), std::invalid_argument);
  tracker.reset();
  EXPECT_TRUE(tracker.object_ids().empty());
  EXPECT_EQ(tracker.memory_bytes(), 0);
  // After a reset the stream may start again from frame 0.
  tracker.add_object(1, f0, blob(0.3, 0.3, 0.2));
  EXPECT_EQ(tracker.propagate(frame(1)).size(), 1u);
}

TEST_F(TrackerTest, BadInputGetsClearErrors) {
  Sam2Tracker tracker(model().tracker());
  const auto f0 = frame(0);
  EXPECT_THROW(tracker.add_object(1, f0, torch::zeros({16, 16})), std::invalid_argument);
  tracker.add_object(1, f0, blob(0.3, 0.3, 0.2));
  EXPECT_THROW(tracker.add_object(1, f0, blob(0.3, 0.3, 0.2)), std::invalid_argument);
  tracker.propagate(frame(1));
  EXPECT_THROW(tracker.propagate(frame(1)), std::invalid_argument);
  EXPECT_THROW(tracker.propagate(TrackerFrame{5, {}, torch::Tensor()}), std::invalid_argument);
  EXPECT_THROW(tracker.encode_memories(frame(1), {1}, torch::zeros({2, 32, 32}), torch::zeros({2})),
               std::invalid_argument);
  EXPECT_THROW(tracker.encode_memories(frame(2), {1}, torch::zeros({1, 32, 32}), torch::zeros({1})),
               std::invalid_argument);
}

} // namespace
} // namespace sam3
