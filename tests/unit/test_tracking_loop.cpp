// The video loop's rules (video/tracking_loop.h) and mask operations (video/mask_ops.h) on
// synthetic scenes of rectangles at S = 32, driven by a deterministic tracker defined here.
#include "video/mask_ops.h"
#include "video/tracking_loop.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

namespace {

using sam3::FrameDetections;
using sam3::FrameTracks;
using sam3::ObjectTracker;
using sam3::TrackedObject;
using sam3::TrackerFrame;
using sam3::TrackerPrediction;
using sam3::TrackingLoop;
using sam3::TrackOptions;

constexpr int64_t S = 32;

// Logits +10 inside [x0, x1) x [y0, y1), -10 elsewhere.
torch::Tensor rect(int64_t x0, int64_t y0, int64_t x1, int64_t y1) {
  auto m = torch::full({S, S}, -10.f);
  m.slice(0, y0, y1).slice(1, x0, x1).fill_(10.f);
  return m;
}

// Moves a mask by (dx, dy) pixels; what enters from the border is background.
torch::Tensor shift(const torch::Tensor &m, int64_t dx, int64_t dy) {
  if (dx == 0 && dy == 0)
    return m.clone();
  auto out = torch::full({S, S}, -10.f);
  const int64_t ys0 = std::max<int64_t>(0, -dy), ys1 = std::min<int64_t>(S, S - dy);
  const int64_t xs0 = std::max<int64_t>(0, -dx), xs1 = std::min<int64_t>(S, S - dx);
  if (ys0 < ys1 && xs0 < xs1)
    out.slice(0, ys0 + dy, ys1 + dy)
        .slice(1, xs0 + dx, xs1 + dx)
        .copy_(m.slice(0, ys0, ys1).slice(1, xs0, xs1));
  return out;
}

// Propagates each object's last encoded mask, shifted by its velocity; a lost object comes
// back empty with a negative object score. Memory is only written by encode_memories (for
// visible objects) and by add_object / add_prompt.
class FakeTracker : public ObjectTracker {
public:
  struct Object {
    torch::Tensor mask;
    int64_t dx = 0, dy = 0;
    bool lost = false;
    float logit = 5.f;
    torch::Tensor pinned; // when defined, propagated whatever the memory holds (a stuck tracker)
  };
  struct Recondition {
    int64_t object_id;
    int64_t frame;
    torch::Tensor mask;
  };

  int64_t mask_size() const override { return S; }

  std::vector<TrackerPrediction> propagate(const TrackerFrame &) override {
    std::vector<TrackerPrediction> out;
    for (auto id : order_) {
      const auto &o = objects_.at(id);
      TrackerPrediction p;
      p.object_id = id;
      if (o.lost) {
        p.mask_logits = torch::full({S, S}, -20.f);
        p.object_score_logit = -5.f;
      } else if (o.pinned.defined()) {
        p.mask_logits = o.pinned.clone();
      } else {
        p.mask_logits = shift(o.mask, o.dx, o.dy);
        p.object_score_logit = o.logit;
      }
      p.iou_score = 0.9f;
      out.push_back(p);
    }
    return out;
  }

  void add_object(int64_t id, const TrackerFrame &frame, const torch::Tensor &mask) override {
    insert(id, mask);
    added.emplace_back(id, frame.index);
  }

  TrackerPrediction add_prompt(int64_t id, const TrackerFrame &frame, const torch::Tensor &points,
                               const torch::Tensor &, const torch::Tensor &box) override {
    torch::Tensor mask;
    if (box.defined()) {
      auto b = (box * S).round().to(torch::kLong);
      mask = rect(b[0].item<int64_t>(), b[1].item<int64_t>(), b[2].item<int64_t>(),
                  b[3].item<int64_t>());
    } else {
      auto p = (points[0] * S).to(torch::kLong);
      const auto x = p[0].item<int64_t>(), y = p[1].item<int64_t>();
      mask = rect(x - 2, y - 2, x + 2, y + 2);
    }
    if (objects_.count(id))
      objects_.at(id).mask = mask;
    else
      insert(id, mask);
    prompts.emplace_back(id, frame.index);
    TrackerPrediction p;
    p.object_id = id;
    p.mask_logits = mask.clone();
    p.object_score_logit = 5.f;
    return p;
  }

  void recondition(int64_t id, const TrackerFrame &frame, const torch::Tensor &mask) override {
    reconditions.push_back({id, frame.index, mask.defined() ? mask.clone() : mask});
  }

  void encode_memories(const TrackerFrame &frame, const std::vector<int64_t> &ids,
                       const torch::Tensor &masks, const torch::Tensor &logits) override {
    for (size_t k = 0; k < ids.size(); ++k)
      if (logits[k].item<float>() > 0)
        objects_.at(ids[k]).mask = masks[k].clone();
    encoded_frames.push_back(frame.index);
  }

  void remove_object(int64_t id) override {
    objects_.erase(id);
    order_.erase(std::find(order_.begin(), order_.end(), id));
    removed.push_back(id);
  }
  void reset() override {
    objects_.clear();
    order_.clear();
  }
  std::vector<int64_t> object_ids() const override { return order_; }
  int64_t memory_bytes() const override {
    return static_cast<int64_t>(objects_.size()) * S * S * 4;
  }

  Object &object(int64_t id) { return objects_.at(id); }

  std::vector<std::pair<int64_t, int64_t>> added;   // (id, frame)
  std::vector<std::pair<int64_t, int64_t>> prompts; // (id, frame)
  std::vector<Recondition> reconditions;
  std::vector<int64_t> removed;
  std::vector<int64_t> encoded_frames;

private:
  void insert(int64_t id, const torch::Tensor &mask) {
    Object o;
    o.mask = mask.to(torch::kFloat).clone();
    objects_[id] = o;
    order_.push_back(id);
  }
  std::map<int64_t, Object> objects_;
  std::vector<int64_t> order_;
};

struct Det {
  int64_t x0, y0, x1, y1;
  float score;
  int64_t label = 0;
};

FrameDetections detections(const std::vector<Det> &dets) {
  FrameDetections out;
  if (dets.empty())
    return out;
  std::vector<torch::Tensor> masks;
  std::vector<float> scores;
  for (const auto &d : dets) {
    masks.push_back(rect(d.x0, d.y0, d.x1, d.y1));
    scores.push_back(d.score);
    out.labels.push_back(d.label);
  }
  out.mask_logits = torch::stack(masks);
  out.scores = torch::tensor(scores);
  return out;
}

TrackerFrame frame_at(int64_t index) {
  TrackerFrame f;
  f.index = index;
  return f;
}

std::vector<int64_t> ids_of(const FrameTracks &frame) {
  std::vector<int64_t> ids;
  for (const auto &o : frame.objects)
    ids.push_back(o.object_id);
  return ids;
}

const TrackedObject *find_object(const FrameTracks &frame, int64_t id) {
  for (const auto &o : frame.objects)
    if (o.object_id == id)
      return &o;
  return nullptr;
}

// Detector output as the loop receives it from sam3detect, which already thresholded and
// suppressed duplicates: the rules under test see exactly the detections given.
TrackOptions raw_options(int64_t delay = 0) {
  TrackOptions o;
  o.output_delay = delay;
  o.apply_detection_threshold_and_nms = false;
  return o;
}

struct Scene {
  std::shared_ptr<FakeTracker> tracker = std::make_shared<FakeTracker>();
  TrackingLoop loop;
  std::vector<FrameTracks> outputs;
  int64_t width = 0, height = 0; // TrackerFrame's
  explicit Scene(TrackOptions options) : loop(std::move(options), tracker) {}
  std::vector<FrameTracks> step(int64_t index, const std::vector<Det> &dets) {
    return step_with(index, detections(dets));
  }
  std::vector<FrameTracks> step_with(int64_t index, const FrameDetections &dets) {
    auto frame = frame_at(index);
    frame.width = width;
    frame.height = height;
    auto out = loop.process(frame, dets);
    outputs.insert(outputs.end(), out.begin(), out.end());
    return out;
  }
  void finish() {
    auto out = loop.flush();
    outputs.insert(outputs.end(), out.begin(), out.end());
  }
};

// ---------------------------------------------------------------- mask operations

TEST(MaskOps, IouMatrixBetweenStacks) {
  auto a = torch::stack({rect(0, 0, 8, 8), torch::full({S, S}, -1.f)}) > 0;
  auto b = torch::stack({rect(4, 0, 12, 8), rect(0, 0, 8, 8), torch::full({S, S}, -1.f)}) > 0;
  auto iou = sam3::mask_iou(a, b);
  ASSERT_EQ(iou.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_NEAR(iou[0][0].item<float>(), 32.f / 96.f, 1e-6);
  EXPECT_FLOAT_EQ(iou[0][1].item<float>(), 1.f);
  EXPECT_FLOAT_EQ(iou[0][2].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(iou[1][2].item<float>(), 0.f); // two empty masks
  EXPECT_THROW(sam3::mask_iou(rect(0, 0, 4, 4) > 0, b), std::invalid_argument);
  EXPECT_THROW(sam3::mask_iou(torch::stack({rect(0, 0, 4, 4)}), b), std::invalid_argument);
}

TEST(MaskOps, NmsKeepsTheBestOfOverlappingMasks) {
  auto masks = torch::stack({rect(0, 0, 8, 8), rect(2, 0, 10, 8), rect(20, 20, 28, 28)});
  auto scores = torch::tensor({0.6f, 0.9f, 0.7f});
  EXPECT_EQ(sam3::mask_nms(masks, scores, 0.1), (std::vector<int64_t>{1, 2}));
  // IoU 0.6 is not above 0.7: all kept.
  EXPECT_EQ(sam3::mask_nms(masks, scores, 0.7), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_THROW(sam3::mask_nms(masks, torch::tensor({0.5f}), 0.1), std::invalid_argument);
}

TEST(MaskOps, ConnectedComponentsAreEightConnected) {
  auto m = torch::zeros({1, S, S}, torch::kBool);
  m[0][0][0] = true;
  m[0][1][1] = true;
  m[0][2][2] = true; // a diagonal line: one component
  m[0][0][10] = true;
  m[0][0][11] = true; // a separate pair
  auto areas = sam3::connected_component_areas(m);
  EXPECT_EQ(areas[0][2][2].item<int>(), 3);
  EXPECT_EQ(areas[0][0][0].item<int>(), 3);
  EXPECT_EQ(areas[0][0][10].item<int>(), 2);
  EXPECT_EQ(areas[0][5][5].item<int>(), 0);
}

TEST(MaskOps, FillHolesFillsSmallHolesAndRemovesSprinkles) {
  auto m = rect(4, 4, 20, 20);                     // 256 px object
  m.slice(0, 6, 8).slice(1, 6, 8).fill_(-3.f);     // 4 px hole: filled
  m.slice(0, 10, 15).slice(1, 10, 14).fill_(-3.f); // 20 px hole: kept
  m.slice(0, 26, 27).slice(1, 26, 29).fill_(2.f);  // 3 px sprinkle: removed
  auto tiny = torch::full({S, S}, -10.f);
  tiny.slice(0, 0, 2).slice(1, 0, 3).fill_(4.f); // a 6 px object alone: half its area is 3
  auto out = sam3::fill_holes(torch::stack({m, tiny}), 16);
  EXPECT_FLOAT_EQ(out[0][6][6].item<float>(), 0.1f);
  EXPECT_FLOAT_EQ(out[0][12][12].item<float>(), -3.f);
  EXPECT_FLOAT_EQ(out[0][26][27].item<float>(), -0.1f);
  EXPECT_FLOAT_EQ(out[0][5][5].item<float>(), 10.f);
  EXPECT_EQ((out[1] > 0).sum().item<int64_t>(), 6);
  // The outside background (hundreds of pixels) is never a hole.
  EXPECT_FLOAT_EQ(out[0][0][0].item<float>(), -10.f);
  EXPECT_TRUE(torch::equal(sam3::fill_holes(torch::stack({m}), 0), torch::stack({m})));
}

TEST(MaskOps, NonOverlapGivesContestedPixelsToTheMoreProbableObject) {
  auto masks = torch::stack({rect(0, 0, 12, 8), rect(8, 0, 20, 8)});
  auto out = sam3::non_overlap_by_object(masks, torch::tensor({0.6f, 0.9f}));
  EXPECT_LE(out[0][4][9].item<float>(), -10.f); // contested: object 1 wins
  EXPECT_GT(out[1][4][9].item<float>(), 0.f);
  EXPECT_GT(out[0][4][2].item<float>(), 0.f); // uncontested pixels stay
  auto tie = sam3::non_overlap_by_object(masks, torch::tensor({0.8f, 0.8f}));
  EXPECT_GT(tie[0][4][9].item<float>(), 0.f); // a tie goes to the lower index
  EXPECT_LE(tie[1][4][9].item<float>(), -10.f);
}

TEST(MaskOps, ShrinkageSuppressesMasksThatLoseMostOfTheirArea) {
  auto big = rect(0, 0, 16, 16) * 0.5f; // logits 5
  auto small = rect(4, 4, 8, 8) * 0.2f; // logits 2, inside big: loses every pixel
  auto out = sam3::suppress_shrinkage(torch::stack({big, small}));
  EXPECT_TRUE(torch::equal(out[0], big));
  EXPECT_LE(out[1].max().item<float>(), -10.f);
  auto strong = rect(4, 4, 8, 8) * 0.8f; // logits 8: keeps its pixels; big keeps 240 / 256
  auto kept = sam3::suppress_shrinkage(torch::stack({big, strong}));
  EXPECT_TRUE(torch::equal(kept[0], big));
  EXPECT_TRUE(torch::equal(kept[1], strong));
}

TEST(MaskOps, BoxesFromMasksOnPixelEdges) {
  auto boxes = sam3::boxes_from_masks(torch::stack({rect(2, 3, 10, 7), rect(0, 0, 0, 0)}) > 0);
  ASSERT_EQ(boxes.size(), 2u);
  EXPECT_FLOAT_EQ(boxes[0][0], 2.f / S);
  EXPECT_FLOAT_EQ(boxes[0][1], 3.f / S);
  EXPECT_FLOAT_EQ(boxes[0][2], 10.f / S);
  EXPECT_FLOAT_EQ(boxes[0][3], 7.f / S);
  EXPECT_EQ(boxes[1], (std::array<float, 4>{0.f, 0.f, 0.f, 0.f}));
}

// The official output: the whole low-resolution stack resized to the frame, > 0.
torch::Tensor resized(const torch::Tensor &logits, int64_t width, int64_t height) {
  namespace F = torch::nn::functional;
  return F::interpolate(logits.unsqueeze(0).unsqueeze(0),
                        F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{height, width})
                            .mode(torch::kBilinear)
                            .align_corners(false))[0][0];
}

// The frame mask pasted into a whole frame of -100.
torch::Tensor pasted(const sam3::FrameMask &m, int64_t width, int64_t height) {
  auto frame = torch::full({height, width}, -100.f);
  if (!m.empty())
    frame.slice(0, m.y, m.y + m.height).slice(1, m.x, m.x + m.width).copy_(m.logits);
  return frame;
}

TEST(MaskOps, FrameMaskIsTheResizedMaskCroppedToItsPixels) {
  torch::manual_seed(3);
  // Soft blobs: a random field above a threshold, so edges fall between pixel centres.
  auto blob = torch::randn({S, S}) * 3 - 4;
  blob.slice(0, 5, 14).slice(1, 9, 27).add_(6);
  const std::vector<std::pair<int64_t, int64_t>> sizes = {
      {1280, 720}, {100, 37}, {33, 33}, {20, 12}};
  for (const auto &size : sizes) {
    const auto [width, height] = size;
    const auto whole = resized(blob, width, height);
    const auto m = sam3::frame_mask(blob, width, height);
    ASSERT_FALSE(m.empty());
    const auto rows = (whole > 0).any(1).nonzero(), cols = (whole > 0).any(0).nonzero();
    EXPECT_EQ(m.y, rows[0][0].item<int64_t>()) << width << "x" << height;
    EXPECT_EQ(m.x, cols[0][0].item<int64_t>()) << width << "x" << height;
    EXPECT_EQ(m.y + m.height - 1, rows[-1][0].item<int64_t>()) << width << "x" << height;
    EXPECT_EQ(m.x + m.width - 1, cols[-1][0].item<int64_t>()) << width << "x" << height;
    const auto crop = whole.slice(0, m.y, m.y + m.height).slice(1, m.x, m.x + m.width);
    EXPECT_TRUE(torch::allclose(m.logits, crop, 1e-4, 1e-4)) << width << "x" << height;
  }
  EXPECT_TRUE(sam3::frame_mask(torch::full({S, S}, -1.f), 640, 480).empty());
}

TEST(MaskOps, FrameMasksGiveContestedPixelsToTheMoreProbableObject) {
  const int64_t width = 96, height = 64;
  const auto a = rect(0, 0, 12, 8), b = rect(8, 0, 20, 8), inside = rect(2, 2, 6, 6);
  std::vector<sam3::FrameMask> masks = {sam3::frame_mask(a, width, height),
                                        sam3::frame_mask(b, width, height),
                                        sam3::frame_mask(inside, width, height)};
  const std::vector<float> probabilities = {0.6f, 0.9f, 0.5f};
  const auto boxes_before = std::vector<int64_t>{masks[2].x, masks[2].y, masks[2].width};
  sam3::non_overlap_frame_masks(masks, probabilities);
  // The same decisions as non_overlap_by_object on the whole frames.
  const auto whole = sam3::non_overlap_by_object(
      torch::stack(
          {resized(a, width, height), resized(b, width, height), resized(inside, width, height)}),
      torch::tensor(probabilities));
  for (int64_t k = 0; k < 3; ++k)
    EXPECT_TRUE(torch::equal(pasted(masks[k], width, height) > 0, whole[k] > 0)) << k;
  EXPECT_FALSE((masks[2].logits > 0).any().item<bool>()); // all inside a more probable one
  EXPECT_EQ((std::vector<int64_t>{masks[2].x, masks[2].y, masks[2].width}), boxes_before);
  // A tie goes to the lower index; a probability of 0 keeps nothing.
  std::vector<sam3::FrameMask> tie = {sam3::frame_mask(a, width, height),
                                      sam3::frame_mask(b, width, height)};
  sam3::non_overlap_frame_masks(tie, {0.8f, 0.8f});
  EXPECT_TRUE((pasted(tie[0], width, height) > 0)[4 * 2][9 * 3].item<bool>());
  EXPECT_FALSE((pasted(tie[1], width, height) > 0)[4 * 2][9 * 3].item<bool>());
  std::vector<sam3::FrameMask> zero = {sam3::frame_mask(a, width, height)};
  sam3::non_overlap_frame_masks(zero, {0.f});
  EXPECT_FALSE((zero[0].logits > 0).any().item<bool>());
}

// ---------------------------------------------------------------- the loop

TEST(TrackingLoop, ReportsMasksAndBoxesAtTheFrameSize) {
  // Soft edges (+10 inside, -2 outside) put the resized masks' edges between low-resolution
  // pixel edges, so boxes at the frame's size differ from boxes at S.
  const auto soft = [](const torch::Tensor &m) { return m.clamp_min(-2.f); };
  FrameDetections dets;
  dets.mask_logits = torch::stack({soft(rect(4, 4, 12, 12)), soft(rect(6, 6, 10, 10))});
  dets.scores = torch::tensor({0.9f, 0.8f});
  dets.labels = {0, 0};
  Scene run(raw_options());
  run.width = 320;
  run.height = 200;
  auto out = run.step_with(0, dets);
  ASSERT_EQ(out.size(), 1u);
  // The second object lies inside the first, more probable one: the non-overlap step leaves it
  // no pixel, and it is still reported with its box, as the official output does.
  ASSERT_EQ(ids_of(out[0]), (std::vector<int64_t>{0, 1}));
  for (int64_t k = 0; k < 2; ++k) {
    const auto &o = out[0].objects[k];
    const auto whole = resized(dets.mask_logits[k], run.width, run.height) > 0;
    const auto rows = whole.any(1).nonzero(), cols = whole.any(0).nonzero();
    const std::array<float, 4> expected = {
        cols[0][0].item<float>() / run.width, rows[0][0].item<float>() / run.height,
        (cols[-1][0].item<float>() + 1) / run.width, (rows[-1][0].item<float>() + 1) / run.height};
    EXPECT_EQ(o.box, expected) << k;
    EXPECT_NE(o.box, sam3::boxes_from_masks(dets.mask_logits[k].unsqueeze(0) > 0)[0]) << k;
    EXPECT_EQ(o.frame_mask.width, cols[-1][0].item<int64_t>() - cols[0][0].item<int64_t>() + 1);
  }
  EXPECT_TRUE((out[0].objects[0].frame_mask.logits > 0).any().item<bool>());
  EXPECT_FALSE((out[0].objects[1].frame_mask.logits > 0).any().item<bool>());
}

TEST(TrackingLoop, IdSurvivesMissedDetectionsAndOcclusion) {
  Scene run(raw_options());
  const Det a{4, 4, 12, 12, 0.9f};
  for (int64_t f = 0; f < 40; ++f) {
    const bool detected = !(f >= 10 && f < 15) && f != 20 && !(f >= 24 && f < 29);
    if (f == 24)
      run.tracker->object(0).lost = true; // the tracker loses it too: a real occlusion
    if (f == 29)
      run.tracker->object(0).lost = false;
    auto out = run.step(f, detected ? std::vector<Det>{a} : std::vector<Det>{});
    ASSERT_EQ(out.size(), 1u);
    if (f >= 24 && f < 29)
      EXPECT_TRUE(out[0].objects.empty()) << "frame " << f;
    else
      EXPECT_EQ(ids_of(out[0]), (std::vector<int64_t>{0})) << "frame " << f;
  }
  EXPECT_EQ(run.loop.num_objects(), 1u);
  EXPECT_EQ(run.tracker->added.size(), 1u);
}

TEST(TrackingLoop, DuplicateDetectionOverlappingATrackIsNotBorn) {
  Scene run(raw_options());
  run.step(0, {{4, 4, 12, 12, 0.9f}});
  for (int64_t f = 1; f < 6; ++f) {
    std::vector<Det> dets = {{4, 4, 12, 12, 0.9f},
                             {6, 4, 14, 12, 0.95f},  // IoU 0.6 with the track: a duplicate
                             {20, 0, 28, 8, 0.65f}}; // alone but below new_det_thresh
    if (f == 3)
      dets.push_back({20, 20, 28, 28, 0.9f}); // a real newcomer
    run.step(f, dets);
  }
  EXPECT_EQ(run.loop.object_ids(), (std::vector<int64_t>{0, 1}));
  ASSERT_EQ(run.tracker->added.size(), 2u);
  EXPECT_EQ(run.tracker->added[1], (std::pair<int64_t, int64_t>{1, 3}));
}

TEST(TrackingLoop, DetectionNmsIsPerLabel) {
  TrackOptions options;
  Scene run(options);
  auto out = run.step(0, {{4, 4, 12, 12, 0.9f, 0},
                          {5, 4, 13, 12, 0.8f, 0},     // same label, overlapping: suppressed
                          {5, 4, 13, 12, 0.8f, 1},     // the same mask for another prompt
                          {20, 20, 28, 28, 0.4f, 0}}); // under score_threshold_detection
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(run.tracker->added.size(), 2u);
  EXPECT_EQ(run.loop.num_objects(), 2u);
  std::set<int64_t> labels;
  for (const auto &o : out[0].objects)
    labels.insert(o.label);
  EXPECT_EQ(labels, (std::set<int64_t>{0, 1}));
}

// B (id 1) is born on frame 2 and matched on `b_frames` only; the tracker keeps it visible.
std::vector<FrameTracks> newborn_run(int64_t delay, const std::set<int64_t> &b_frames,
                                     std::shared_ptr<FakeTracker> *tracker_out = nullptr,
                                     size_t *objects_left = nullptr) {
  Scene run(raw_options(delay));
  for (int64_t f = 0; f < 40; ++f) {
    std::vector<Det> dets = {{0, 0, 8, 8, 0.9f}};
    if (f == 2 || b_frames.count(f))
      dets.push_back({20, 20, 28, 28, 0.9f});
    run.step(f, dets);
  }
  run.finish();
  if (tracker_out)
    *tracker_out = run.tracker;
  if (objects_left)
    *objects_left = run.loop.num_objects();
  return run.outputs;
}

TEST(TrackingLoop, NewbornUnmatchedOnEightOfItsFirstFramesIsRemoved) {
  // Unmatched on frames 3, 4, 6, 7, 8, 10, 11, 12: removed on frame 12.
  std::shared_ptr<FakeTracker> tracker;
  size_t left = 0;
  auto live = newborn_run(0, {5, 9}, &tracker, &left);
  ASSERT_EQ(live.size(), 40u);
  for (int64_t f = 0; f < 40; ++f) {
    const bool has_b = find_object(live[f], 1) != nullptr;
    EXPECT_EQ(has_b, f >= 2 && f < 12) << "frame " << f;
    EXPECT_NE(find_object(live[f], 0), nullptr) << "frame " << f;
  }
  EXPECT_EQ(left, 1u);
  EXPECT_EQ(tracker->removed, (std::vector<int64_t>{1}));

  // With the reference's delay the retracted object never shows.
  auto delayed = newborn_run(15, {5, 9});
  ASSERT_EQ(delayed.size(), 40u);
  for (int64_t f = 0; f < 40; ++f) {
    EXPECT_EQ(delayed[f].frame_index, f);
    EXPECT_EQ(ids_of(delayed[f]), (std::vector<int64_t>{0})) << "frame " << f;
  }

  // Seven unmatched frames (3..9) are not enough.
  std::set<int64_t> matched_late;
  for (int64_t f = 10; f < 40; ++f)
    matched_late.insert(f);
  newborn_run(0, matched_late, nullptr, &left);
  EXPECT_EQ(left, 2u);
}

TEST(TrackingLoop, FramesWithoutTheDetectorOnlyPropagate) {
  // A newborn followed by 12 frames on which the detector did not run (a detection interval):
  // they neither count as unmatched (it survives its hotstart) nor give births or
  // reconditioning.
  Scene run(raw_options());
  run.step(0, {{2, 2, 10, 10, 0.95f}});
  for (int64_t f = 1; f <= 20; ++f) {
    FrameDetections skipped;
    skipped.detector_ran = false;
    auto out = run.loop.process(frame_at(f), skipped);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(ids_of(out[0]), (std::vector<int64_t>{0})) << "frame " << f;
  }
  EXPECT_TRUE(run.tracker->removed.empty());
  EXPECT_TRUE(run.tracker->reconditions.empty()) << "frame 16 had no detection to recondition on";
  // The same frames as empty detections remove the newborn.
  Scene empty(raw_options());
  empty.step(0, {{2, 2, 10, 10, 0.95f}});
  for (int64_t f = 1; f <= 20; ++f)
    empty.step(f, {});
  EXPECT_EQ(empty.tracker->removed, (std::vector<int64_t>{0}));
}

TEST(TrackingLoop, YoungerOfTwoDuplicateTracksIsRemoved) {
  Scene run(raw_options());
  const Det a{0, 0, 8, 8, 0.9f}, b{12, 0, 20, 8, 0.9f};
  const Det both{0, 0, 20, 8, 0.6f}; // IoU 0.4 with each: matches both, too weak to be born
  for (int64_t f = 0; f < 20; ++f) {
    std::vector<Det> dets = {a};
    // B's detections stop when it is removed (else it would be born again, under a new id).
    if (f >= 3 && f <= 11)
      dets.push_back(b);
    if (f >= 4 && f <= 11)
      dets.push_back(both);
    run.step(f, dets);
    if (f == 10) {
      EXPECT_EQ(run.loop.num_objects(), 2u); // seven overlapping frames so far
    }
  }
  EXPECT_EQ(run.loop.object_ids(), (std::vector<int64_t>{0}));
  EXPECT_EQ(run.tracker->removed, (std::vector<int64_t>{1}));
  EXPECT_EQ(find_object(run.outputs[11], 1), nullptr);
  EXPECT_NE(find_object(run.outputs[10], 1), nullptr);
}

TEST(TrackingLoop, TracksStuckOnOneDetectionAreRetiredButTheOldest) {
  // Past hotstart, tracks B and C get stuck on A's mask (what a weak tracker does): one
  // detection then matches all three. Only A, the oldest, is kept alive by it; B and C count as
  // lost and are retired after max_lost_frames, so duplicates cannot pile up on a stream.
  auto options = raw_options();
  options.max_lost_frames = 10;
  Scene run(options);
  const Det a{0, 0, 8, 8, 0.9f}, b{12, 0, 20, 8, 0.9f}, c{0, 12, 8, 20, 0.9f};
  for (int64_t f = 0; f < 20; ++f)
    run.step(f, {a, b, c});
  ASSERT_EQ(run.loop.object_ids(), (std::vector<int64_t>{0, 1, 2}));
  run.tracker->object(1).pinned = rect(0, 0, 8, 8);
  run.tracker->object(2).pinned = rect(0, 0, 8, 8);
  for (int64_t f = 20; f < 29; ++f)
    run.step(f, {a});
  EXPECT_EQ(run.loop.object_ids(), (std::vector<int64_t>{0, 1, 2})); // 9 frames lost so far
  run.step(29, {a});
  EXPECT_EQ(run.loop.object_ids(), (std::vector<int64_t>{0}));
  EXPECT_EQ(run.tracker->removed, (std::vector<int64_t>{1, 2}));
  for (int64_t f = 30; f < 60; ++f)
    run.step(f, {a});
  EXPECT_EQ(run.loop.object_ids(), (std::vector<int64_t>{0}));
}

TEST(TrackingLoop, ReconditionsConfidentTracksOnEveryNthFrameOnly) {
  for (const bool on_tracker_masks : {false, true}) {
    auto options = raw_options();
    options.video.recondition_on_trk_masks = on_tracker_masks;
    Scene run(options);
    run.step(0, {{2, 2, 10, 10, 0.95f}, {20, 2, 28, 10, 0.75f}, {2, 20, 10, 28, 0.95f}});
    run.tracker->object(2).logit = 0.5f; // visible but not confident
    for (int64_t f = 1; f < 50; ++f)
      run.step(f, {{2, 2, 10, 11, 0.95f}, // IoU 64 / 72 with the track
                   {20, 2, 28, 10, 0.75f},
                   {2, 20, 10, 28, 0.95f}});
    std::vector<int64_t> frames;
    for (const auto &r : run.tracker->reconditions) {
      EXPECT_EQ(r.object_id, 0);
      frames.push_back(r.frame);
      // Official: the detection's mask gives the pointer; transformers' switch keeps the
      // tracker's own prediction (no mask handed over).
      if (on_tracker_masks)
        EXPECT_FALSE(r.mask.defined()) << "frame " << r.frame;
      else
        EXPECT_TRUE(torch::equal(r.mask > 0, rect(2, 2, 10, 11) > 0)) << "frame " << r.frame;
    }
    EXPECT_EQ(frames, (std::vector<int64_t>{16, 32, 48}));
  }
}

TEST(TrackingLoop, AReconditionedTrackShowsTheDetectionAndRemembersItsOwnMask) {
  Scene run(raw_options());
  run.step(0, {{2, 2, 10, 10, 0.95f}});
  for (int64_t f = 1; f <= 16; ++f) {
    auto out = run.step(f, {{2, 2, 10, 11, 0.95f}}); // IoU 64 / 72 with the track
    ASSERT_EQ(out.size(), 1u);
    const auto *shown = find_object(out[0], 0);
    ASSERT_NE(shown, nullptr);
    const auto &expected = f == 16 ? rect(2, 2, 10, 11) : rect(2, 2, 10, 10);
    EXPECT_TRUE(torch::equal(shown->mask_logits > 0, expected > 0)) << "frame " << f;
  }
  ASSERT_EQ(run.tracker->reconditions.size(), 1u);
  // The memory of frame 16 is still the tracker's own mask.
  EXPECT_TRUE(torch::equal(run.tracker->object(0).mask > 0, rect(2, 2, 10, 10) > 0));
}

TEST(TrackingLoop, AnObjectKeepsTheScoreOfTheDetectionThatCreatedIt) {
  Scene run(raw_options());
  run.step(0, {{2, 2, 10, 10, 0.75f}});
  for (int64_t f = 1; f < 5; ++f) {
    auto out = run.step(f, {{2, 2, 10, 10, 0.95f}});
    ASSERT_NE(find_object(out[0], 0), nullptr);
    EXPECT_FLOAT_EQ(find_object(out[0], 0)->score, 0.75f) << "frame " << f;
  }
}

TEST(TrackingLoop, SuppressesTheMoreRecentlyOccludedOfOverlappingTracks) {
  for (const bool strong_overlap : {true, false}) {
    Scene run(raw_options());
    const Det a{2, 2, 14, 14, 0.9f}, b{18, 18, 30, 30, 0.9f};
    // A is occluded on frame 3, B on frame 6 (tracker and detector both lose them).
    for (int64_t f = 0; f < 8; ++f) {
      if (f > 0) {
        run.tracker->object(0).lost = f == 3;
        run.tracker->object(1).lost = f == 6;
      }
      std::vector<Det> dets;
      if (f != 3)
        dets.push_back(a);
      if (f != 6)
        dets.push_back(b);
      run.step(f, dets);
    }
    // B moves onto A: IoU 0.85 (or 0.5).
    run.tracker->object(1).mask = strong_overlap ? rect(3, 2, 15, 14) : rect(6, 2, 18, 14);
    auto out = run.step(8, {a});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(find_object(out[0], 0), nullptr);
    EXPECT_EQ(find_object(out[0], 1) == nullptr, strong_overlap);
  }
}

TEST(TrackingLoop, OutputMasksDoNotOverlapAndFavourTheMoreProbableTrack) {
  // Both tracks keep their whole rectangle in memory, so that they overlap on the next frame.
  auto options = raw_options();
  options.non_overlapping_births = false;
  Scene run(options);
  run.step(0, {{2, 2, 14, 14, 0.9f}, {8, 2, 20, 14, 0.9f}}); // IoU 0.33
  run.tracker->object(0).logit = 1.f;
  run.tracker->object(1).logit = 4.f;
  auto out = run.step(1, {{2, 2, 14, 14, 0.9f}, {8, 2, 20, 14, 0.9f}});
  ASSERT_EQ(ids_of(out[0]), (std::vector<int64_t>{0, 1}));
  const auto &a = out[0].objects[0], &b = out[0].objects[1];
  EXPECT_LT(a.tracker_probability, b.tracker_probability);
  auto both = (a.mask_logits > 0) & (b.mask_logits > 0);
  EXPECT_EQ(both.sum().item<int64_t>(), 0);
  EXPECT_GT(b.mask_logits[5][10].item<float>(), 0.f);
  EXPECT_GT(a.mask_logits[5][4].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(a.box[2], 14.f / S); // the box is of the mask before the split
}

// An object whose every pixel goes to a more probable one is not output (the references drop
// masks with no area after the non-overlap step), but it stays tracked.
// As _postprocess_output: an object whose mask is empty is not output (it stays tracked); one
// that only the non-overlap step empties is, with the box of its own mask.
TEST(TrackingLoop, OnlyObjectsWithoutPixelsBeforeTheNonOverlapStepAreLeftOut) {
  for (const int64_t size : {int64_t{0}, int64_t{96}}) {
    Scene run(raw_options());
    run.width = run.height = size;
    run.step(0, {{2, 2, 14, 14, 0.9f}, {4, 4, 10, 10, 0.9f}});
    run.tracker->object(0).logit = 4.f;
    run.tracker->object(1).logit = 1.f;
    auto out = run.step(1, {{2, 2, 14, 14, 0.9f}, {4, 4, 10, 10, 0.9f}});
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(ids_of(out[0]), (std::vector<int64_t>{0, 1})) << "frame size " << size;
    const auto &hidden = out[0].objects[1];
    EXPECT_FALSE(((size ? hidden.frame_mask.logits : hidden.mask_logits) > 0).any().item<bool>());
    EXPECT_FLOAT_EQ(hidden.box[0], 4.f / S);
    EXPECT_FLOAT_EQ(hidden.box[2], 10.f / S);
    run.tracker->object(1).lost = true;
    out = run.step(2, {{2, 2, 14, 14, 0.9f}});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(ids_of(out[0]), (std::vector<int64_t>{0})) << "frame size " << size;
    EXPECT_EQ(run.loop.object_ids().size(), 2u);
  }
}

// Objects born together remember masks that do not overlap: each contested pixel goes to the
// first of them (the official cohort add); what they show on their birth frame is still their
// detection. transformers writes each memory from its own detection.
TEST(TrackingLoop, ObjectsBornTogetherRememberMasksThatDoNotOverlap) {
  for (const bool separate : {true, false}) {
    auto options = raw_options();
    options.non_overlapping_births = separate;
    Scene run(options);
    auto out = run.step(0, {{2, 2, 12, 12, 0.9f}, {8, 2, 18, 12, 0.9f}});
    ASSERT_EQ(ids_of(out[0]), (std::vector<int64_t>{0, 1}));
    const auto &first = run.tracker->object(0).mask, &second = run.tracker->object(1).mask;
    EXPECT_GT(first[5][9].item<float>(), 0.f);
    EXPECT_GT(second[5][14].item<float>(), 0.f);
    EXPECT_EQ(second[5][9].item<float>() > 0.f, !separate) << "separate " << separate;
    EXPECT_EQ(run.tracker->encoded_frames.size(), separate ? 1u : 0u);
  }
  // Newborns that do not touch keep the memories add_object wrote.
  Scene apart(raw_options());
  apart.step(0, {{2, 2, 6, 6, 0.9f}, {10, 10, 14, 14, 0.9f}});
  EXPECT_TRUE(apart.tracker->encoded_frames.empty());
}

TEST(TrackingLoop, ObjectLimitKeepsTheHighestScoringNewDetections) {
  auto options = raw_options();
  options.max_objects = 2;
  Scene run(options);
  auto out = run.step(0, {{0, 0, 6, 6, 0.75f}, {10, 0, 16, 6, 0.95f}, {20, 0, 26, 6, 0.85f}});
  ASSERT_EQ(ids_of(out[0]), (std::vector<int64_t>{0, 1}));
  EXPECT_FLOAT_EQ(out[0].objects[0].score, 0.95f);
  EXPECT_FLOAT_EQ(out[0].objects[1].score, 0.85f);
  EXPECT_TRUE(out[0].objects[0].is_new);
  run.step(1, {{10, 0, 16, 6, 0.95f}, {20, 0, 26, 6, 0.85f}, {0, 20, 6, 26, 0.99f}});
  EXPECT_EQ(run.loop.num_objects(), 2u);
  EXPECT_EQ(run.tracker->added.size(), 2u);
}

TEST(TrackingLoop, LabelsNeverCrossMatch) {
  Scene run(raw_options());
  run.step(0, {{4, 4, 12, 12, 0.9f, 0}});
  // The same mask for another prompt is a new object, and does not match track 0.
  for (int64_t f = 1; f < 12; ++f)
    run.step(f, {{4, 4, 12, 12, 0.9f, 1}});
  ASSERT_EQ(run.tracker->added.size(), 2u);
  // Track 0 went unmatched from frame 1: removed on frame 8; track 1 (label 1) stays.
  EXPECT_EQ(run.loop.object_ids(), (std::vector<int64_t>{1}));
  const auto *kept = find_object(run.outputs.back(), 1);
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->label, 1);
}

// Two prompts at once ("person;car"): each prompt's object is associated only with its own
// detections, so two objects of different prompts crossing each other keep their ids and
// labels, and neither is taken for a duplicate of the other.
TEST(TrackingLoop, TwoPromptsTrackTheirOwnObjectsThroughACrossing) {
  Scene run(raw_options());
  run.step(0, {{0, 12, 6, 18, 0.9f, 0}, {26, 12, 32, 18, 0.9f, 1}});
  run.tracker->object(0).dx = 1;
  run.tracker->object(1).dx = -1;
  for (int64_t f = 1; f <= 26; ++f) {
    // The detector sees both where they are, under their own prompt.
    auto out = run.step(f, {{f, 12, f + 6, 18, 0.9f, 0}, {26 - f, 12, 32 - f, 18, 0.9f, 1}});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(run.loop.object_ids(), (std::vector<int64_t>{0, 1})) << "frame " << f;
    for (const auto &o : out[0].objects)
      EXPECT_EQ(o.label, o.object_id) << "frame " << f; // object 0 is prompt 0's, 1 is 1's
  }
  // They crossed: object 0 is now on the right, object 1 on the left.
  const auto *right = find_object(run.outputs.back(), 0);
  const auto *left = find_object(run.outputs.back(), 1);
  ASSERT_NE(right, nullptr);
  ASSERT_NE(left, nullptr);
  EXPECT_GT(right->box[0], left->box[0]);
  EXPECT_EQ(run.tracker->added.size(), 2u);
  EXPECT_TRUE(run.tracker->removed.empty());
}

// An object that first appears long into the stream is born then, under a new id, and
// tracked from there; the object already in the scene keeps its id. Live (no delay) and
// file mode (the official release delay) alike.
TEST(TrackingLoop, AnObjectFirstSeenAtFrame100IsBornAndTracked) {
  for (const int64_t delay : {0, 14}) {
    Scene run(raw_options(delay));
    const Det a{2, 2, 8, 8, 0.9f}, b{20, 20, 26, 26, 0.9f};
    for (int64_t f = 0; f < 160; ++f)
      run.step(f, f < 100 ? std::vector<Det>{a} : std::vector<Det>{a, b});
    run.finish();
    ASSERT_EQ(run.outputs.size(), 160u);
    EXPECT_EQ(run.tracker->added, (std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {1, 100}}));
    for (int64_t f = 0; f < 160; ++f) {
      const auto &frame = run.outputs[f];
      ASSERT_EQ(frame.frame_index, f);
      const std::vector<int64_t> expected =
          f < 100 ? std::vector<int64_t>{0} : std::vector<int64_t>{0, 1};
      EXPECT_EQ(ids_of(frame), expected) << "delay " << delay << ", frame " << f;
    }
    EXPECT_TRUE(find_object(run.outputs[100], 1)->is_new);
    EXPECT_FALSE(find_object(run.outputs[101], 1)->is_new);
  }
}

TEST(TrackingLoop, OutputDelayHoldsFramesUntilFlush) {
  Scene run(raw_options(3));
  for (int64_t f = 0; f < 10; ++f) {
    auto out = run.step(f, {{4, 4, 12, 12, 0.9f}});
    if (f < 3) {
      EXPECT_TRUE(out.empty());
    } else {
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].frame_index, f - 3);
      EXPECT_EQ(out[0].objects.size(), 1u);
    }
  }
  EXPECT_EQ(run.loop.frames_held(), 3u);
  auto rest = run.loop.flush();
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].frame_index, 7);
  EXPECT_EQ(rest[2].frame_index, 9);
  EXPECT_EQ(run.loop.frames_held(), 0u);
}

TEST(TrackingLoop, InteractiveObjectsAddRefineRemove) {
  Scene run(raw_options(2));
  for (int64_t f = 0; f < 3; ++f)
    run.step(f, {});
  const int64_t id = run.loop.add_object(frame_at(2), torch::Tensor(), torch::Tensor(),
                                         torch::tensor({0.25f, 0.25f, 0.5f, 0.5f}), 7);
  EXPECT_EQ(id, 0);
  for (int64_t f = 3; f < 30; ++f)
    run.step(f, {}); // never detected: interactive objects are not hotstart-removed
  ASSERT_EQ(run.outputs.size(), 28u);
  const auto *shown = find_object(run.outputs[2], id); // frame 2 was still held back
  ASSERT_NE(shown, nullptr);
  EXPECT_EQ(shown->label, 7);
  EXPECT_EQ(run.outputs.back().objects.size(), 1u);

  run.loop.refine_object(id, frame_at(29), torch::tensor({{0.75f, 0.75f}}), torch::tensor({1}));
  EXPECT_EQ(run.tracker->prompts.back(), (std::pair<int64_t, int64_t>{0, 29}));
  run.loop.remove_object(id);
  EXPECT_EQ(run.loop.num_objects(), 0u);
  run.finish();
  EXPECT_EQ(find_object(run.outputs.back(), id), nullptr); // purged from held frames
  EXPECT_THROW(run.loop.remove_object(id), std::invalid_argument);
  EXPECT_THROW(
      run.loop.refine_object(42, frame_at(29), torch::tensor({{0.5f, 0.5f}}), torch::tensor({1})),
      std::invalid_argument);
  EXPECT_THROW(
      run.loop.add_object(frame_at(29), torch::Tensor(), torch::Tensor(), torch::Tensor(), 0),
      std::invalid_argument);
}

// The official add_tracker_new_points starts a new object under an id it no longer tracks (and
// takes it out of the hot-start removed set): clicks on a removed object's id bring it back
// under that id, with its label, as a prompted object; ids are still never reused otherwise.
TEST(TrackingLoop, ClicksOnARemovedObjectsIdBringItBackUnderThatId) {
  Scene run(raw_options(0));
  run.step(0, {{2, 2, 10, 10, 0.9f, 2}});
  int64_t f = 1;
  for (; run.loop.num_objects() > 0 && f < 30; ++f)
    run.step(f, {}); // a newborn unmatched on 8 of its first frames: hot-start removed
  ASSERT_EQ(run.tracker->removed, (std::vector<int64_t>{0}));
  const auto last = frame_at(f - 1);
  EXPECT_TRUE(run.loop.refine_object(0, last, torch::tensor({{0.2f, 0.2f}}), torch::tensor({1})));
  EXPECT_EQ(run.loop.object_ids(), (std::vector<int64_t>{0}));
  EXPECT_EQ(run.tracker->prompts.back(), (std::pair<int64_t, int64_t>{0, f - 1}));
  run.step(f, {{20, 20, 28, 28, 0.9f, 1}});
  const auto &out = run.outputs.back();
  const auto *back = find_object(out, 0);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->label, 2);
  EXPECT_FLOAT_EQ(back->score, 1.f);
  EXPECT_EQ(ids_of(out), (std::vector<int64_t>{0, 1})); // the next birth takes a fresh id

  // Removed by the user, then brought back again; refined while tracked, it is no revival.
  run.loop.remove_object(0);
  EXPECT_TRUE(
      run.loop.refine_object(0, frame_at(f), torch::tensor({{0.2f, 0.2f}}), torch::tensor({1})));
  EXPECT_FALSE(
      run.loop.refine_object(0, frame_at(f), torch::tensor({{0.3f, 0.3f}}), torch::tensor({1})));
  EXPECT_THROW(
      run.loop.refine_object(7, frame_at(f), torch::tensor({{0.2f, 0.2f}}), torch::tensor({1})),
      std::invalid_argument); // never issued
  // A seek forgets the removed ones too: nothing after it is confused with what came before.
  run.loop.remove_object(1);
  run.loop.reset();
  EXPECT_THROW(
      run.loop.refine_object(1, frame_at(0), torch::tensor({{0.2f, 0.2f}}), torch::tensor({1})),
      std::invalid_argument);
}

// The official add_tracker_new_points discards a refined object from the suppressed sets of
// every frame: frames still held back show it again; later frames apply the rule afresh.
TEST(TrackingLoop, ARefinementShowsTheObjectOnHeldFramesThatSuppressedIt) {
  auto options = raw_options(3);
  options.video.suppress_unmatched_only_within_hotstart = false;
  options.video.init_trk_keep_alive = 1;
  options.video.hotstart_delay = 0;
  options.max_lost_frames = 0;
  Scene run(options);
  run.step(0, {{2, 2, 10, 10, 0.9f}});
  for (int64_t f = 1; f < 4; ++f)
    run.step(f, {}); // unmatched: keep-alive 0 from frame 1, suppressed from then on
  run.loop.refine_object(0, frame_at(3), torch::tensor({{0.2f, 0.2f}}), torch::tensor({1}));
  run.step(4, {});
  run.finish();
  ASSERT_EQ(run.outputs.size(), 5u);
  EXPECT_NE(find_object(run.outputs[0], 0), nullptr);
  for (int64_t f = 1; f < 4; ++f)
    EXPECT_NE(find_object(run.outputs[f], 0), nullptr) << "frame " << f << " was still held";
  EXPECT_EQ(find_object(run.outputs[4], 0), nullptr) << "frame 4 is suppressed again";
}

// The official video model scores an object 1.0 once a user prompted it (added or refined),
// and takes it as certain (tracker probability 1.0) on the prompted frame.
TEST(TrackingLoop, APromptedObjectScoresOne) {
  Scene run(raw_options(1));
  run.step(0, {{2, 2, 10, 10, 0.75f}});
  run.step(1, {{2, 2, 10, 10, 0.75f}});
  run.loop.refine_object(0, frame_at(1), torch::tensor({{0.2f, 0.2f}}), torch::tensor({1}));
  const int64_t added = run.loop.add_object(frame_at(1), torch::Tensor(), torch::Tensor(),
                                            torch::tensor({0.5f, 0.5f, 0.9f, 0.9f}), 0);
  run.step(2, {{4, 4, 8, 8, 0.75f}});
  run.finish();
  ASSERT_EQ(run.outputs.size(), 3u);
  const auto *before = find_object(run.outputs[0], 0);
  const auto *refined = find_object(run.outputs[1], 0);
  const auto *prompted = find_object(run.outputs[1], added);
  const auto *after = find_object(run.outputs[2], 0);
  ASSERT_TRUE(before && refined && prompted && after);
  EXPECT_FLOAT_EQ(before->score, 0.75f);
  EXPECT_FLOAT_EQ(refined->score, 1.f);
  EXPECT_FLOAT_EQ(refined->tracker_probability, 1.f);
  EXPECT_FLOAT_EQ(prompted->tracker_probability, 1.f);
  EXPECT_FLOAT_EQ(after->score, 1.f);
  EXPECT_LT(after->tracker_probability, 1.f); // tracked again
}

TEST(TrackingLoop, ResetForgetsObjectsButNeverReusesIds) {
  Scene run(raw_options());
  run.step(0, {{4, 4, 12, 12, 0.9f}});
  run.loop.reset();
  EXPECT_EQ(run.loop.num_objects(), 0u);
  auto out = run.step(0, {{4, 4, 12, 12, 0.9f}}); // frame numbers may restart after reset
  EXPECT_EQ(ids_of(out[0]), (std::vector<int64_t>{1}));
}

TEST(TrackingLoop, RejectsBadInput) {
  EXPECT_THROW(TrackingLoop(raw_options(), nullptr), std::invalid_argument);
  EXPECT_THROW(TrackingLoop(raw_options(-1), std::make_shared<FakeTracker>()),
               std::invalid_argument);
  Scene run(raw_options());
  run.step(5, {});
  EXPECT_THROW(run.step(5, {}), std::invalid_argument);
  FrameDetections mismatched = detections({{0, 0, 4, 4, 0.9f}});
  mismatched.labels.push_back(0);
  EXPECT_THROW(run.loop.process(frame_at(6), mismatched), std::invalid_argument);
  FrameDetections bad_score = detections({{0, 0, 4, 4, 1.5f}});
  EXPECT_THROW(run.loop.process(frame_at(7), bad_score), std::invalid_argument);
}

TEST(TrackingLoop, BookkeepingStaysBoundedOnLongStreams) {
  auto options = raw_options(15);
  options.max_lost_frames = 30;
  Scene run(options);
  const Det resident{0, 0, 6, 6, 0.9f};
  int64_t visitor = -1;
  size_t most_bookkeeping = 0, most_objects = 0;
  std::set<int64_t> ids_seen;
  for (int64_t f = 0; f < 10000; ++f) {
    std::vector<Det> dets = {resident};
    // A one-frame false positive every 10 frames: born, then retracted by hotstart.
    if (f % 10 == 5) {
      const int64_t x = 8 + 8 * ((f / 10) % 3);
      dets.push_back({x, 24, x + 4, 28, 0.9f});
    }
    // A visitor every 100 frames, detected for 40 frames, then gone from tracker and detector.
    const int64_t phase = f % 100;
    if (phase < 40)
      dets.push_back({20, 4, 28, 12, 0.9f, 1});
    if (phase == 1)
      visitor = run.tracker->added.back().first;
    if (phase == 40)
      run.tracker->object(visitor).lost = true;
    auto out = run.step(f, dets);
    for (const auto &frame : out)
      for (const auto &o : frame.objects)
        ids_seen.insert(o.object_id);
    most_bookkeeping = std::max(most_bookkeeping, run.loop.bookkeeping_size());
    most_objects = std::max(most_objects, run.loop.num_objects());
    ASSERT_LE(run.loop.frames_held(), 15u);
  }
  EXPECT_LE(most_objects, 4u);
  EXPECT_LE(most_bookkeeping, 8u);
  EXPECT_LE(run.tracker->memory_bytes(), 4 * S * S * 4);
  // 1 resident + 100 visitors + 1000 false positives, each a fresh id.
  EXPECT_EQ(run.tracker->added.size(), 1101u);
  std::set<int64_t> added_ids;
  for (const auto &a : run.tracker->added)
    added_ids.insert(a.first);
  EXPECT_EQ(added_ids.size(), run.tracker->added.size());
  // With the reference delay, no false positive is ever output: only the resident and the
  // 100 visitors appear.
  EXPECT_EQ(ids_seen.size(), 101u);
}

} // namespace

namespace {

// An endless scene: six objects in view at any time, each detected
// for 60 frames and then gone (tracker and detector), one entering every 10 frames; objects
// already in view on frame 0 leave first. Returns the tracker steps (tracked objects summed
// over frames: the loop's work) and the most objects tracked at once.
std::pair<int64_t, size_t> endless_scene(int64_t frames,
                                         int64_t max_lost_frames = sam3::kDefaultMaxLostFrames) {
  TrackOptions options;
  options.max_lost_frames = max_lost_frames;
  options.output_delay = 0;
  options.apply_detection_threshold_and_nms = false;
  Scene run(options);
  std::map<int64_t, int64_t> id_of; // scene object -> loop object
  int64_t steps = 0;
  size_t most = 0;
  for (int64_t f = 0; f < frames; ++f) {
    std::vector<Det> dets;
    for (int64_t k = f / 10; k < f / 10 + 6; ++k) {
      const int64_t x = 1 + 5 * (k % 6);
      dets.push_back({x, 2 + 4 * (k % 7), x + 4, 6 + 4 * (k % 7), 0.9f});
    }
    steps += static_cast<int64_t>(run.loop.num_objects());
    const auto before = run.tracker->added.size();
    run.step(f, dets);
    // Births of this frame belong to the scene objects without an id yet, in order.
    for (size_t a = before, k = f / 10; a < run.tracker->added.size(); ++a) {
      while (id_of.count(static_cast<int64_t>(k)))
        ++k;
      id_of[static_cast<int64_t>(k)] = run.tracker->added[a].first;
    }
    // The object whose 60 frames ended leaves the scene.
    if (f % 10 == 9 && id_of.count(f / 10))
      run.tracker->object(id_of.at(f / 10)).lost = true;
    most = std::max(most, run.loop.num_objects());
  }
  return {steps, most};
}

TEST(TrackingLoop, AnEndlessSceneCostsTheSameEveryFrameByDefault) {
  const auto [short_steps, short_most] = endless_scene(60);
  const auto [long_steps, long_most] = endless_scene(240);
  std::printf("tracker steps: %lld for 60 frames, %lld for 240 (%.2fx); at most %zu objects\n",
              static_cast<long long>(short_steps), static_cast<long long>(long_steps),
              static_cast<double>(long_steps) / static_cast<double>(short_steps), long_most);
  // Linear cost is 4x; the objects that left piling up (max_lost_frames 0) would make it
  // grow without bound. The work is counted, not timed: time on a shared machine is noise
  // (bench/bench_endless prints the timed curve on the model).
  EXPECT_LE(long_steps, 4.5 * static_cast<double>(short_steps));
  EXPECT_LE(long_most, short_most + 1);
  EXPECT_EQ(TrackOptions{}.max_lost_frames, sam3::kDefaultMaxLostFrames);
  // Keeping every object, as the reference does, the same scene costs ever more per frame.
  EXPECT_GT(endless_scene(120, 0).first, 2.5 * static_cast<double>(endless_scene(60, 0).first));
}

} // namespace
