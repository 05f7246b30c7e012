// The elements' behaviour with models/sam3-shapes on the explicit clips of
// tools/shapes/make_behaviour_cases.py: ids stay stable through a crossing, a prompt changed
// while playing takes effect on the next frame, two prompts at once keep their labels on their
// objects. Frames go in through a harness (sam3detect ! sam3track); the GstSam3 metadata of
// each frame is matched to the clip's exact masks.
#include "behaviour/cases.h"
#include "gst/fixtures.h"
#include "gstsam3meta.h"

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <set>

namespace {

using namespace sam3_behaviour;

std::string *g_dir = nullptr;
Cases *g_cases = nullptr;
std::string *g_model = nullptr;
std::string *g_error = nullptr;

class Environment : public ::testing::Environment {
public:
  void SetUp() override {
    gst_init(nullptr, nullptr);
    g_dir = new std::string(sam3_test::scratch_dir("behaviour-video"));
    try {
      g_cases = new Cases(make_cases(*g_dir));
      g_model = new std::string(model_dir());
    } catch (const std::exception &e) {
      g_error = new std::string(e.what());
    }
  }
  void TearDown() override {
    sam3_test::remove_dir(*g_dir);
    delete g_dir;
    delete g_cases;
    delete g_model;
    delete g_error;
  }
};
const auto *env = ::testing::AddGlobalTestEnvironment(new Environment);

#define REQUIRE_CASES()                                                                            \
  do {                                                                                             \
    if (g_error)                                                                                   \
      FAIL() << *g_error;                                                                          \
  } while (0)

// Detector and tracker thresholds: kThreshold (cases.h) for detections, tracking and births
// (the tracker's defaults, 0.5 and 0.7, suit the official model's scores, not this one's).
std::string pipeline(const std::string &prompt) {
  const std::string t = std::to_string(kThreshold);
  return "sam3detect name=detect model=" + *g_model + " prompt=\"" + prompt + "\" threshold=" + t +
         " ! sam3track output-delay=0 detection-threshold=" + t + " new-object-threshold=" + t;
}

// The detector alone.
std::string detect_only(const std::string &prompt) {
  return "sam3detect name=detect model=" + *g_model + " prompt=\"" + prompt +
         "\" threshold=" + std::to_string(kThreshold);
}

GstHarness *harness(const std::string &desc) {
  return sam3_test::video_harness(
      desc, sam3_test::video_info(GST_VIDEO_FORMAT_RGB, g_cases->width, g_cases->height));
}

GstBuffer *frame_buffer(const cv::Mat &rgb, guint64 n) {
  GstVideoInfo info = sam3_test::video_info(GST_VIDEO_FORMAT_RGB, rgb.cols, rgb.rows);
  GstBuffer *buf = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  GstVideoFrame vf;
  gst_video_frame_map(&vf, &info, buf, GST_MAP_WRITE);
  for (int y = 0; y < rgb.rows; y++)
    std::memcpy((guint8 *)GST_VIDEO_FRAME_PLANE_DATA(&vf, 0) +
                    y * GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 0),
                rgb.ptr(y), rgb.cols * 3);
  gst_video_frame_unmap(&vf);
  GST_BUFFER_PTS(buf) = gst_util_uint64_scale(n, GST_SECOND, 30);
  GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
  return buf;
}

struct Seen {
  guint64 track_id;
  std::string label;
  float score;
  int object; // index of the clip track the mask covers best at IoU >= kMatchIou, else -1
};

// The instances on `buf`, each matched to the objects visible on frame `t` of `clip`.
std::vector<Seen> seen(GstBuffer *buf, const Clip &clip, size_t t) {
  std::vector<Seen> out;
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  if (!meta)
    return out;
  for (guint i = 0; i < gst_sam3_meta_get_n_instances(meta); i++) {
    const GstSam3Instance *inst = gst_sam3_meta_get_instance(meta, i);
    cv::Mat mask = cv::Mat::zeros(meta->frame_height, meta->frame_width, CV_8U);
    gst_sam3_instance_render_mask(inst, meta->frame_width, meta->frame_height, GST_SAM3_MASK_BINARY,
                                  mask.data, meta->frame_width, meta->frame_height,
                                  (gint)mask.step);
    int object = -1;
    double best = 0;
    for (size_t k = 0; k < clip.tracks.size(); k++) {
      const double iou = mask_iou(mask, clip.masks[t][k]);
      if (iou > best)
        best = iou, object = static_cast<int>(k);
    }
    out.push_back({inst->track_id, gst_sam3_instance_get_label(inst), inst->score,
                   best >= kMatchIou ? object : -1});
  }
  return out;
}

// Every frame of `clip` through `desc`; the instances of each output frame.
std::vector<std::vector<Seen>> run_clip(const std::string &desc, const Clip &clip) {
  GstHarness *h = harness(desc);
  std::vector<std::vector<Seen>> out;
  for (size_t t = 0; t < clip.frames.size(); t++) {
    GstBuffer *buf = gst_harness_push_and_pull(h, frame_buffer(clip.frames[t], t));
    EXPECT_NE(buf, nullptr);
    if (!buf)
      break;
    out.push_back(seen(buf, clip, t));
    gst_buffer_unref(buf);
  }
  gst_harness_teardown(h);
  return out;
}

std::string ids_text(const std::vector<Seen> &frame) {
  std::string s;
  for (const Seen &x : frame)
    s += " #" + std::to_string(x.track_id) + "(" + x.label + "->" + std::to_string(x.object) +
         ", " + std::to_string(x.score).substr(0, 4) + ")";
  return s;
}

// Two shapes of one concept but different colours swap sides through each other ("circle":
// a red and a purple one; "square": a yellow and an orange one). Each keeps one track id on the
// frames it is found on, the two ids differ, and each is found on most frames it is visible.
//
// Disabled until a models/sam3-shapes passes it (issue 21): with the current one each circle keeps
// one id, but the yellow square takes three, and 46 of the 64 object-frames are found (48 needed).
TEST(Behaviour, DISABLED_IdsStayStableThroughACrossing) {
  REQUIRE_CASES();
  int found = 0, visible = 0;
  for (const auto &[name, prompt] : {std::pair<std::string, std::string>{"cross_circles", "circle"},
                                     {"cross_squares", "square"}}) {
    const Clip &clip = g_cases->clip(name);
    const auto frames = run_clip(pipeline(prompt), clip);
    ASSERT_EQ(frames.size(), clip.frames.size());
    std::vector<std::map<guint64, int>> ids(clip.tracks.size()); // per object: id -> frames
    for (size_t t = 0; t < frames.size(); t++) {
      std::printf("%s frame %2zu:%s\n", name.c_str(), t, ids_text(frames[t]).c_str());
      for (size_t k = 0; k < clip.tracks.size(); k++)
        visible += clip.masks[t][k].empty() ? 0 : 1;
      for (const Seen &s : frames[t])
        if (s.object >= 0) {
          ids[s.object][s.track_id]++;
          found++;
        }
    }
    for (size_t k = 0; k < ids.size(); k++) {
      std::string list;
      for (const auto &[id, n] : ids[k])
        list += " #" + std::to_string(id) + " x" + std::to_string(n);
      std::printf("%s: %s %s had ids%s\n", name.c_str(), clip.tracks[k].color.c_str(),
                  clip.tracks[k].shape.c_str(), list.c_str());
      EXPECT_EQ(ids[k].size(), 1u) << name << ": the " << clip.tracks[k].color << " "
                                   << clip.tracks[k].shape << " changed id";
    }
    if (ids[0].size() == 1 && ids[1].size() == 1) {
      EXPECT_NE(ids[0].begin()->first, ids[1].begin()->first)
          << name << ": both objects carry one id";
    }
  }
  std::printf("objects found on %d of %d visible object-frames\n", found, visible);
  std::fflush(stdout);
  EXPECT_GE(found, 0.75 * visible);
}

// A prompt set between two frames applies from the next one: sam3detect's instances, and a
// new track in sam3track, carry the new concept and lie on its object; the old concept's
// detections stop.
TEST(Behaviour, APromptChangedWhilePlayingTakesEffectOnTheNextFrame) {
  REQUIRE_CASES();
  const Clip &clip = g_cases->clip("drift");
  const int red = clip.index_of("red", "circle"), square = clip.index_of("purple", "square");
  ASSERT_GE(red, 0);
  ASSERT_GE(square, 0);
  constexpr size_t kSwitch = 3, kFrames = 6;
  for (const bool with_tracker : {false, true}) {
    GstHarness *h = harness(with_tracker ? pipeline("red circle") : detect_only("red circle"));
    GstElement *detect = gst_harness_find_element(h, "sam3detect");
    const char *who = with_tracker ? "sam3detect ! sam3track" : "sam3detect";
    for (size_t n = 0; n < kFrames; n++) {
      if (n == kSwitch)
        g_object_set(detect, "prompt", "purple square", nullptr);
      GstBuffer *buf = gst_harness_push_and_pull(h, frame_buffer(clip.frames[n], n));
      ASSERT_NE(buf, nullptr);
      const auto s = seen(buf, clip, n);
      std::printf("%s frame %zu:%s\n", who, n, ids_text(s).c_str());
      bool red_found = false, square_found = false;
      for (const Seen &x : s) {
        red_found |= x.label == "red circle" && x.object == red;
        square_found |= x.label == "purple square" && x.object == square;
        if (n < kSwitch) {
          EXPECT_EQ(x.label, "red circle") << who << " frame " << n;
        } else if (!with_tracker) {
          EXPECT_EQ(x.label, "purple square") << who << " frame " << n << ": an old concept";
        }
      }
      if (n < kSwitch)
        EXPECT_TRUE(red_found) << who << " frame " << n << ": the red circle is not found";
      else
        EXPECT_TRUE(square_found) << who << " frame " << n << ": the new concept has no instance "
                                  << "on the purple square";
      GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
      if (!with_tracker && meta) {
        ASSERT_EQ(gst_sam3_meta_get_n_prompts(meta), 1u);
        EXPECT_STREQ(gst_sam3_meta_get_prompt(meta, 0),
                     n < kSwitch ? "red circle" : "purple square");
      }
      gst_buffer_unref(buf);
    }
    gst_object_unref(detect);
    gst_harness_teardown(h);
  }
  std::fflush(stdout);
}

// "red circle;yellow square" on a clip where the two cross, beside a purple triangle, through
// `desc`: every instance on one of the two objects carries that object's concept, each is
// found with its label on most frames it is visible, and the triangle gets neither label.
void expect_two_prompts_keep_their_labels(const std::string &desc) {
  const Clip &clip = g_cases->clip("two_concepts");
  const int red = clip.index_of("red", "circle"), yellow = clip.index_of("yellow", "square"),
            purple = clip.index_of("purple", "triangle");
  ASSERT_TRUE(red >= 0 && yellow >= 0 && purple >= 0);
  const auto frames = run_clip(desc, clip);
  ASSERT_EQ(frames.size(), clip.frames.size());
  int right = 0, wrong = 0, on_purple = 0;
  std::map<int, int> found, visible;
  for (size_t t = 0; t < frames.size(); t++) {
    std::printf("two_concepts frame %2zu:%s\n", t, ids_text(frames[t]).c_str());
    for (const int k : {red, yellow})
      visible[k] += clip.masks[t][k].empty() ? 0 : 1;
    std::set<int> here;
    for (const Seen &s : frames[t]) {
      if (s.object == purple)
        on_purple++;
      if (s.object != red && s.object != yellow)
        continue;
      const bool ok = s.label == (s.object == red ? "red circle" : "yellow square");
      (ok ? right : wrong)++;
      if (ok)
        here.insert(s.object);
    }
    for (int k : here)
      found[k]++;
  }
  std::printf("labels right %d, wrong %d; red circle found %d/%d frames, yellow square %d/%d; "
              "instances on the purple triangle %d\n",
              right, wrong, found[red], visible[red], found[yellow], visible[yellow], on_purple);
  std::fflush(stdout);
  EXPECT_LE(wrong, right / 20) << "instances carry the other object's concept";
  EXPECT_GE(found[red], 0.7 * visible[red]);
  EXPECT_GE(found[yellow], 0.7 * visible[yellow]);
  EXPECT_LE(on_purple, static_cast<int>(frames.size()) / 4) << "the triangle is neither concept";
}

// The detector's instances, frame by frame.
TEST(Behaviour, TwoPromptsAtOnceKeepTheirLabels) {
  REQUIRE_CASES();
  expect_two_prompts_keep_their_labels(detect_only("red circle;yellow square"));
}

// The tracks, which keep the label of the concept that found them.
//
// Disabled until a models/sam3-shapes passes it (issue 21): the current one's tracks find the red
// circle on 8 and the yellow square on 7 of their 16 frames (11 needed), and 6 instances carry the
// other concept's label.
TEST(Behaviour, DISABLED_TwoPromptsAtOnceKeepTheirLabelsThroughTheTracker) {
  REQUIRE_CASES();
  expect_two_prompts_keep_their_labels(pipeline("red circle;yellow square"));
}

} // namespace
