// sam3track in harnesses and whole pipelines, behind sam3detect, with a generated tiny
// sam3_video model (random weights: the tests pin the element's bookkeeping -- ids, frames,
// delays, prompts, errors -- not what the random network sees; the loop's rules are pinned
// on synthetic scenes in tests/unit/test_tracking_loop.cpp).
#include "gst/fixtures.h"
#include "gstsam3meta.h"

#include "model/test_model.h"

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace sam3_test;

std::string *g_video_model = nullptr;
std::string *g_image_model = nullptr;

class GstEnvironment : public ::testing::Environment {
public:
  void SetUp() override {
    gst_init(nullptr, nullptr);
    dir_ = scratch_dir("track");
    g_video_model = new std::string(dir_ + "/tiny-video");
    g_image_model = new std::string(dir_ + "/tiny");
    sam3::write_test_model(*g_video_model, sam3::tiny_video_test_config(), 5);
    sam3::write_test_model(*g_image_model, sam3::tiny_test_config(), 5);
  }
  void TearDown() override {
    remove_dir(dir_);
    delete g_video_model;
    delete g_image_model;
  }

private:
  std::string dir_;
};
const auto *env = ::testing::AddGlobalTestEnvironment(new GstEnvironment);

constexpr int kWidth = 64, kHeight = 48;

// Every detection may start an object, so the random model yields objects to track.
const char *kEager = "detection-threshold=0 new-object-threshold=0";

GstHarness *harness(const std::string &desc) {
  return video_harness(desc, video_info(GST_VIDEO_FORMAT_RGB, kWidth, kHeight));
}

GstHarness *detect_track(const std::string &detect_props, const std::string &track_props) {
  return harness("sam3detect model=" + *g_video_model + " prompt=thing threshold=0 " +
                 detect_props + " ! sam3track " + kEager + " " + track_props);
}

GstBuffer *frame(guint64 n) {
  return pattern_frame(video_info(GST_VIDEO_FORMAT_RGB, kWidth, kHeight), n);
}

struct Seen {
  guint64 track_id;
  GstSam3Provenance provenance;
  std::string label;
};

std::vector<Seen> instances_of(GstBuffer *buf) {
  std::vector<Seen> out;
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  if (!meta)
    return out;
  for (guint i = 0; i < gst_sam3_meta_get_n_instances(meta); ++i) {
    const GstSam3Instance *inst = gst_sam3_meta_get_instance(meta, i);
    out.push_back({inst->track_id, inst->provenance, gst_sam3_instance_get_label(inst)});
  }
  return out;
}

GstElement *track_of(GstHarness *h) {
  GstElement *e = gst_harness_find_element(h, "sam3track");
  gst_object_unref(e); // the harness keeps it alive
  return e;
}

// Runs `desc` to EOS or error; returns the error text ("" when none).
std::string pipeline_error(const std::string &desc) {
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launch(desc.c_str(), &err);
  if (!pipeline) {
    std::string m = err ? err->message : "parse failed";
    g_clear_error(&err);
    return m;
  }
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered(
      bus, 60 * GST_SECOND, (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  std::string out = msg ? "" : "timeout";
  if (msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError *e = nullptr;
    gchar *dbg = nullptr;
    gst_message_parse_error(msg, &e, &dbg);
    out = std::string(e->message) + " | " + (dbg ? dbg : "");
    g_clear_error(&e);
    g_free(dbg);
  }
  if (msg)
    gst_message_unref(msg);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return out;
}

TEST(Sam3Track, EveryFrameCarriesTrackedInstancesWithLastingIds) {
  GstHarness *h = detect_track("", "");
  std::set<guint64> seen_before, gone;
  guint64 max_id = 0;
  for (guint64 n = 0; n < 12; ++n) {
    GstBuffer *out = gst_harness_push_and_pull(h, frame(n));
    ASSERT_NE(out, nullptr);
    GstSam3Meta *meta = gst_buffer_get_sam3_meta(out);
    ASSERT_NE(meta, nullptr) << "frame " << n;
    std::set<guint64> now;
    for (const Seen &s : instances_of(out)) {
      ASSERT_GT(s.track_id, 0u) << "frame " << n << ": an untracked instance";
      EXPECT_EQ(s.label, "thing");
      EXPECT_TRUE(now.insert(s.track_id).second) << "id " << s.track_id << " twice on frame " << n;
      EXPECT_EQ(gone.count(s.track_id), 0u) << "id " << s.track_id << " was reused";
      // An object is "detected" on the frame it is born and "propagated" after.
      EXPECT_EQ(s.provenance == GST_SAM3_PROVENANCE_DETECTED, s.track_id > max_id)
          << "frame " << n << " id " << s.track_id;
    }
    if (n == 0) {
      EXPECT_FALSE(now.empty()) << "no object was born on the first frame";
    }
    for (guint64 id : seen_before)
      if (!now.count(id))
        gone.insert(id);
    for (guint64 id : now)
      max_id = std::max(max_id, id);
    seen_before = now;
    gst_buffer_unref(out);
  }
  guint objects = 0;
  guint64 processed = 0;
  g_object_get(track_of(h), "objects", &objects, "frames-processed", &processed, nullptr);
  EXPECT_EQ(processed, 12u);
  // Objects the tracker sees as absent on a frame (empty mask) are tracked but not reported.
  EXPECT_GE(objects, seen_before.size());
  EXPECT_GT(objects, 0u);
  gst_harness_teardown(h);
}

// Counts the instances with a mask on the buffers that pass a pad.
GstPadProbeReturn count_masks(GstPad *, GstPadProbeInfo *info, gpointer data) {
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(GST_PAD_PROBE_INFO_BUFFER(info));
  for (guint i = 0; meta && i < gst_sam3_meta_get_n_instances(meta); ++i)
    *static_cast<guint *>(data) += gst_sam3_meta_get_instance(meta, i)->mask != nullptr;
  return GST_PAD_PROBE_OK;
}

// A buffer's instances as text (track id, box, mask bytes), to compare runs.
std::string instances_text(GstBuffer *buf) {
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  std::string text;
  for (guint i = 0; meta && i < gst_sam3_meta_get_n_instances(meta); ++i) {
    const GstSam3Instance *inst = gst_sam3_meta_get_instance(meta, i);
    text += std::to_string(inst->track_id) + "@" + std::to_string(inst->x) + "," +
            std::to_string(inst->w) + ":";
    if (inst->mask) {
      GstMapInfo map;
      gst_buffer_map(inst->mask, &map, GST_MAP_READ);
      text.append(reinterpret_cast<const char *>(map.data), map.size);
      gst_buffer_unmap(inst->mask, &map);
    }
    text += ";";
  }
  return text;
}

// Pushes 6 frames through `h`; returns the detector's instance masks seen entering the element
// named `watch` and sam3track's output instances (id, box, mask bytes) per frame.
std::pair<guint, std::vector<std::string>> masks_and_tracks(GstHarness *h, const char *watch) {
  guint detector_masks = 0;
  GstElement *e = gst_harness_find_element(h, watch);
  GstPad *pad = gst_element_get_static_pad(e, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, count_masks, &detector_masks, nullptr);
  gst_object_unref(pad);
  gst_object_unref(e);
  std::vector<std::string> tracks;
  for (guint64 n = 0; n < 6; ++n) {
    GstBuffer *out = gst_harness_push_and_pull(h, frame(n));
    tracks.push_back(instances_text(out));
    gst_buffer_unref(out);
  }
  return {detector_masks, tracks};
}

TEST(Sam3Track, TheDetectorSkipsInstanceMasksThatOnlySam3TrackWouldReceive) {
  // sam3track builds its instances from the attached low-resolution logits, so the detector's
  // frame-size masks are work it discards: auto skips them when sam3track is the only
  // consumer (directly or through a queue), and the tracked output is the same.
  GstHarness *always = detect_track("instance-masks=always", "");
  GstHarness *direct = detect_track("", "");
  GstHarness *queued = harness("sam3detect model=" + *g_video_model +
                               " prompt=thing threshold=0 ! queue ! " + "sam3track " + kEager);
  const auto [always_masks, always_tracks] = masks_and_tracks(always, "sam3track");
  const auto [direct_masks, direct_tracks] = masks_and_tracks(direct, "sam3track");
  const auto [queued_masks, queued_tracks] = masks_and_tracks(queued, "sam3track");
  EXPECT_GT(always_masks, 0u);
  EXPECT_EQ(direct_masks, 0u);
  EXPECT_EQ(queued_masks, 0u);
  EXPECT_EQ(direct_tracks, always_tracks);
  EXPECT_EQ(queued_tracks, always_tracks);
  EXPECT_FALSE(always_tracks.back().empty());
  gst_harness_teardown(always);
  gst_harness_teardown(direct);
  gst_harness_teardown(queued);
  // A tee may feed other readers of the masks: auto keeps them.
  GstHarness *teed = harness("sam3detect model=" + *g_video_model +
                             " prompt=thing threshold=0 ! tee ! sam3track " + kEager);
  EXPECT_GT(masks_and_tracks(teed, "sam3track").first, 0u);
  gst_harness_teardown(teed);
}

TEST(Sam3Track, OutputDelayHoldsFramesBackAndEosReleasesThem) {
  GstHarness *h = detect_track("", "output-delay=3");
  for (guint64 n = 0; n < 5; ++n)
    ASSERT_EQ(gst_harness_push(h, frame(n)), GST_FLOW_OK);
  // Frame k leaves once frame k + 3 is in.
  EXPECT_EQ(gst_harness_buffers_received(h), 2u);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  EXPECT_EQ(gst_harness_buffers_received(h), 5u);
  for (guint64 n = 0; n < 5; ++n) {
    GstBuffer *out = gst_harness_pull(h);
    EXPECT_EQ(GST_BUFFER_PTS(out), n * GST_SECOND / 30) << "frames out of order";
    ASSERT_NE(gst_buffer_get_sam3_meta(out), nullptr);
    for (const Seen &s : instances_of(out))
      EXPECT_GT(s.track_id, 0u);
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}

TEST(Sam3Track, TracksOnFramesTheDetectorSkips) {
  GstHarness *h = detect_track("interval=3", "");
  std::set<guint64> ids;
  for (guint64 n = 0; n < 6; ++n) {
    GstBuffer *out = gst_harness_push_and_pull(h, frame(n));
    ASSERT_NE(gst_buffer_get_sam3_meta(out), nullptr) << "frame " << n << " has no results";
    for (const Seen &s : instances_of(out)) {
      ids.insert(s.track_id);
      // Between detector frames nothing can be born.
      if (n % 3 != 0) {
        EXPECT_NE(s.provenance, GST_SAM3_PROVENANCE_DETECTED) << "frame " << n;
      }
    }
    gst_buffer_unref(out);
  }
  EXPECT_FALSE(ids.empty());
  guint64 processed = 0;
  g_object_get(track_of(h), "frames-processed", &processed, nullptr);
  EXPECT_EQ(processed, 6u);
  gst_harness_teardown(h);
}

TEST(Sam3Track, ObjectsFromApplicationPromptsAndTheirRemoval) {
  // No detector: the element runs the backbone itself with its own model.
  GstHarness *h = harness("sam3track model=" + *g_video_model);
  GstElement *track = track_of(h);
  g_signal_emit_by_name(track, "add-box", 8.0f, 8.0f, 20.0f, 16.0f, "cup");
  GstBuffer *out = gst_harness_push_and_pull(h, frame(0));
  EXPECT_TRUE(instances_of(out).empty()) << "the box applies from the frame it was given on";
  gst_buffer_unref(out);

  g_signal_emit_by_name(track, "add-points", "40,30;45,35,neg", "plate");
  guint64 cup = 0;
  std::map<std::string, int> labels;
  for (guint64 n = 1; n < 4; ++n) {
    out = gst_harness_push_and_pull(h, frame(n));
    for (const Seen &s : instances_of(out)) {
      EXPECT_EQ(s.provenance, GST_SAM3_PROVENANCE_PROMPTED);
      labels[s.label]++;
      if (s.label == "cup")
        cup = s.track_id;
    }
    gst_buffer_unref(out);
  }
  // A random network may or may not see the objects on a frame; it must track them.
  guint objects = 0;
  g_object_get(track, "objects", &objects, nullptr);
  EXPECT_EQ(objects, 2u);
  EXPECT_EQ(labels.count("dog"), 0u);

  if (cup == 0)
    cup = 1; // the first object's id
  g_signal_emit_by_name(track, "remove-object", cup);
  out = gst_harness_push_and_pull(h, frame(4));
  for (const Seen &s : instances_of(out))
    EXPECT_NE(s.track_id, cup) << "a removed object is still reported";
  gst_buffer_unref(out);
  g_object_get(track, "objects", &objects, nullptr);
  EXPECT_EQ(objects, 1u);

  // Bad requests are warnings, never a crash or a stalled stream.
  g_signal_emit_by_name(track, "add-points", "not points", "x");
  g_signal_emit_by_name(track, "remove-object", (guint64)999);
  out = gst_harness_push_and_pull(h, frame(5));
  EXPECT_NE(out, nullptr);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST(Sam3Track, PassesFramesUntouchedWithoutAModel) {
  GstHarness *h = harness("sam3track");
  for (guint64 n = 0; n < 3; ++n) {
    GstBuffer *out = gst_harness_push_and_pull(h, frame(n));
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(gst_buffer_get_sam3_meta(out), nullptr);
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}

TEST(Sam3Track, AnImageOnlyModelIsAClearError) {
  const std::string source = "videotestsrc num-buffers=2 ! video/x-raw,width=32,height=32 ! ";
  std::string error =
      pipeline_error(source + "sam3detect prompt=cat threshold=0 model=" + *g_image_model +
                     " ! sam3track ! fakesink");
  EXPECT_NE(error.find("image-only"), std::string::npos) << error;
  error = pipeline_error(source + "sam3track model=" + *g_image_model + " ! fakesink");
  EXPECT_NE(error.find("has no tracker"), std::string::npos) << error;
  error = pipeline_error(source + "sam3track model=/nonexistent/sam3 ! fakesink");
  EXPECT_NE(error.find("/nonexistent/sam3"), std::string::npos) << error;
}

TEST(Sam3Track, FlushForgetsTheScene) {
  GstHarness *h = detect_track("", "");
  for (guint64 n = 0; n < 3; ++n)
    gst_buffer_unref(gst_harness_push_and_pull(h, frame(n)));
  guint before = 0;
  g_object_get(track_of(h), "objects", &before, nullptr);
  EXPECT_GT(before, 0u);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_start()));
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  guint after = 1;
  g_object_get(track_of(h), "objects", &after, nullptr);
  EXPECT_EQ(after, 0u);
  // Streaming goes on after the flush.
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&segment)));
  GstBuffer *out = gst_harness_push_and_pull(h, frame(3));
  EXPECT_NE(gst_buffer_get_sam3_meta(out), nullptr);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST(Sam3Track, RunsInAPipelineToEosThroughStateChanges) {
  const std::string desc =
      "videotestsrc num-buffers=8 pattern=ball ! video/x-raw,width=96,height=64 "
      "! sam3detect model=" +
      *g_video_model + " prompt=ball threshold=0 ! sam3track " + kEager +
      " output-delay=2 ! sam3overlay ! fakesink name=sink";
  for (int cycle = 0; cycle < 3; ++cycle) {
    GError *err = nullptr;
    GstElement *pipeline = gst_parse_launch(desc.c_str(), &err);
    ASSERT_NE(pipeline, nullptr) << (err ? err->message : "");
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    g_object_set(sink, "signal-handoffs", TRUE, nullptr);
    int frames = 0;
    g_signal_connect(sink, "handoff",
                     G_CALLBACK(+[](GstElement *, GstBuffer *, GstPad *, gpointer count) {
                       ++*static_cast<int *>(count);
                     }),
                     &frames);
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus(pipeline);
    GstMessage *msg = gst_bus_timed_pop_filtered(
        bus, 60 * GST_SECOND, (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    ASSERT_NE(msg, nullptr) << "timeout";
    EXPECT_EQ(GST_MESSAGE_TYPE(msg), GST_MESSAGE_EOS);
    gst_message_unref(msg);
    gst_object_unref(bus);
    gst_element_set_state(pipeline, GST_STATE_NULL);
    EXPECT_EQ(frames, 8) << "every frame in must come out";
    gst_object_unref(sink);
    gst_object_unref(pipeline);
  }
}

} // namespace

namespace {

// Frames sam3track had received when its first frame reached the sink, in a pipeline of 24
// frames from videotestsrc (live or not) with `track_props`.
int frames_in_at_first_out(bool live, const std::string &track_props) {
  const std::string desc =
      std::string("videotestsrc num-buffers=24 pattern=ball is-live=") + (live ? "true" : "false") +
      " ! video/x-raw,width=64,height=48,framerate=30/1 ! sam3detect model=" + *g_video_model +
      " prompt=ball threshold=0 ! sam3track name=track " + kEager + " " + track_props +
      " ! fakesink name=sink sync=false";
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launch(desc.c_str(), &err);
  EXPECT_NE(pipeline, nullptr) << (err ? err->message : "");
  if (!pipeline)
    return -1;
  struct Counts {
    int in = 0, in_at_first_out = -1;
  } counts;
  GstElement *track = gst_bin_get_by_name(GST_BIN(pipeline), "track");
  GstPad *pad = gst_element_get_static_pad(track, "sink");
  gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER,
      +[](GstPad *, GstPadProbeInfo *, gpointer data) {
        ++static_cast<Counts *>(data)->in;
        return GST_PAD_PROBE_OK;
      },
      &counts, nullptr);
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_object_set(sink, "signal-handoffs", TRUE, nullptr);
  g_signal_connect(sink, "handoff",
                   G_CALLBACK(+[](GstElement *, GstBuffer *, GstPad *, gpointer data) {
                     auto *c = static_cast<Counts *>(data);
                     if (c->in_at_first_out < 0)
                       c->in_at_first_out = c->in;
                   }),
                   &counts);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered(
      bus, 60 * GST_SECOND, (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  EXPECT_NE(msg, nullptr) << "timeout";
  if (msg) {
    EXPECT_EQ(GST_MESSAGE_TYPE(msg), GST_MESSAGE_EOS);
    gst_message_unref(msg);
  }
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pad);
  gst_object_unref(track);
  gst_object_unref(sink);
  gst_object_unref(pipeline);
  return counts.in_at_first_out;
}

TEST(Sam3Track, OutputDelayAutoHoldsHotstartFramesOnlyWhenNotLive) {
  GstElement *track = gst_element_factory_make("sam3track", nullptr);
  gint delay = 0;
  g_object_get(track, "output-delay", &delay, nullptr);
  EXPECT_EQ(delay, -1) << "auto is the default";
  gst_object_unref(track);
  // Not live: the official delay, hotstart-frames - 1 (14 by default; here 5 - 1).
  EXPECT_EQ(frames_in_at_first_out(false, "hotstart-frames=5"), 5);
  // Live: nothing is held back.
  EXPECT_EQ(frames_in_at_first_out(true, "hotstart-frames=5"), 1);
  // An explicit delay wins either way.
  EXPECT_EQ(frames_in_at_first_out(false, "output-delay=0"), 1);
  EXPECT_EQ(frames_in_at_first_out(true, "output-delay=3"), 4);
}

// As the official loop reports them: at the frame's size, each box the whole pixels around its
// mask, and the mask stored over exactly that box.
TEST(Sam3Track, ReportsBoxesAndMasksAtTheFrameSize) {
  GstHarness *h = detect_track("", "");
  guint instances = 0;
  for (guint64 n = 0; n < 4; ++n) {
    GstBuffer *out = gst_harness_push_and_pull(h, frame(n));
    GstSam3Meta *meta = gst_buffer_get_sam3_meta(out);
    for (guint i = 0; meta && i < gst_sam3_meta_get_n_instances(meta); ++i) {
      const GstSam3Instance *inst = gst_sam3_meta_get_instance(meta, i);
      ++instances;
      for (const float v : {inst->x, inst->y, inst->w, inst->h})
        EXPECT_EQ(v, std::floor(v)) << "frame " << n;
      EXPECT_GT(inst->w, 0.f);
      ASSERT_NE(inst->mask, nullptr);
      EXPECT_EQ(inst->mask_rect.x, (gint)inst->x);
      EXPECT_EQ(inst->mask_rect.y, (gint)inst->y);
      EXPECT_EQ(inst->mask_rect.w, (gint)inst->w);
      EXPECT_EQ(inst->mask_rect.h, (gint)inst->h);
      EXPECT_EQ(inst->mask_width, (guint)inst->w);
      EXPECT_EQ(inst->mask_height, (guint)inst->h);
    }
    gst_buffer_unref(out);
  }
  EXPECT_GT(instances, 0u);
  gst_harness_teardown(h);
}

// Every frame's instances (ids, boxes, mask bytes) from a JPEG-in-AVI file of `frames` frames
// through sam3detect ! sam3track; with `hide_length`, sam3track's duration queries fail, as for
// a stream of unknown length.
std::vector<std::string> tracks_of_file(int frames, bool hide_length) {
  const std::string dir = scratch_dir("sam3-track-file");
  const std::string path = dir + "/clip" + std::to_string(frames) + ".avi";
  const std::string write = "videotestsrc num-buffers=" + std::to_string(frames) +
                            " pattern=ball ! video/x-raw,width=64,height=48,framerate=30/1 ! "
                            "jpegenc ! avimux ! filesink location=" +
                            path;
  GError *err = nullptr;
  GstElement *writer = gst_parse_launch(write.c_str(), &err);
  EXPECT_NE(writer, nullptr) << (err ? err->message : "");
  if (!writer)
    return {};
  play_to_eos(writer);

  const std::string desc =
      "filesrc location=" + path +
      " ! avidemux ! jpegdec ! videoconvert ! sam3detect model=" + *g_video_model +
      " prompt=ball threshold=0 ! sam3track name=track " + kEager +
      " ! fakesink name=sink sync=false";
  GstElement *pipeline = gst_parse_launch(desc.c_str(), &err);
  EXPECT_NE(pipeline, nullptr) << (err ? err->message : "");
  if (!pipeline)
    return {};
  if (hide_length) {
    GstElement *track = gst_bin_get_by_name(GST_BIN(pipeline), "track");
    GstPad *pad = gst_element_get_static_pad(track, "sink");
    gst_pad_add_probe(
        pad, GST_PAD_PROBE_TYPE_QUERY_UPSTREAM,
        +[](GstPad *, GstPadProbeInfo *info, gpointer) {
          return GST_QUERY_TYPE(GST_PAD_PROBE_INFO_QUERY(info)) == GST_QUERY_DURATION
                     ? GST_PAD_PROBE_DROP
                     : GST_PAD_PROBE_OK;
        },
        nullptr, nullptr);
    gst_object_unref(pad);
    gst_object_unref(track);
  }
  std::vector<std::string> tracks;
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_object_set(sink, "signal-handoffs", TRUE, nullptr);
  g_signal_connect(sink, "handoff",
                   G_CALLBACK(+[](GstElement *, GstBuffer *buf, GstPad *, gpointer data) {
                     static_cast<std::vector<std::string> *>(data)->push_back(instances_text(buf));
                   }),
                   &tracks);
  gst_object_unref(sink);
  play_to_eos(pipeline);
  remove_dir(dir);
  return tracks;
}

// The official tracker caps its object pointers at min(num_frames, 16): a file shorter than 16
// frames tracks differently from a stream of unknown length, a longer one the same.
TEST(Sam3Track, AFileShorterThanSixteenFramesTracksWithItsLength) {
  const auto short_file = tracks_of_file(8, false), short_stream = tracks_of_file(8, true);
  ASSERT_EQ(short_file.size(), 8u);
  ASSERT_EQ(short_stream.size(), 8u);
  EXPECT_FALSE(short_file[1].empty()) << "the random model should track something";
  EXPECT_NE(short_file, short_stream);
  const auto long_file = tracks_of_file(20, false), long_stream = tracks_of_file(20, true);
  ASSERT_EQ(long_file.size(), 20u);
  EXPECT_EQ(long_file, long_stream);
}

} // namespace
