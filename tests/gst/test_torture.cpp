// Torture tests for pipelines that run for months (issue 9): state cycles, seeks and flushes,
// caps changes, EOS in every state, property changes from another thread, and two pipelines
// sharing one model. Whatever happens, every frame that goes in comes out (or is dropped by a
// flush and freed), nothing grows, nothing hangs: every wait has a timeout and fails the test.
#include "gst/fixtures.h"
#include "gstsam3meta.h"

#include "model/registry.h"
#include "model/test_model.h"

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace sam3_test;

std::string *g_dir = nullptr;
std::string *g_model = nullptr;

class GstEnvironment : public ::testing::Environment {
public:
  void SetUp() override {
    gst_init(nullptr, nullptr);
    g_dir = new std::string(scratch_dir("torture"));
    g_model = new std::string(*g_dir + "/tiny-video");
    sam3::write_test_model(*g_model, sam3::tiny_video_test_config(), 5);
  }
  void TearDown() override {
    remove_dir(*g_dir);
    delete g_model;
    delete g_dir;
  }
};
const auto *env = ::testing::AddGlobalTestEnvironment(new GstEnvironment);

constexpr GstClockTime kTimeout = 20 * GST_SECOND;
constexpr GstClockTime kFrame = GST_SECOND / 30;
const char *kEager = "detection-threshold=0 new-object-threshold=0";

std::string detector() {
  return "sam3detect name=detect model=" + *g_model + " prompt=thing threshold=0";
}

std::string source(int num_buffers) {
  return "videotestsrc num-buffers=" + std::to_string(num_buffers) +
         " ! video/x-raw,format=RGB,width=64,height=48,framerate=30/1";
}

GstElement *launch(const std::string &desc) {
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launch(desc.c_str(), &err);
  EXPECT_NE(pipeline, nullptr) << desc << ": " << (err ? err->message : "");
  g_clear_error(&err);
  return pipeline;
}

// Buffers counted on a pad; a FLUSH_STOP starts a new count (frames of the new segment).
struct PadCount {
  std::mutex mutex;
  int total = 0;
  int since_flush = 0;
  int flushes = 0;
  std::vector<GstClockTime> pts; // since the last flush

  int get_total() {
    std::lock_guard<std::mutex> lock(mutex);
    return total;
  }
  int get_since_flush() {
    std::lock_guard<std::mutex> lock(mutex);
    return since_flush;
  }
};

GstPadProbeReturn count_probe(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *c = static_cast<PadCount *>(data);
  std::lock_guard<std::mutex> lock(c->mutex);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    c->total++;
    c->since_flush++;
    c->pts.push_back(GST_BUFFER_PTS(GST_PAD_PROBE_INFO_BUFFER(info)));
  } else if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_FLUSH_STOP) {
    c->since_flush = 0;
    c->flushes++;
    c->pts.clear();
  }
  return GST_PAD_PROBE_OK;
}

void count_on(GstElement *pipeline, const char *element, const char *pad, PadCount *count) {
  GstElement *e = gst_bin_get_by_name(GST_BIN(pipeline), element);
  ASSERT_NE(e, nullptr) << element;
  GstPad *p = gst_element_get_static_pad(e, pad);
  gst_pad_add_probe(p,
                    (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_FLUSH),
                    count_probe, count, nullptr);
  gst_object_unref(p);
  gst_object_unref(e);
}

// Waits for EOS; "" when it came, else what came instead (error text or "timeout").
std::string wait_eos(GstElement *pipeline, GstClockTime timeout = kTimeout) {
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered(
      bus, timeout, (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  gst_object_unref(bus);
  if (!msg)
    return "timeout";
  std::string out;
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError *e = nullptr;
    gst_message_parse_error(msg, &e, nullptr);
    out = std::string("error from ") + GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)) + ": " + e->message;
    g_clear_error(&e);
  }
  gst_message_unref(msg);
  return out;
}

// Polls until `done` holds; false after the timeout.
template <class F> bool wait_until(F done) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

GstStateChangeReturn settle(GstElement *pipeline, GstState state) {
  GstStateChangeReturn ret = gst_element_set_state(pipeline, state);
  if (ret == GST_STATE_CHANGE_ASYNC)
    ret = gst_element_get_state(pipeline, nullptr, nullptr, kTimeout);
  return ret;
}

GstState current_state(GstElement *pipeline) {
  GstState state = GST_STATE_VOID_PENDING;
  gst_element_get_state(pipeline, &state, nullptr, 0);
  return state;
}

void count_free(gpointer freed, GstMiniObject *) {
  ++*static_cast<std::atomic<int> *>(freed);
}

GstPadProbeReturn watch_free(GstPad *, GstPadProbeInfo *info, gpointer freed) {
  gst_mini_object_weak_ref(GST_MINI_OBJECT(GST_PAD_PROBE_INFO_BUFFER(info)), count_free, freed);
  return GST_PAD_PROBE_OK;
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long value = 0;
  while (status >> key)
    if (key == "VmRSS:" && status >> value)
      return value;
  return -1;
}

TEST(Torture, AThousandStateCyclesOfOnePipeline) {
  // A model held elsewhere in the process (another stream) keeps every cycle from reloading it.
  auto model = sam3::acquire_model(*g_model, "cpu", sam3::Precision::kFloat32);
  const uint64_t loads = sam3::model_load_count();
  const std::string out = *g_dir + "/cycles.jsonl";
  GstElement *pipeline =
      launch(source(1) + " ! " + detector() + " ! sam3track " + kEager +
             " ! sam3overlay ! sam3export location=" + out + " ! fakesink name=sink sync=false");
  ASSERT_NE(pipeline, nullptr);
  PadCount in, outs;
  count_on(pipeline, "detect", "sink", &in);
  count_on(pipeline, "sink", "sink", &outs);
  // Every frame the source made is freed once the pipeline is back in NULL (a frame pool
  // lives only while the pipeline runs; a frame seen twice is freed twice).
  std::atomic<int> freed{0};
  {
    GstElement *detect = gst_bin_get_by_name(GST_BIN(pipeline), "detect");
    GstPad *pad = gst_element_get_static_pad(detect, "sink");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, watch_free, &freed, nullptr);
    gst_object_unref(pad);
    gst_object_unref(detect);
  }
  [[maybe_unused]] long rss_at_100 = 0;
  for (int cycle = 1; cycle <= 1000; ++cycle) {
    ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE)
        << "cycle " << cycle;
    // A sink posts EOS only once PLAYING is reached.
    ASSERT_EQ(wait_eos(pipeline), "") << "cycle " << cycle;
    ASSERT_EQ(current_state(pipeline), GST_STATE_PLAYING) << "cycle " << cycle;
    ASSERT_EQ(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS)
        << "cycle " << cycle;
    ASSERT_EQ(current_state(pipeline), GST_STATE_NULL) << "cycle " << cycle;
    ASSERT_EQ(outs.get_total(), cycle) << "cycle " << cycle << ": frames lost";
    ASSERT_EQ(in.get_total(), outs.get_total());
    ASSERT_EQ(freed.load(), in.get_total()) << "cycle " << cycle << ": frames leaked";
    if (cycle == 100)
      rss_at_100 = rss_kib();
  }
#ifndef __SANITIZE_ADDRESS__
  // Memory moves by allocator noise at most. (Under ASAN freed blocks sit in its quarantine,
  // so RSS grows regardless; LeakSanitizer checks that build at exit instead.)
  EXPECT_LT(rss_kib() - rss_at_100, 8 * 1024) << "RSS grew by " << rss_kib() - rss_at_100 << " KiB";
#endif
  EXPECT_EQ(sam3::model_load_count(), loads) << "the model was loaded again by a cycle";
  std::ifstream lines(out);
  int n = 0;
  for (std::string line; std::getline(lines, line);)
    ++n;
  EXPECT_EQ(n, 1) << "sam3export writes the last run's frames";
  gst_object_unref(pipeline);
}

TEST(Torture, FlushingSeeksWhileFramesFlow) {
  GstElement *pipeline =
      launch(source(-1) + " ! " + detector() + " ! sam3track " + kEager +
             " output-delay=2 ! sam3overlay ! sam3export ! fakesink name=sink sync=false");
  ASSERT_NE(pipeline, nullptr);
  PadCount outs;
  count_on(pipeline, "sink", "sink", &outs);
  ASSERT_EQ(settle(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_SUCCESS);
  const auto seek = [&](gint64 stop_frames) {
    return gst_element_seek(pipeline, 1.0, GST_FORMAT_TIME,
                            (GstSeekFlags)(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE),
                            GST_SEEK_TYPE_SET, 0, GST_SEEK_TYPE_SET, stop_frames * kFrame);
  };
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(wait_until([&] { return outs.get_since_flush() >= 3; })) << "seek " << i;
    ASSERT_TRUE(seek(100000)) << "seek " << i;
  }
  ASSERT_TRUE(wait_until([&] { return outs.get_since_flush() >= 3; }));
  // The last segment is frames 0..11: exactly those come out, in order, then EOS.
  ASSERT_TRUE(seek(12));
  ASSERT_EQ(wait_eos(pipeline), "");
  {
    std::lock_guard<std::mutex> lock(outs.mutex);
    EXPECT_EQ(outs.flushes, 11);
    ASSERT_EQ(outs.since_flush, 12);
    for (int k = 0; k < 12; ++k)
      EXPECT_EQ(outs.pts[k], gst_util_uint64_scale(k, GST_SECOND, 30)) << "frame " << k;
  }
  EXPECT_EQ(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_object_unref(pipeline);
}

TEST(Torture, PlainFlushesFromAnotherThreadWhileFramesFlow) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_RGB, 64, 48);
  GstHarness *h =
      video_harness(detector() + " ! sam3track " + kEager + " output-delay=2 ! sam3overlay", info);
  std::atomic<int> freed{0};
  std::atomic<bool> flushing_done{false};
  // A flush may interrupt a push; the segment after it must not be overtaken by a frame.
  std::mutex order;
  std::thread flusher([&] {
    for (int i = 0; i < 8; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
      gst_harness_push_event(h, gst_event_new_flush_start());
      std::lock_guard<std::mutex> lock(order);
      gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
      GstSegment segment;
      gst_segment_init(&segment, GST_FORMAT_TIME);
      gst_harness_push_event(h, gst_event_new_segment(&segment));
    }
    flushing_done = true;
  });
  int pushed = 0;
  guint64 n = 0;
  while (!flushing_done || n < 30) {
    GstBuffer *buf = pattern_frame(info, n++);
    gst_mini_object_weak_ref(GST_MINI_OBJECT(buf), count_free, &freed);
    std::lock_guard<std::mutex> lock(order);
    const GstFlowReturn ret = gst_harness_push(h, buf);
    ASSERT_TRUE(ret == GST_FLOW_OK || ret == GST_FLOW_FLUSHING) << gst_flow_get_name(ret);
    ++pushed;
    while (GstBuffer *out = gst_harness_try_pull(h))
      gst_buffer_unref(out);
  }
  flusher.join();
  // A last flush forgets the frames held back; after it, every frame in comes out.
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_start()));
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&segment)));
  while (GstBuffer *out = gst_harness_try_pull(h))
    gst_buffer_unref(out);
  for (int k = 0; k < 5; ++k) {
    GstBuffer *buf = pattern_frame(info, n++);
    gst_mini_object_weak_ref(GST_MINI_OBJECT(buf), count_free, &freed);
    ASSERT_EQ(gst_harness_push(h, buf), GST_FLOW_OK);
    ++pushed;
  }
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  int last = 0;
  while (GstBuffer *out = gst_harness_try_pull(h)) {
    ++last;
    gst_buffer_unref(out);
  }
  EXPECT_EQ(last, 5);
  gst_harness_teardown(h);
  // Frames dropped by the flushes were freed, not leaked.
  EXPECT_EQ(freed.load(), pushed);
}

struct Step {
  GstVideoFormat format;
  int width, height;
};

TEST(Torture, CapsChangesMidStreamKeepEveryFrameInItsOwnSize) {
  GstHarness *h = gst_harness_new_parse(
      (detector() + " ! sam3track " + kEager + " output-delay=2 ! sam3overlay ! sam3export")
          .c_str());
  const std::vector<Step> steps = {{GST_VIDEO_FORMAT_RGB, 64, 48},
                                   {GST_VIDEO_FORMAT_I420, 80, 60},
                                   {GST_VIDEO_FORMAT_NV12, 48, 64},
                                   {GST_VIDEO_FORMAT_RGB, 64, 48}};
  // The caps each frame arrives under at the end of the chain.
  std::vector<std::pair<gint, gint>> arrived;
  GstElement *exporter = gst_harness_find_element(h, "sam3export");
  GstPad *pad = gst_element_get_static_pad(exporter, "sink");
  gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER,
      +[](GstPad *pad, GstPadProbeInfo *, gpointer data) {
        GstCaps *caps = gst_pad_get_current_caps(pad);
        GstVideoInfo info;
        gst_video_info_from_caps(&info, caps);
        gst_caps_unref(caps);
        static_cast<std::vector<std::pair<gint, gint>> *>(data)->emplace_back(
            GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info));
        return GST_PAD_PROBE_OK;
      },
      &arrived, nullptr);
  gst_object_unref(pad);
  gst_object_unref(exporter);
  std::vector<GstVideoInfo> sent;
  guint64 n = 0;
  for (const Step &step : steps) {
    GstVideoInfo info = video_info(step.format, step.width, step.height);
    gst_harness_set_src_caps(h, gst_video_info_to_caps(&info));
    for (int k = 0; k < 4; ++k) {
      ASSERT_EQ(gst_harness_push(h, pattern_frame(info, n++)), GST_FLOW_OK);
      sent.push_back(info);
    }
  }
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  ASSERT_EQ(gst_harness_buffers_in_queue(h), sent.size()) << "every frame in must come out";
  for (size_t k = 0; k < sent.size(); ++k) {
    GstBuffer *out = gst_harness_pull(h);
    const GstVideoInfo &info = sent[k];
    const guint W = GST_VIDEO_INFO_WIDTH(&info), H = GST_VIDEO_INFO_HEIGHT(&info);
    EXPECT_EQ(GST_BUFFER_PTS(out), gst_util_uint64_scale(k, GST_SECOND, 30))
        << "frames out of order";
    EXPECT_EQ(arrived.at(k),
              std::make_pair(GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info)))
        << "frame " << k << " left under another frame size's caps";
    EXPECT_EQ(gst_buffer_get_size(out), GST_VIDEO_INFO_SIZE(&info)) << "frame " << k;
    GstSam3Meta *meta = gst_buffer_get_sam3_meta(out);
    ASSERT_NE(meta, nullptr) << "frame " << k;
    EXPECT_EQ(meta->frame_width, W) << "frame " << k;
    EXPECT_EQ(meta->frame_height, H) << "frame " << k;
    for (guint i = 0; i < gst_sam3_meta_get_n_instances(meta); ++i) {
      const GstSam3Instance *inst = gst_sam3_meta_get_instance(meta, i);
      EXPECT_GT(inst->track_id, 0u);
      EXPECT_GE(inst->mask_rect.x, 0);
      EXPECT_GE(inst->mask_rect.y, 0);
      EXPECT_LE(guint(inst->mask_rect.x + inst->mask_rect.w), W) << "frame " << k;
      EXPECT_LE(guint(inst->mask_rect.y + inst->mask_rect.h), H) << "frame " << k;
      EXPECT_LE(inst->x + inst->w, W + 0.5f) << "frame " << k;
      EXPECT_LE(inst->y + inst->h, H + 0.5f) << "frame " << k;
    }
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}

// EOS sent to the pipeline in `state`; frames held back by sam3track's output-delay leave.
// The source is live: a prerolled non-live source holds its stream lock in PAUSED, and
// gst_element_send_event() would then block holding the pipeline's state lock (GStreamer's
// own rule, whatever the elements).
void eos_in_state(GstState state, int num_buffers) {
  GstElement *pipeline =
      launch("videotestsrc is-live=true num-buffers=" + std::to_string(num_buffers) +
             " ! video/x-raw,format=RGB,width=64,height=48,framerate=30/1 ! " + detector() +
             " ! sam3track " + kEager +
             " output-delay=3 ! sam3overlay ! sam3export ! fakesink name=sink "
             "sync=false");
  ASSERT_NE(pipeline, nullptr);
  PadCount in, outs;
  count_on(pipeline, "detect", "sink", &in);
  count_on(pipeline, "sink", "sink", &outs);
  ASSERT_NE(settle(pipeline, state), GST_STATE_CHANGE_FAILURE);
  if (state == GST_STATE_PLAYING) {
    ASSERT_TRUE(wait_until([&] { return in.get_total() >= 5; }));
  }
  gst_element_send_event(pipeline, gst_event_new_eos());
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_EQ(wait_eos(pipeline), "") << gst_element_state_get_name(state);
  EXPECT_EQ(in.get_total(), outs.get_total()) << gst_element_state_get_name(state);
  EXPECT_EQ(settle(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_object_unref(pipeline);
}

TEST(Torture, EosInEveryStateDrainsHeldFrames) {
  eos_in_state(GST_STATE_READY, 6);
  eos_in_state(GST_STATE_PAUSED, 6);
  eos_in_state(GST_STATE_PLAYING, -1);
}

TEST(Torture, EosThroughAHarnessWithFramesHeldBack) {
  const GstVideoInfo info = video_info(GST_VIDEO_FORMAT_RGB, 64, 48);
  GstHarness *h = video_harness(detector() + " ! sam3track " + kEager + " output-delay=4", info);
  for (guint64 n = 0; n < 3; ++n)
    ASSERT_EQ(gst_harness_push(h, pattern_frame(info, n)), GST_FLOW_OK);
  EXPECT_EQ(gst_harness_buffers_received(h), 0u) << "output-delay=4 holds three frames";
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  EXPECT_EQ(gst_harness_buffers_received(h), 3u);
  gst_harness_teardown(h);
}

TEST(Torture, PropertiesChangedFromAnotherThreadWhilePlaying) {
  GstElement *pipeline = launch(source(40) + " ! " + detector() +
                                " ! sam3track name=track ! sam3overlay name=overlay ! sam3export "
                                "! fakesink name=sink sync=false");
  ASSERT_NE(pipeline, nullptr);
  PadCount in, outs;
  count_on(pipeline, "detect", "sink", &in);
  count_on(pipeline, "sink", "sink", &outs);
  GstElement *detect = gst_bin_get_by_name(GST_BIN(pipeline), "detect");
  GstElement *track = gst_bin_get_by_name(GST_BIN(pipeline), "track");
  GstElement *overlay = gst_bin_get_by_name(GST_BIN(pipeline), "overlay");
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  std::thread hammer([&] {
    const char *prompts[] = {"thing", "", "cat;dog", "a;b;c;d", "thing"};
    const char *boxes[] = {"4,4,20,20",       "", "0,0,64,48,neg;10,10,5,5", "not boxes",
                           "1000,1000,50,50", ""};
    for (int i = 0; !stop; ++i, ++rounds) {
      g_object_set(detect, "prompt", prompts[i % 5], "threshold", (i % 3) / 2.0, "mask-threshold",
                   (i % 4) / 3.0, "interval", 1 + i % 3, "max-instances", i % 4, nullptr);
      g_object_set(detect, "exemplar-boxes", boxes[i % 6], nullptr);
      g_object_set(track, "detection-threshold", (i % 2) * 0.5, "new-object-threshold",
                   (i % 3) / 2.0, "max-objects", i % 5, "mask-threshold", (i % 5) / 4.0, "qos",
                   i % 2 == 0, nullptr);
      g_object_set(overlay, "draw-masks", i % 2 == 0, "draw-labels", i % 3 == 0, "line-width",
                   1 + i % 4, "mask-alpha", (i % 5) / 4.0, "min-score", (i % 3) / 2.0, nullptr);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  const std::string result = wait_eos(pipeline);
  stop = true;
  hammer.join();
  EXPECT_EQ(result, "");
  EXPECT_EQ(outs.get_total(), 40) << "every frame in must come out";
  EXPECT_EQ(in.get_total(), 40);
  EXPECT_GT(rounds.load(), 10);
  EXPECT_EQ(settle(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_object_unref(overlay);
  gst_object_unref(track);
  gst_object_unref(detect);
  gst_object_unref(pipeline);
}

void two_pipelines_torn_down(bool a_first) {
  const std::string desc = source(-1) + " ! " + detector() + " ! sam3track " + kEager +
                           " model=" + *g_model + " ! sam3overlay ! fakesink name=sink sync=false";
  const uint64_t loads = sam3::model_load_count();
  GstElement *a = launch(desc), *b = launch(desc);
  ASSERT_TRUE(a && b);
  PadCount out_a, out_b;
  count_on(a, "sink", "sink", &out_a);
  count_on(b, "sink", "sink", &out_b);
  ASSERT_NE(gst_element_set_state(a, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_NE(gst_element_set_state(b, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(wait_until([&] { return out_a.get_total() >= 3 && out_b.get_total() >= 3; }));
  EXPECT_EQ(sam3::model_load_count(), loads + 1) << "two pipelines, four elements, one model";
  GstElement *first = a_first ? a : b, *second = a_first ? b : a;
  PadCount &survivor = a_first ? out_b : out_a;
  EXPECT_EQ(settle(first, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  const int before = survivor.get_total();
  EXPECT_TRUE(wait_until([&] { return survivor.get_total() >= before + 3; }))
      << "the other pipeline stopped";
  EXPECT_EQ(settle(second, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_object_unref(a);
  gst_object_unref(b);
  // Freed with its last user: the next request loads it again.
  auto model = sam3::acquire_model(*g_model, "cpu", sam3::Precision::kFloat32);
  EXPECT_EQ(sam3::model_load_count(), loads + 2);
}

TEST(Torture, TwoPipelinesSharingOneModelTornDownInEitherOrder) {
  two_pipelines_torn_down(true);
  two_pipelines_torn_down(false);
}

} // namespace
