// The video session (video/video_session.h) without GStreamer, on the tiny sam3_video test
// model (random weights: the tests pin the session's bookkeeping -- frame order and indices,
// requests, labels, the output delay, drain and reset -- not what the network sees; the loop's
// rules are pinned on synthetic scenes in test_tracking_loop.cpp).
#include "image/image_predictor.h"
#include "model/model.h"
#include "model/test_model.h"
#include "video/video_session.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace sam3 {
namespace {

constexpr int64_t kWidth = 64, kHeight = 48;

std::string temp_dir() {
  char tmpl[] = "/tmp/sam3-test-video-session-XXXXXX";
  const char *dir = ::mkdtemp(tmpl);
  if (!dir)
    throw std::runtime_error("mkdtemp failed");
  return dir;
}

// Writing and loading the models is the slow part: once for the whole file.
class VideoSessionTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(temp_dir());
    write_test_model(*dir_ + "/video", tiny_video_test_config(), 11);
    write_test_model(*dir_ + "/image", tiny_test_config(), 11);
    model_ = new std::shared_ptr<Model>(load("video"));
  }
  static void TearDownTestSuite() {
    delete model_;
    std::system(("rm -rf " + *dir_).c_str());
    delete dir_;
  }

  static std::shared_ptr<Model> load(const std::string &name) {
    return Model::load(*dir_ + "/" + name, torch::kCPU, Precision::kFloat32);
  }

  static VideoSessionOptions options(int64_t output_delay = 0) {
    VideoSessionOptions o;
    o.track.output_delay = output_delay;
    return o;
  }

  // A session on the shared model.
  static std::unique_ptr<VideoSession> session(int64_t output_delay = 0) {
    auto s = std::make_unique<VideoSession>();
    s->set_model(*model_, options(output_delay));
    return s;
  }

  // A deterministic RGB frame.
  static VideoFrame rgb_frame(int64_t n) {
    torch::manual_seed(100 + n);
    VideoFrame f;
    f.rgb = torch::randint(0, 256, {kHeight, kWidth, 3}, torch::kUInt8);
    return f;
  }

  static std::vector<int64_t> indices(const std::vector<SessionFrame> &frames) {
    std::vector<int64_t> out;
    for (const auto &f : frames)
      out.push_back(f.frame_index);
    return out;
  }

  static std::string *dir_;
  static std::shared_ptr<Model> *model_;
};
std::string *VideoSessionTest::dir_ = nullptr;
std::shared_ptr<Model> *VideoSessionTest::model_ = nullptr;

TEST_F(VideoSessionTest, FramesComeBackInOrderWithTheirFrameIndex) {
  auto s = session();
  for (int64_t n = 0; n < 4; ++n) {
    const SubmitResult result = s->submit(rgb_frame(n));
    EXPECT_EQ(result.frame_index, n);
    EXPECT_TRUE(result.requests.empty());
    EXPECT_EQ(indices(s->take_ready()), std::vector<int64_t>{n})
        << "without a delay, frame " << n << " is ready at once";
    EXPECT_TRUE(s->take_ready().empty()) << "a frame is handed out once";
  }
}

TEST_F(VideoSessionTest, OutputDelayHoldsFramesAndDrainReleasesTheRest) {
  auto s = session(2);
  std::vector<int64_t> released;
  for (int64_t n = 0; n < 5; ++n) {
    s->submit(rgb_frame(n));
    const auto ready = indices(s->take_ready());
    if (n < 2) {
      EXPECT_TRUE(ready.empty()) << "frame " << n << " released before 2 later frames";
    } else {
      EXPECT_EQ(ready, std::vector<int64_t>{n - 2}) << "frame k leaves with frame k + 2";
    }
    released.insert(released.end(), ready.begin(), ready.end());
  }
  EXPECT_EQ(s->frames_held(), 2u);
  const auto rest = indices(s->drain());
  EXPECT_EQ(rest, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(s->frames_held(), 0u);
  EXPECT_TRUE(s->drain().empty()) << "a drained frame comes back once";
}

TEST_F(VideoSessionTest, ABoxQueuedBeforeAFrameCreatesAPromptedObjectOnIt) {
  // With a delay of 1, the frame the box was given on is still held back and shows it.
  auto s = session(1);
  s->add_box(2, 2, 60, 44, "cup");
  const SubmitResult first = s->submit(rgb_frame(3));
  ASSERT_EQ(first.requests.size(), 1u);
  EXPECT_EQ(first.requests[0].kind, RequestOutcome::kAddBox);
  EXPECT_EQ(first.requests[0].error, "");
  EXPECT_EQ(first.requests[0].object_id, 0);
  EXPECT_EQ(s->num_objects(), 1u);
  EXPECT_EQ(s->labels(), std::vector<std::string>{"cup"});

  s->submit(rgb_frame(4));
  const auto ready = s->take_ready();
  ASSERT_EQ(indices(ready), std::vector<int64_t>{0});
  // Seeded: the random network's mask for this box on this frame is not empty (an empty one
  // would be left out of the frame).
  ASSERT_EQ(ready[0].objects.size(), 1u);
  const SessionObject &o = ready[0].objects[0];
  EXPECT_EQ(o.track.object_id, 0);
  EXPECT_EQ(o.label, "cup");
  EXPECT_TRUE(o.prompted);
}

// The official SAM 3's precision (fp32 weights under bf16 autocast) runs the whole loop --
// backbone, prompt, tracker, memory -- and follows fp32 to bf16 rounding: the same objects on
// every frame, with masks of about the same area.
TEST_F(VideoSessionTest, AutocastTracksAsFp32Does) {
  const auto track = [](const std::shared_ptr<Model> &model) {
    VideoSession s;
    s.set_model(model, options(1)); // the prompt's frame is still held when the box lands
    s.add_box(2, 2, 60, 44, "cup");
    std::vector<std::vector<double>> areas;
    for (int64_t n = 3; n < 9; ++n) {
      s.submit(rgb_frame(n));
      for (const auto &frame : s.take_ready()) {
        areas.emplace_back();
        for (const auto &o : frame.objects)
          areas.back().push_back((o.track.frame_mask.logits > 0).sum().item<double>());
      }
    }
    return areas;
  };
  const auto fp32 = track(*model_);
  const auto autocast =
      track(Model::load(*dir_ + "/video", torch::kCPU, Precision::kAutocastBFloat16));
  ASSERT_EQ(autocast.size(), fp32.size());
  ASSERT_FALSE(fp32.empty());
  ASSERT_EQ(fp32[0].size(), 1u) << "the prompted object shows on its frame";
  for (size_t k = 0; k < fp32.size(); ++k) {
    ASSERT_EQ(autocast[k].size(), fp32[k].size()) << "frame " << k;
    for (size_t i = 0; i < fp32[k].size(); ++i)
      EXPECT_NEAR(autocast[k][i], fp32[k][i], 0.1 * fp32[k][i] + 2) << "frame " << k;
  }
}

TEST_F(VideoSessionTest, AnEmptyBoxIsRefusedWhenQueued) {
  auto s = session();
  EXPECT_THROW(s->add_box(8, 8, 0, 16, "cup"), std::invalid_argument);
  EXPECT_TRUE(s->submit(rgb_frame(0)).requests.empty());
  EXPECT_EQ(s->num_objects(), 0u);
}

TEST_F(VideoSessionTest, RemoveRetiresAnObjectAndAnUnknownIdIsReported) {
  auto s = session();
  s->add_points({{40, 30, true}, {45, 35, false}}, "");
  s->submit(rgb_frame(0));
  ASSERT_EQ(s->num_objects(), 1u);
  EXPECT_EQ(s->labels(), std::vector<std::string>{"object"}) << "an empty label is \"object\"";
  s->take_ready();

  s->remove_object(0);
  s->remove_object(7);
  const SubmitResult result = s->submit(rgb_frame(1));
  ASSERT_EQ(result.requests.size(), 2u);
  EXPECT_EQ(result.requests[0].kind, RequestOutcome::kRemove);
  EXPECT_EQ(result.requests[0].error, "");
  EXPECT_NE(result.requests[1].error, "") << "removing an unknown id must say so";
  EXPECT_EQ(s->num_objects(), 0u);
  // Frame 1 was tracked before the request applied on it: the object is gone from frame 2 on.
  s->take_ready();
  for (int64_t n = 2; n < 4; ++n)
    s->submit(rgb_frame(n));
  const auto later = s->take_ready();
  EXPECT_EQ(indices(later), (std::vector<int64_t>{2, 3}));
  for (const SessionFrame &f : later)
    EXPECT_TRUE(f.objects.empty()) << "frame " << f.frame_index << " reports a removed object";
}

TEST_F(VideoSessionTest, LabelsMapTextAndIndexStablyUntilTheModelChanges) {
  auto s = session();
  EXPECT_EQ(s->label_index("person"), 0);
  EXPECT_EQ(s->label_index("car"), 1);
  EXPECT_EQ(s->label_index("person"), 0);

  // A frame's detections register their texts before the requests applied on it.
  VideoFrame f = rgb_frame(0);
  VideoDetections d;
  d.mask_logits = torch::full({2, 32, 32}, -10.f);
  d.scores = {0.1f, 0.2f};
  d.labels = {"dog", "car"};
  f.detections = d;
  s->add_box(8, 8, 20, 16, "cup");
  s->submit(f);
  EXPECT_EQ(s->labels(), (std::vector<std::string>{"person", "car", "dog", "cup"}));

  s->set_model(*model_, options());
  EXPECT_EQ(s->label_index("cup"), 3) << "the same model again changes nothing";
  s->set_model(load("video"), options());
  EXPECT_TRUE(s->labels().empty()) << "another model starts over";
  EXPECT_EQ(s->label_index("cup"), 0);
}

TEST_F(VideoSessionTest, PrecomputedFeaturesAndDetectionsBirthAnObject) {
  auto s = session();
  ImagePredictor predictor(*model_);
  VideoFrame f;
  f.width = kWidth;
  f.height = kHeight;
  torch::manual_seed(7);
  f.backbone =
      predictor.encode(torch::randint(0, 256, {kHeight, kWidth, 3}, torch::kUInt8)).vision.backbone;
  VideoDetections d;
  auto mask = torch::full({1, 32, 32}, -10.f);
  mask.slice(1, 8, 20).slice(2, 6, 18).fill_(10.f);
  d.mask_logits = mask;
  d.scores = {0.95f};
  d.labels = {"thing"};
  f.detections = d;
  EXPECT_EQ(s->submit(f).frame_index, 0);
  EXPECT_EQ(s->num_objects(), 1u) << "a confident detection matching no track is born";
  const auto ready = s->take_ready();
  ASSERT_EQ(ready.size(), 1u);
  ASSERT_EQ(ready[0].objects.size(), 1u);
  EXPECT_EQ(ready[0].objects[0].label, "thing");
  EXPECT_TRUE(ready[0].objects[0].track.is_new);
  EXPECT_FALSE(ready[0].objects[0].prompted);

  VideoFrame size_less;
  size_less.backbone = f.backbone;
  EXPECT_THROW(s->submit(size_less), std::invalid_argument) << "requests need the frame size";
}

TEST_F(VideoSessionTest, ResetForgetsObjectsAndHeldFramesButIndicesGoOn) {
  auto s = session(2);
  s->add_box(8, 8, 20, 16, "cup");
  for (int64_t n = 0; n < 3; ++n)
    s->submit(rgb_frame(n));
  ASSERT_EQ(s->num_objects(), 1u);
  s->reset();
  EXPECT_EQ(s->num_objects(), 0u);
  EXPECT_EQ(s->frames_held(), 0u);
  EXPECT_TRUE(s->take_ready().empty()) << "frames settled before the reset are dropped";
  EXPECT_EQ(s->submit(rgb_frame(3)).frame_index, 3);
  EXPECT_EQ(s->label_index("cup"), 0) << "labels survive a reset";
}

TEST_F(VideoSessionTest, AModelWithoutATrackerOrNoModelIsRefused) {
  VideoSession s;
  EXPECT_THROW(s.submit(rgb_frame(0)), std::logic_error);
  EXPECT_THROW(s.set_model(load("image"), options()), std::invalid_argument);
  EXPECT_THROW(s.set_model(nullptr, options()), std::invalid_argument);
  EXPECT_EQ(s.model(), nullptr);
}

TEST_F(VideoSessionTest, RequestsQueuedFromAnotherThreadAreEachAppliedOnce) {
  auto s = session();
  constexpr int kRequests = 400;
  std::atomic<bool> done{false};
  std::thread application([&] {
    for (int i = 0; i < kRequests; ++i) {
      s->remove_object(1000 + i); // unknown ids: cheap, and each outcome names its request
      if (i % 20 == 19)           // let frames run between the bursts
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    done = true;
  });
  std::vector<int64_t> seen;
  int64_t n = 0;
  while (!done || seen.size() < static_cast<size_t>(kRequests)) {
    for (const auto &r : s->submit(rgb_frame(n++ % 4)).requests) {
      EXPECT_EQ(r.kind, RequestOutcome::kRemove);
      EXPECT_NE(r.error, "");
      seen.push_back(r.object_id);
    }
    s->take_ready();
    if (n >= 10000) {
      ADD_FAILURE() << "requests were lost";
      break;
    }
  }
  application.join();
  ASSERT_EQ(seen.size(), static_cast<size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i)
    EXPECT_EQ(seen[static_cast<size_t>(i)], 1000 + i) << "requests applied out of order";
}

} // namespace
} // namespace sam3
