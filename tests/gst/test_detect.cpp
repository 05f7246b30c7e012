// sam3detect and sam3export in harnesses and whole pipelines, with a generated tiny model.
#include "gstsam3features.h"
#include "gstsam3meta.h"

#include "model/model.h"
#include "model/registry.h"
#include "model/test_model.h"

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string *g_model = nullptr;

class GstEnvironment : public ::testing::Environment {
public:
  void SetUp() override {
    gst_init(nullptr, nullptr);
    char tmpl[] = "/tmp/sam3-detect-XXXXXX";
    g_model = new std::string(std::string(mkdtemp(tmpl)) + "/tiny");
    sam3::write_test_model(*g_model, sam3::tiny_test_config(), 11);
  }
  void TearDown() override {
    std::system(("rm -rf " + g_model->substr(0, g_model->rfind('/'))).c_str());
    delete g_model;
  }
};
const auto *env = ::testing::AddGlobalTestEnvironment(new GstEnvironment);

GstHarness *detect_harness(const std::string &props, const char *format = "RGB", int w = 64,
                           int h = 48) {
  const std::string desc = "sam3detect model=" + *g_model + " " + props;
  GstHarness *hx = gst_harness_new_parse(desc.c_str());
  gchar *caps =
      g_strdup_printf("video/x-raw,format=%s,width=%d,height=%d,framerate=30/1", format, w, h);
  gst_harness_set_src_caps_str(hx, caps);
  g_free(caps);
  return hx;
}

GstBuffer *frame(const char *format, int w, int h, guint64 n) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, gst_video_format_from_string(format), w, h);
  GstBuffer *buf = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  GstMapInfo map;
  gst_buffer_map(buf, &map, GST_MAP_WRITE);
  for (gsize i = 0; i < map.size; ++i)
    map.data[i] = static_cast<guint8>((i * 31 + n * 7) & 0xff);
  gst_buffer_unmap(buf, &map);
  GST_BUFFER_PTS(buf) = n * GST_SECOND / 30;
  GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
  return buf;
}

// Runs `desc` to EOS or error; returns the error text ("" when none). Element messages on
// the way are handed to `on_element`.
std::string run_pipeline(const std::string &desc,
                         const std::function<void(const GstStructure *)> &on_element = {}) {
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launch(desc.c_str(), &err);
  if (!pipeline) {
    std::string m = err ? err->message : "parse failed";
    g_clear_error(&err);
    return m;
  }
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  std::string out;
  for (bool done = false; !done;) {
    GstMessage *msg = gst_bus_timed_pop_filtered(
        bus, 60 * GST_SECOND,
        (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT));
    if (!msg) {
      out = "timeout";
      break;
    }
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      GError *e = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_error(msg, &e, &dbg);
      out = std::string(e->message) + " | " + (dbg ? dbg : "");
      g_clear_error(&e);
      g_free(dbg);
      done = true;
    } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
      done = true;
    } else if (on_element) {
      on_element(gst_message_get_structure(msg));
    }
    gst_message_unref(msg);
  }
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return out;
}

// The sam3detect inside a harness built from a launch line.
GstElement *detect_of(GstHarness *h) {
  GstElement *e = gst_harness_find_element(h, "sam3detect");
  gst_object_unref(e); // the harness keeps it alive
  return e;
}

TEST(Sam3Detect, EveryFrameCarriesInstancesLabelledByConcept) {
  GstHarness *h = detect_harness("prompt=\"cat;red car\" threshold=0");
  for (guint64 n = 0; n < 3; ++n) {
    GstBuffer *out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, n));
    ASSERT_NE(out, nullptr);
    GstSam3Meta *meta = gst_buffer_get_sam3_meta(out);
    ASSERT_NE(meta, nullptr) << "frame " << n;
    EXPECT_EQ(meta->frame_width, 64u);
    EXPECT_EQ(meta->frame_height, 48u);
    EXPECT_EQ(meta->frame_number, n);
    ASSERT_EQ(gst_sam3_meta_get_n_prompts(meta), 2u);
    EXPECT_STREQ(gst_sam3_meta_get_prompt(meta, 1), "red car");
    const guint n_inst = gst_sam3_meta_get_n_instances(meta);
    EXPECT_EQ(n_inst, 40u); // threshold 0: every query of both prompts (20 each)
    guint with_mask = 0;
    for (guint i = 0; i < n_inst; ++i) {
      GstSam3Instance *inst = gst_sam3_meta_get_instance(meta, i);
      EXPECT_STREQ(gst_sam3_instance_get_label(inst), inst->prompt_index == 0 ? "cat" : "red car");
      EXPECT_EQ(inst->track_id, 0u);
      EXPECT_EQ(inst->provenance, GST_SAM3_PROVENANCE_DETECTED);
      EXPECT_GE(inst->x, 0.f);
      EXPECT_LE(inst->x + inst->w, 64.001f);
      if (inst->mask) {
        ++with_mask;
        EXPECT_EQ(inst->mask_width, (guint)inst->mask_rect.w);
      }
    }
    EXPECT_GT(with_mask, 0u);
    // DL Streamer-style mirrors.
    guint rois = 0;
    gpointer state = nullptr;
    while (
        gst_buffer_iterate_meta_filtered(out, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))
      ++rois;
    EXPECT_EQ(rois, n_inst);
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}

TEST(Sam3Detect, LeavesBackboneFeaturesForTheTracker) {
  GstHarness *h = detect_harness("prompt=cat");
  GstBuffer *out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 0));
  GstSam3Features *f = gst_sam3_features_get(gst_buffer_get_sam3_meta(out));
  ASSERT_NE(f, nullptr);
  const auto &vit = sam3::tiny_test_config().detector.vision.backbone;
  EXPECT_EQ(f->backbone.sizes(), (c10::IntArrayRef{1, vit.hidden_size, vit.grid(), vit.grid()}));
  EXPECT_EQ(f->frame_width, 64);
  // A copy of the buffer shares the payload rather than copying the tensor.
  GstBuffer *copy = gst_buffer_copy(out);
  EXPECT_EQ(gst_sam3_features_get(gst_buffer_get_sam3_meta(copy)), f);
  GstSam3Payload *payload = gst_sam3_meta_get_payload(gst_buffer_get_sam3_meta(out));
  EXPECT_STREQ(gst_sam3_payload_get_kind(payload), GST_SAM3_FEATURES_KIND);
  EXPECT_EQ(GST_MINI_OBJECT_REFCOUNT_VALUE(payload), 2);
  gst_buffer_unref(copy);
  EXPECT_EQ(GST_MINI_OBJECT_REFCOUNT_VALUE(payload), 1);
  gst_buffer_unref(out);
  g_object_set(detect_of(h), "attach-features", FALSE, NULL);
  out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 1));
  EXPECT_EQ(gst_sam3_features_get(gst_buffer_get_sam3_meta(out)), nullptr);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST(Sam3Detect, WithoutInstanceMasksKeepsBoxesScoresAndTheTrackersLogits) {
  GstHarness *h = detect_harness("prompt=cat threshold=0 instance-masks=never");
  GstBuffer *out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 0));
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(out);
  ASSERT_NE(meta, nullptr);
  const guint n = gst_sam3_meta_get_n_instances(meta);
  EXPECT_EQ(n, 20u);
  for (guint i = 0; i < n; ++i) {
    const GstSam3Instance *inst = gst_sam3_meta_get_instance(meta, i);
    EXPECT_EQ(inst->mask, nullptr) << i;
    EXPECT_GT(inst->w, 0.f) << i;
  }
  GstSam3Features *f = gst_sam3_features_get(meta);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->detection_logits.size(0), (int64_t)n);
  gst_buffer_unref(out);
  // Back on while playing: the next frame has them.
  gst_util_set_object_arg(G_OBJECT(detect_of(h)), "instance-masks", "always");
  out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 1));
  meta = gst_buffer_get_sam3_meta(out);
  guint with_mask = 0;
  for (guint i = 0; i < gst_sam3_meta_get_n_instances(meta); ++i)
    with_mask += gst_sam3_meta_get_instance(meta, i)->mask != nullptr;
  EXPECT_GT(with_mask, 0u);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST(Sam3Detect, FlushAndEosKeepWorking) {
  GstHarness *h = detect_harness("prompt=cat");
  gst_buffer_unref(gst_harness_push_and_pull(h, frame("RGB", 64, 48, 0)));
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_start()));
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&segment)));
  GstBuffer *out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 1));
  EXPECT_NE(gst_buffer_get_sam3_meta(out), nullptr);
  gst_buffer_unref(out);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  GstEvent *ev;
  bool saw_eos = false;
  while ((ev = gst_harness_try_pull_event(h))) {
    saw_eos = saw_eos || GST_EVENT_TYPE(ev) == GST_EVENT_EOS;
    gst_event_unref(ev);
  }
  EXPECT_TRUE(saw_eos);
  gst_harness_teardown(h);
}

TEST(Sam3Detect, ThresholdAndMaxInstances) {
  GstHarness *h = detect_harness("prompt=cat threshold=0 max-instances=5");
  GstBuffer *out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 0));
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(out);
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(gst_sam3_meta_get_n_instances(meta), 5u);
  gst_buffer_unref(out);
  g_object_set(detect_of(h), "max-instances", 0u, "threshold", 1.0, NULL);
  out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 1));
  meta = gst_buffer_get_sam3_meta(out);
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(gst_sam3_meta_get_n_instances(meta), 0u);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST(Sam3Detect, PromptChangesOnTheNextFrameAndEmptyMeansPassThrough) {
  GstHarness *h = detect_harness("prompt=cat threshold=0");
  GstBuffer *out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 0));
  EXPECT_STREQ(gst_sam3_meta_get_prompt(gst_buffer_get_sam3_meta(out), 0), "cat");
  gst_buffer_unref(out);
  g_object_set(detect_of(h), "prompt", "dog", NULL);
  out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 1));
  EXPECT_STREQ(gst_sam3_meta_get_prompt(gst_buffer_get_sam3_meta(out), 0), "dog");
  gst_buffer_unref(out);
  g_object_set(detect_of(h), "prompt", "", NULL);
  GstBuffer *in = frame("RGB", 64, 48, 2);
  GstBuffer *before = gst_buffer_copy_deep(in);
  out = gst_harness_push_and_pull(h, in);
  EXPECT_EQ(gst_buffer_get_sam3_meta(out), nullptr);
  GstMapInfo a, b;
  gst_buffer_map(before, &a, GST_MAP_READ);
  gst_buffer_map(out, &b, GST_MAP_READ);
  ASSERT_EQ(a.size, b.size);
  EXPECT_EQ(memcmp(a.data, b.data, a.size), 0);
  gst_buffer_unmap(out, &b);
  gst_buffer_unmap(before, &a);
  gst_buffer_unref(before);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST(Sam3Detect, IntervalRunsEveryNthFrame) {
  GstHarness *h = detect_harness("prompt=cat threshold=0 interval=3");
  std::vector<bool> has;
  for (guint64 n = 0; n < 7; ++n) {
    GstBuffer *out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, n));
    has.push_back(gst_buffer_get_sam3_meta(out) != nullptr);
    gst_buffer_unref(out);
  }
  EXPECT_EQ(has, (std::vector<bool>{true, false, false, true, false, false, true}));
  guint64 processed = 0;
  g_object_get(detect_of(h), "frames-processed", &processed, NULL);
  EXPECT_EQ(processed, 3u);
  gst_harness_teardown(h);
}

TEST(Sam3Detect, LateFramesPassWithoutResultsAndAreCounted) {
  GstHarness *h = detect_harness("prompt=cat threshold=0");
  GstBuffer *out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 0));
  EXPECT_NE(gst_buffer_get_sam3_meta(out), nullptr);
  gst_buffer_unref(out);
  // Downstream says: frame 1 came 200 ms late.
  gst_harness_push_upstream_event(
      h, gst_event_new_qos(GST_QOS_TYPE_UNDERFLOW, 0.5, 200 * GST_MSECOND, GST_SECOND / 30));
  out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 2));
  EXPECT_EQ(gst_buffer_get_sam3_meta(out), nullptr) << "a late frame was processed";
  gst_buffer_unref(out);
  out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 30));
  EXPECT_NE(gst_buffer_get_sam3_meta(out), nullptr) << "a frame on time was skipped";
  gst_buffer_unref(out);
  guint64 skipped = 0;
  g_object_get(detect_of(h), "frames-skipped", &skipped, NULL);
  EXPECT_EQ(skipped, 1u);
  EXPECT_EQ(gst_harness_buffers_received(h), 3u);
  g_object_set(detect_of(h), "qos", FALSE, NULL);
  gst_harness_push_upstream_event(
      h, gst_event_new_qos(GST_QOS_TYPE_UNDERFLOW, 0.5, 10 * GST_SECOND, 31 * GST_SECOND / 30));
  out = gst_harness_push_and_pull(h, frame("RGB", 64, 48, 32));
  EXPECT_NE(gst_buffer_get_sam3_meta(out), nullptr) << "qos=false still skipped";
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST(Sam3Detect, AnswersTheLatencyQueryWithItsInferenceTime) {
  GstHarness *h = detect_harness("prompt=cat");
  gst_buffer_unref(gst_harness_push_and_pull(h, frame("RGB", 64, 48, 0)));
  GstQuery *q = gst_query_new_latency();
  ASSERT_TRUE(gst_pad_peer_query(h->sinkpad, q));
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency(q, &live, &min, &max);
  EXPECT_GT(min, 0u);
  gst_query_unref(q);
  gst_harness_teardown(h);
}

TEST(Sam3Detect, AcceptsTheFormatsDecodersGive) {
  for (const char *format : {"RGB", "BGR", "RGBx", "BGRx", "RGBA", "BGRA", "I420", "NV12"}) {
    GstHarness *h = detect_harness("prompt=cat threshold=0", format, 33, 17);
    GstBuffer *out = gst_harness_push_and_pull(h, frame(format, 33, 17, 0));
    GstSam3Meta *meta = gst_buffer_get_sam3_meta(out);
    ASSERT_NE(meta, nullptr) << format;
    EXPECT_EQ(gst_sam3_meta_get_n_instances(meta), 20u) << format;
    gst_buffer_unref(out);
    gst_harness_teardown(h);
  }
}

TEST(Sam3Detect, BadSettingsFailAtStartWithAClearMessage) {
  struct Case {
    std::string props, expect;
  } cases[] = {
      {"model=/nonexistent/sam3", "/nonexistent/sam3: no such file"},
      {"model=" + *g_model + " device=tpu", "unknown device \"tpu\""},
      {"model=" + *g_model + " device=cuda:0", "CUDA"},
      {"", "No model set"},
  };
  for (const auto &c : cases) {
    if (c.expect == "CUDA" && torch::cuda::is_available())
      continue;
    const auto err = run_pipeline("videotestsrc num-buffers=2 ! video/x-raw,width=32,height=32 ! "
                                  "sam3detect prompt=cat " +
                                  c.props + " ! fakesink");
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.props << " -> " << err;
  }
}

TEST(Sam3Detect, MalformedModelFileFailsCleanly) {
  char tmpl[] = "/tmp/sam3-bad-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  sam3::write_test_model(dir, sam3::tiny_test_config(), 2);
  {
    std::ofstream f(dir + "/model.safetensors", std::ios::binary | std::ios::trunc);
    f << "garbage";
  }
  const auto err = run_pipeline("videotestsrc num-buffers=2 ! video/x-raw,width=32,height=32 ! "
                                "sam3detect prompt=cat model=" +
                                dir + " ! fakesink");
  EXPECT_NE(err.find("model.safetensors"), std::string::npos) << err;
  std::system(("rm -rf " + dir).c_str());
}

TEST(Sam3Detect, TwoElementsShareOneModel) {
  const auto before = sam3::model_load_count();
  const auto err = run_pipeline(
      "videotestsrc num-buffers=3 ! video/x-raw,width=40,height=30 ! sam3detect model=" + *g_model +
      " prompt=cat ! tee name=t t. ! queue ! sam3detect model=" + *g_model +
      " prompt=dog ! fakesink t. ! queue ! fakesink");
  EXPECT_EQ(err, "");
  EXPECT_EQ(sam3::model_load_count(), before + 1);
}

TEST(Sam3Detect, SurvivesManyStateChangesAndReachesEos) {
  GError *err = nullptr;
  const std::string desc = "videotestsrc num-buffers=4 ! video/x-raw,width=32,height=24 ! "
                           "sam3detect prompt=cat model=" +
                           *g_model + " ! fakesink";
  GstElement *p = gst_parse_launch(desc.c_str(), &err);
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 10; ++i) {
    ASSERT_NE(gst_element_set_state(p, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    gst_element_get_state(p, nullptr, nullptr, 10 * GST_SECOND);
    ASSERT_NE(gst_element_set_state(p, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
    ASSERT_NE(gst_element_set_state(p, GST_STATE_NULL), GST_STATE_CHANGE_FAILURE);
  }
  gst_object_unref(p);
  EXPECT_EQ(run_pipeline(desc), "");
}

TEST(Sam3Export, WritesOneJsonLinePerFrame) {
  char tmpl[] = "/tmp/sam3-export-XXXXXX";
  const std::string out = std::string(mkdtemp(tmpl)) + "/r.jsonl";
  const auto err = run_pipeline(
      "videotestsrc num-buffers=5 ! video/x-raw,width=40,height=30 ! sam3detect model=" + *g_model +
      " prompt=\"cat;dog\" threshold=0 max-instances=3 interval=2 ! sam3export masks=true "
      "location=" +
      out + " ! fakesink");
  ASSERT_EQ(err, "");
  std::ifstream f(out);
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);)
    lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_NE(lines[i].find("\"schema\":\"gst-sam3/1\""), std::string::npos) << lines[i];
    GstBuffer *b = gst_buffer_new();
    GError *e = nullptr;
    GstSam3Meta *m = gst_buffer_add_sam3_meta_from_json(b, lines[i].c_str(), &e);
    ASSERT_NE(m, nullptr) << (e ? e->message : "") << "\n" << lines[i];
    EXPECT_EQ(gst_sam3_meta_get_n_instances(m), i % 2 == 0 ? 3u : 0u) << lines[i];
    gst_buffer_unref(b);
  }
  EXPECT_NE(lines[0].find("\"label\":\"cat\""), std::string::npos);
  EXPECT_NE(lines[0].find("rle"), std::string::npos);
  std::system(("rm -rf " + out.substr(0, out.rfind('/'))).c_str());
}

TEST(Sam3Export, PostsBusMessagesAndReportsUnwritableFiles) {
  int messages = 0;
  const auto err = run_pipeline(
      "videotestsrc num-buffers=2 ! video/x-raw,width=16,height=16 ! "
      "sam3export post-messages=true ! fakesink",
      [&](const GstStructure *s) {
        if (!gst_structure_has_name(s, "sam3-results"))
          return;
        ++messages;
        EXPECT_NE(std::string(gst_structure_get_string(s, "json")).find("\"instances\":[]"),
                  std::string::npos);
      });
  ASSERT_EQ(err, "");
  EXPECT_EQ(messages, 2);
  const auto bad = run_pipeline("videotestsrc num-buffers=1 ! sam3export "
                                "location=/nonexistent/dir/x.jsonl ! fakesink");
  EXPECT_NE(bad.find("/nonexistent/dir/x.jsonl"), std::string::npos) << bad;
}

} // namespace
