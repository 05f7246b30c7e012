// A real pipeline -- JPEG frames decoded, sam3detect ! sam3track ! sam3overlay ! sam3export
// with a generated tiny sam3_video model -- run to EOS and torn down. At gst_deinit() no
// GStreamer object or mini object (buffer, meta, event, caps, element) may still be alive:
// GStreamer's leaks tracer (GST_TRACERS=leaks) then warns, and G_DEBUG=fatal-warnings makes
// that fatal, in every build. In the sanitizer build LeakSanitizer also checks every heap
// block (tensors, metadata, strings) when the process exits.
//
// The frames are the SAM 3 sample video when ../shared/assets is present; otherwise frames of
// a moving ball are encoded to JPEG first, so the pipeline is the same either way.
#include "gst/fixtures.h"
#include "model/test_model.h"

#include <gst/gst.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>

namespace {

constexpr int kFrames = 24;

std::string *g_dir = nullptr;
std::string *g_model = nullptr;

class GstEnvironment : public ::testing::Environment {
public:
  void SetUp() override {
    gst_init(nullptr, nullptr);
    g_dir = new std::string(sam3_test::scratch_dir("leaks"));
    g_model = new std::string(*g_dir + "/tiny-video");
    sam3::write_test_model(*g_model, sam3::tiny_video_test_config(), 11);
  }
  void TearDown() override {
    sam3_test::remove_dir(*g_dir);
    delete g_model;
    delete g_dir;
    // The leaks tracer reports what is still alive here; GStreamer's own state is freed, so
    // what LeakSanitizer reports at exit is ours.
    gst_deinit();
  }
};
const auto *env = ::testing::AddGlobalTestEnvironment(new GstEnvironment);

bool leaks_tracer_active() {
  GList *tracers = gst_tracing_get_active_tracers();
  bool found = false;
  for (GList *l = tracers; l; l = l->next)
    found = found || g_str_equal(G_OBJECT_TYPE_NAME(l->data), "GstLeaksTracer");
  g_list_free_full(tracers, gst_object_unref);
  return found;
}

// The JPEG frames the pipeline decodes: the sample video if present, else generated ones.
std::string frames_location() {
  const char *assets = std::getenv("SAM3_SHARED_ASSETS");
  if (assets) {
    const std::string sample = std::string(assets) + "/videos/0001/%d.jpg";
    if (g_file_test((std::string(assets) + "/videos/0001/0.jpg").c_str(), G_FILE_TEST_EXISTS))
      return sample;
  }
  std::cout << "[ INFO     ] ../shared/assets not found: using generated frames\n";
  const std::string location = *g_dir + "/frame-%d.jpg";
  GError *error = nullptr;
  GstElement *gen = gst_parse_launch(
      ("videotestsrc pattern=ball num-buffers=" + std::to_string(kFrames) +
       " ! video/x-raw,width=320,height=180 ! jpegenc ! multifilesink location=" + location)
          .c_str(),
      &error);
  EXPECT_EQ(error, nullptr) << (error ? error->message : "");
  sam3_test::play_to_eos(gen);
  return location;
}

GstPadProbeReturn count_buffer(GstPad *, GstPadProbeInfo *, gpointer counter) {
  ++*static_cast<int *>(counter);
  return GST_PAD_PROBE_OK;
}

// Runs the pipeline to EOS and tears it down; returns how many frames reached the sink and
// how many JSON records sam3export wrote.
std::pair<int, int> run_pipeline(const std::string &location, const std::string &json) {
  const std::string desc =
      "multifilesrc location=" + location + " index=0 stop-index=" + std::to_string(kFrames - 1) +
      " caps=image/jpeg,framerate=30/1 ! jpegdec ! videoconvert ! sam3detect model=" + *g_model +
      " prompt=person threshold=0 ! sam3track detection-threshold=0 new-object-threshold=0 ! "
      "sam3overlay ! sam3export location=" +
      json + " ! fakesink name=sink";
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(desc.c_str(), &error);
  EXPECT_EQ(error, nullptr) << error->message;
  if (!pipeline)
    return {0, 0};
  int frames_out = 0;
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  GstPad *pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, &frames_out, nullptr);
  gst_object_unref(pad);
  gst_object_unref(sink);

  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered(
      bus, 60 * GST_SECOND, (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  EXPECT_NE(msg, nullptr) << "no EOS within 60 s";
  if (msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError *err = nullptr;
    gst_message_parse_error(msg, &err, nullptr);
    ADD_FAILURE() << err->message;
    g_error_free(err);
  }
  if (msg)
    gst_message_unref(msg);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);

  std::ifstream lines(json);
  int records = 0;
  for (std::string line; std::getline(lines, line);)
    records += !line.empty();
  return {frames_out, records};
}

TEST(Leaks, RealPipelineLeavesNoObjectBehind) {
  // Without the tracer and fatal warnings the object check would pass unseen.
  ASSERT_TRUE(leaks_tracer_active()) << "run with GST_TRACERS=leaks (the meson test sets it)";
  const GLogLevelFlags fatal =
      g_log_set_always_fatal(static_cast<GLogLevelFlags>(G_LOG_FATAL_MASK));
  g_log_set_always_fatal(fatal);
  ASSERT_TRUE(fatal & G_LOG_LEVEL_WARNING)
      << "run with G_DEBUG=fatal-warnings (the meson test sets it)";
  const std::string location = frames_location();
  EXPECT_EQ(run_pipeline(location, *g_dir + "/out.jsonl"), std::make_pair(kFrames, kFrames));
}

} // namespace
