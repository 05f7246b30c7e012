// Failure paths (issue 9): a model too large for memory is an element error, not an abort; a
// model file replaced on disk while loaded leaves running pipelines untouched, and the next
// pipeline loads what is on disk now (or fails clearly).
#include "gst/fixtures.h"
#include "gstsam3meta.h"

#include "model/config.h"
#include "model/registry.h"
#include "model/test_model.h"

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace sam3_test;

std::string *g_dir = nullptr;

class GstEnvironment : public ::testing::Environment {
public:
  void SetUp() override {
    gst_init(nullptr, nullptr);
    g_dir = new std::string(scratch_dir("failure"));
  }
  void TearDown() override {
    remove_dir(*g_dir);
    delete g_dir;
  }
};
const auto *env = ::testing::AddGlobalTestEnvironment(new GstEnvironment);

const char *kEager = "detection-threshold=0 new-object-threshold=0";

void write_file(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// Sets `desc` to PAUSED; returns the text of the error posted by the element `name` ("" when
// none). The state change must fail and NULL must work afterwards.
std::string pause_error(const std::string &desc, const char *name) {
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launch(desc.c_str(), &err);
  EXPECT_NE(pipeline, nullptr) << (err ? err->message : "");
  g_clear_error(&err);
  if (!pipeline)
    return "";
  GstStateChangeReturn ret = gst_element_set_state(pipeline, GST_STATE_PAUSED);
  if (ret == GST_STATE_CHANGE_ASYNC)
    ret = gst_element_get_state(pipeline, nullptr, nullptr, 20 * GST_SECOND);
  EXPECT_EQ(ret, GST_STATE_CHANGE_FAILURE) << desc;
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered(bus, 5 * GST_SECOND, GST_MESSAGE_ERROR);
  std::string out;
  if (msg) {
    EXPECT_STREQ(GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), name);
    GError *e = nullptr;
    gst_message_parse_error(msg, &e, nullptr);
    out = e->message;
    g_clear_error(&e);
    gst_message_unref(msg);
  }
  gst_object_unref(bus);
  EXPECT_EQ(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_object_unref(pipeline);
  return out;
}

TEST(FailurePaths, AModelTooLargeForMemoryIsAnElementError) {
  const std::string dir = *g_dir + "/huge";
  sam3::ModelConfig config = sam3::tiny_video_test_config();
  sam3::write_test_model(dir, config, 5);
  // One text MLP weight of 2^40 x 32 floats (128 TiB): a valid config no machine can hold,
  // so the allocation fails at once (never a size that could be allocated and touched).
  config.detector.text.intermediate_size = int64_t(1) << 40;
  write_file(dir + "/config.json", sam3::to_json(config));
  const std::string src = "videotestsrc num-buffers=1 ! video/x-raw,width=64,height=48 ! ";
  for (const auto &[desc, name] :
       {std::pair<std::string, const char *>{
            src + "sam3detect name=d prompt=thing model=" + dir + " ! fakesink", "d"},
        {src + "sam3track name=t model=" + dir + " ! fakesink", "t"}}) {
    const std::string error = pause_error(desc, name);
    EXPECT_NE(error.find("Cannot load the SAM 3 model"), std::string::npos) << error;
    EXPECT_NE(error.find("memory"), std::string::npos) << error;
  }
}

constexpr int kWidth = 64, kHeight = 48;

GstHarness *tracker(const std::string &model) {
  return video_harness("sam3detect model=" + model + " prompt=thing threshold=0 ! sam3track " +
                           kEager,
                       video_info(GST_VIDEO_FORMAT_RGB, kWidth, kHeight));
}

GstBuffer *frame(guint64 n) {
  return pattern_frame(video_info(GST_VIDEO_FORMAT_RGB, kWidth, kHeight), n);
}

// The frame's results as JSON with masks: instances, track ids, scores, boxes, mask bytes.
std::string results(GstHarness *h, guint64 n) {
  GstBuffer *out = gst_harness_push_and_pull(h, frame(n));
  EXPECT_NE(out, nullptr);
  if (!out)
    return "";
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(out);
  EXPECT_NE(meta, nullptr) << "frame " << n;
  gchar *json = meta ? gst_sam3_meta_to_json(meta, out, TRUE) : g_strdup("");
  std::string text = json;
  g_free(json);
  gst_buffer_unref(out);
  return text;
}

std::vector<std::string> run(const std::string &model, guint64 frames) {
  GstHarness *h = tracker(model);
  std::vector<std::string> out;
  for (guint64 n = 0; n < frames; ++n)
    out.push_back(results(h, n));
  gst_harness_teardown(h);
  return out;
}

bool mapped(const std::string &path) {
  std::ifstream maps("/proc/self/maps");
  std::stringstream text;
  text << maps.rdbuf();
  return text.str().find(path) != std::string::npos;
}

TEST(FailurePaths, AModelFileReplacedOnDiskLeavesRunningPipelinesAlone) {
  const std::string dir = *g_dir + "/replaced", other = *g_dir + "/other";
  sam3::write_test_model(dir, sam3::tiny_video_test_config(), 5);
  sam3::write_test_model(other, sam3::tiny_video_test_config(), 6);
  const std::string weights = dir + "/model.safetensors";
  const auto reference = run(dir, 12);
  const auto reference_other = run(other, 4);
  ASSERT_NE(reference[0], reference_other[0]) << "two seeds gave the same model";

  GstHarness *running = tracker(dir);
  std::vector<std::string> seen;
  for (guint64 n = 0; n < 4; ++n)
    seen.push_back(results(running, n));
  // The weights were copied out of the file: nothing maps it once the model is loaded.
  EXPECT_FALSE(mapped(weights));

  // (a) Rewritten in place with garbage of another length.
  write_file(weights, std::string(1234, '\x5a'));
  for (guint64 n = 4; n < 8; ++n)
    seen.push_back(results(running, n));
  // A new pipeline reads the file as it is now and says what is wrong with it.
  const std::string error =
      pause_error("videotestsrc num-buffers=1 ! video/x-raw,width=64,height=48 ! sam3detect name=d "
                  "prompt=thing model=" +
                      dir + " ! fakesink",
                  "d");
  EXPECT_NE(error.find("Cannot load the SAM 3 model"), std::string::npos) << error;
  EXPECT_NE(error.find(weights), std::string::npos) << error;

  // (b) Replaced by rename with another valid model, the way updates are installed.
  std::ifstream in(other + "/model.safetensors", std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  write_file(weights + ".new", bytes.str());
  ASSERT_EQ(std::rename((weights + ".new").c_str(), weights.c_str()), 0);
  for (guint64 n = 8; n < 12; ++n)
    seen.push_back(results(running, n));
  for (size_t n = 0; n < reference.size(); ++n)
    EXPECT_EQ(seen[n], reference[n]) << "frame " << n << " differs from the untouched model's";

  // A pipeline started now gets the new file, not the model still loaded from the old one.
  const uint64_t loads = sam3::model_load_count();
  const auto fresh = run(dir, 4);
  EXPECT_EQ(sam3::model_load_count(), loads + 1);
  EXPECT_EQ(fresh, reference_other);
  gst_harness_teardown(running);
}

} // namespace
