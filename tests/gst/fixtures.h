// Helpers the element tests share: a scratch folder for generated models, frames with a
// deterministic pattern, a harness with raw-video caps, and a pipeline played to its end.
#pragma once

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace sam3_test {

// A fresh folder /tmp/sam3-NAME-XXXXXX for what a test binary generates.
inline std::string scratch_dir(const std::string &name) {
  std::string tmpl = "/tmp/sam3-" + name + "-XXXXXX";
  return mkdtemp(tmpl.data());
}

inline void remove_dir(const std::string &dir) {
  std::system(("rm -rf '" + dir + "'").c_str());
}

// 30 fps video of `format`, `width` x `height`.
inline GstVideoInfo video_info(GstVideoFormat format, int width, int height) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, format, width, height);
  GST_VIDEO_INFO_FPS_N(&info) = 30;
  GST_VIDEO_INFO_FPS_D(&info) = 1;
  return info;
}

// Frame `n` of a 30 fps stream: a byte pattern that changes from frame to frame, so the
// random test models see different input each time.
inline GstBuffer *pattern_frame(const GstVideoInfo &info, guint64 n) {
  GstBuffer *buf = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  GstMapInfo map;
  gst_buffer_map(buf, &map, GST_MAP_WRITE);
  for (gsize i = 0; i < map.size; ++i)
    map.data[i] = static_cast<guint8>((i * 13 + n * 5) & 0xff);
  gst_buffer_unmap(buf, &map);
  GST_BUFFER_PTS(buf) = gst_util_uint64_scale(n, GST_SECOND, 30);
  GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
  return buf;
}

// A harness around the bin `desc` fed with `info`'s caps.
inline GstHarness *video_harness(const std::string &desc, const GstVideoInfo &info) {
  GstHarness *h = gst_harness_new_parse(desc.c_str());
  GstCaps *caps = gst_video_info_to_caps(&info);
  gst_harness_set_src_caps(h, caps);
  return h;
}

// Plays `pipeline` to EOS (an error or a minute without EOS fails the test), then frees it.
inline void play_to_eos(GstElement *pipeline) {
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered(
      bus, 60 * GST_SECOND, (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  EXPECT_TRUE(msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS);
  if (msg)
    gst_message_unref(msg);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}

} // namespace sam3_test
