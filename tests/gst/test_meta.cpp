// Tests for libgstsam3meta: the per-buffer SAM 3 results, their transforms, ROI interop,
// mask rendering and the JSON schema.
#include <gtest/gtest.h>

#include <gst/gst.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>

#include <gstsam3meta.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

class GstEnvironment : public ::testing::Environment {
public:
  void SetUp() override { gst_init(nullptr, nullptr); }
};

const ::testing::Environment *const gst_env =
    ::testing::AddGlobalTestEnvironment(new GstEnvironment);

guint refcount(GstBuffer *buffer) {
  return GST_MINI_OBJECT_REFCOUNT_VALUE(buffer);
}

// A pipeline's streaming thread may drop its last buffer references a moment after the
// pipeline reached NULL, so counts seen after a pipeline run are polled for up to a second.
guint settled_refcount(GstBuffer *buffer, guint expected) {
  for (int i = 0; i < 100 && refcount(buffer) != expected; i++)
    g_usleep(10000);
  return refcount(buffer);
}

std::vector<guint8> render(const GstSam3Instance *inst, guint fw, guint fh, GstSam3MaskMode mode,
                           guint w, guint h, gboolean *ok = nullptr) {
  std::vector<guint8> out(static_cast<size_t>(w) * h, 0xAB);
  gboolean r = gst_sam3_instance_render_mask(inst, fw, fh, mode, out.data(), w, h, (gint)w);
  if (ok)
    *ok = r;
  return out;
}

GstBuffer *new_buffer_with_meta(guint fw, guint fh) {
  GstBuffer *buf = gst_buffer_new();
  EXPECT_NE(gst_buffer_add_sam3_meta(buf, fw, fh), nullptr);
  return buf;
}

// A 4x2 mask: probabilities chosen so binary and alpha rendering differ.
const guint8 kMask4x2[8] = {0, 127, 128, 255, 200, 10, 130, 60};

TEST(Sam3Meta, AttachAndRead) {
  GstBuffer *buf = new_buffer_with_meta(640, 480);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(meta->frame_width, 640u);
  EXPECT_EQ(meta->frame_height, 480u);
  EXPECT_EQ(meta->frame_number, 0u);
  EXPECT_EQ(gst_sam3_meta_get_n_instances(meta), 0u);
  EXPECT_EQ(gst_sam3_meta_get_instance(meta, 0), nullptr);
  EXPECT_EQ(meta->meta.info->api, GST_SAM3_META_API_TYPE);
  EXPECT_TRUE(gst_meta_api_type_has_tag(GST_SAM3_META_API_TYPE,
                                        g_quark_from_string(GST_META_TAG_VIDEO_STR)));
  EXPECT_TRUE(gst_meta_api_type_has_tag(GST_SAM3_META_API_TYPE,
                                        g_quark_from_string(GST_META_TAG_VIDEO_SIZE_STR)));
  EXPECT_TRUE(gst_meta_api_type_has_tag(GST_SAM3_META_API_TYPE,
                                        g_quark_from_string(GST_META_TAG_VIDEO_ORIENTATION_STR)));

  GstSam3Instance *inst = gst_sam3_meta_add_instance(meta, "cat", 1, 0.75f, -5, 10, 100, 50);
  ASSERT_NE(inst, nullptr);
  EXPECT_EQ(inst->instance_id, 0u);
  EXPECT_EQ(inst->track_id, 0u);
  EXPECT_STREQ(gst_sam3_instance_get_label(inst), "cat");
  EXPECT_EQ(inst->label, g_quark_from_string("cat"));
  EXPECT_EQ(inst->prompt_index, 1u);
  EXPECT_FLOAT_EQ(inst->score, 0.75f);
  EXPECT_FLOAT_EQ(inst->x, -5.f); // boxes outside the frame are kept as given
  EXPECT_FLOAT_EQ(inst->y, 10.f);
  EXPECT_FLOAT_EQ(inst->w, 100.f);
  EXPECT_FLOAT_EQ(inst->h, 50.f);
  EXPECT_EQ(inst->provenance, GST_SAM3_PROVENANCE_DETECTED);
  EXPECT_EQ(inst->mask, nullptr);
  EXPECT_EQ(gst_sam3_meta_get_n_instances(meta), 1u);
  EXPECT_EQ(gst_sam3_meta_get_instance(meta, 0), inst);
  gst_buffer_unref(buf);
}

TEST(Sam3Meta, AddRemoveClearInstances) {
  GstBuffer *buf = new_buffer_with_meta(100, 100);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  gst_sam3_meta_add_prompt(meta, "dog");
  for (int i = 0; i < 3; i++)
    gst_sam3_meta_add_instance(meta, "dog", 0, 0.1f * (i + 1), i, i, 1, 1);
  ASSERT_EQ(gst_sam3_meta_get_n_instances(meta), 3u);
  EXPECT_EQ(gst_sam3_meta_get_instance(meta, 2)->instance_id, 2u);

  gst_sam3_meta_remove_instance(meta, 1);
  ASSERT_EQ(gst_sam3_meta_get_n_instances(meta), 2u);
  EXPECT_EQ(gst_sam3_meta_get_instance(meta, 0)->instance_id, 0u);
  EXPECT_EQ(gst_sam3_meta_get_instance(meta, 1)->instance_id, 2u);
  EXPECT_FLOAT_EQ(gst_sam3_meta_get_instance(meta, 1)->score, 0.3f);

  // New ids never collide with the ones still on the frame.
  EXPECT_EQ(gst_sam3_meta_add_instance(meta, "dog", 0, 1, 0, 0, 1, 1)->instance_id, 3u);

  gst_sam3_meta_clear_instances(meta);
  EXPECT_EQ(gst_sam3_meta_get_n_instances(meta), 0u);
  EXPECT_EQ(gst_sam3_meta_get_n_prompts(meta), 1u);
  EXPECT_EQ(gst_sam3_meta_add_instance(meta, "dog", 0, 1, 0, 0, 1, 1)->instance_id, 0u);
  gst_buffer_unref(buf);
}

TEST(Sam3Meta, RemovingAnInstanceReleasesItsMask) {
  GstBuffer *buf = new_buffer_with_meta(100, 100);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  GstBuffer *mask = gst_buffer_new_memdup(kMask4x2, sizeof(kMask4x2));
  GstSam3Instance *inst = gst_sam3_meta_add_instance(meta, "a", 0, 1, 0, 0, 4, 2);
  ASSERT_TRUE(gst_sam3_instance_set_mask(inst, mask, 4, 2, nullptr));
  gst_sam3_meta_add_instance(meta, "b", 0, 1, 0, 0, 4, 2);
  inst = gst_sam3_meta_get_instance(meta, 1);
  ASSERT_TRUE(gst_sam3_instance_set_mask(inst, mask, 4, 2, nullptr));
  EXPECT_EQ(refcount(mask), 3u);
  gst_sam3_meta_remove_instance(meta, 0);
  EXPECT_EQ(refcount(mask), 2u);
  gst_sam3_meta_clear_instances(meta);
  EXPECT_EQ(refcount(mask), 1u);
  gst_sam3_meta_add_instance(meta, "c", 0, 1, 0, 0, 4, 2);
  ASSERT_TRUE(gst_sam3_instance_set_mask(gst_sam3_meta_get_instance(meta, 0), mask, 4, 2, nullptr));
  gst_buffer_unref(buf);
  EXPECT_EQ(refcount(mask), 1u);
  gst_buffer_unref(mask);
}

TEST(Sam3Meta, Prompts) {
  GstBuffer *buf = new_buffer_with_meta(10, 10);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  EXPECT_EQ(gst_sam3_meta_get_n_prompts(meta), 0u);
  EXPECT_EQ(gst_sam3_meta_add_prompt(meta, "red car"), 0u);
  EXPECT_EQ(gst_sam3_meta_add_prompt(meta, "person"), 1u);
  EXPECT_EQ(gst_sam3_meta_get_n_prompts(meta), 2u);
  EXPECT_STREQ(gst_sam3_meta_get_prompt(meta, 0), "red car");
  EXPECT_STREQ(gst_sam3_meta_get_prompt(meta, 1), "person");
  EXPECT_EQ(gst_sam3_meta_get_prompt(meta, 2), nullptr);
  gst_buffer_unref(buf);
}

TEST(Sam3Meta, SetMaskValidatesAndDefaultsToTheBox) {
  GstBuffer *buf = new_buffer_with_meta(100, 100);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  GstSam3Instance *inst = gst_sam3_meta_add_instance(meta, "a", 0, 1, 10.5f, 20.2f, 5.f, 3.5f);

  GstBuffer *small = gst_buffer_new_allocate(nullptr, 7, nullptr);
  EXPECT_FALSE(gst_sam3_instance_set_mask(inst, small, 4, 2, nullptr));
  EXPECT_EQ(inst->mask, nullptr);
  EXPECT_EQ(refcount(small), 1u);
  gst_buffer_unref(small);

  GstBuffer *mask = gst_buffer_new_memdup(kMask4x2, sizeof(kMask4x2));
  ASSERT_TRUE(gst_sam3_instance_set_mask(inst, mask, 4, 2, nullptr));
  EXPECT_EQ(inst->mask, mask);
  EXPECT_EQ(refcount(mask), 2u);
  EXPECT_EQ(inst->mask_width, 4u);
  EXPECT_EQ(inst->mask_height, 2u);
  // The box [10.5, 15.5) x [20.2, 23.7) grown to whole pixels.
  EXPECT_EQ(inst->mask_rect.x, 10);
  EXPECT_EQ(inst->mask_rect.y, 20);
  EXPECT_EQ(inst->mask_rect.w, 6);
  EXPECT_EQ(inst->mask_rect.h, 4);

  // Setting the same buffer again must not drop its last reference on the way.
  ASSERT_TRUE(gst_sam3_instance_set_mask(inst, mask, 4, 2, nullptr));
  EXPECT_EQ(refcount(mask), 2u);

  // A zero-size mask is no mask.
  ASSERT_TRUE(gst_sam3_instance_set_mask(inst, mask, 0, 2, nullptr));
  EXPECT_EQ(inst->mask, nullptr);
  EXPECT_EQ(inst->mask_width, 0u);
  EXPECT_EQ(refcount(mask), 1u);

  ASSERT_TRUE(gst_sam3_instance_set_mask(inst, mask, 4, 2, nullptr));
  ASSERT_TRUE(gst_sam3_instance_set_mask(inst, nullptr, 4, 2, nullptr));
  EXPECT_EQ(inst->mask, nullptr);
  EXPECT_EQ(refcount(mask), 1u);
  gst_buffer_unref(mask);
  gst_buffer_unref(buf);
}

TEST(Sam3Meta, SetMaskDataCopiesStridedRows) {
  GstBuffer *buf = new_buffer_with_meta(100, 100);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  GstSam3Instance *inst = gst_sam3_meta_add_instance(meta, "a", 0, 1, 0, 0, 10, 10);
  const guint8 strided[] = {1, 2, 3, 99, 99, 4, 5, 6, 99, 99};
  GstVideoRectangle rect = {2, 3, 30, 20};

  EXPECT_FALSE(gst_sam3_instance_set_mask_data(inst, strided, 3, 2, 2, &rect));
  EXPECT_EQ(inst->mask, nullptr);
  ASSERT_TRUE(gst_sam3_instance_set_mask_data(inst, strided, 3, 2, 5, &rect));
  ASSERT_NE(inst->mask, nullptr);
  EXPECT_EQ(inst->mask_rect.x, 2);
  EXPECT_EQ(inst->mask_rect.w, 30);
  EXPECT_EQ(gst_buffer_get_size(inst->mask), 6u);
  guint8 packed[6];
  gst_buffer_extract(inst->mask, 0, packed, 6);
  const guint8 expected[] = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(0, memcmp(packed, expected, 6));
  GstVideoMeta *vmeta = gst_buffer_get_video_meta(inst->mask);
  ASSERT_NE(vmeta, nullptr);
  EXPECT_EQ(vmeta->format, GST_VIDEO_FORMAT_GRAY8);
  EXPECT_EQ(vmeta->width, 3u);
  EXPECT_EQ(vmeta->stride[0], 3);

  ASSERT_TRUE(gst_sam3_instance_set_mask_data(inst, nullptr, 3, 2, 3, nullptr));
  EXPECT_EQ(inst->mask, nullptr);
  gst_buffer_unref(buf);
}

// The data of a test payload: records that the payload freed it.
struct PayloadData {
  bool freed = false;
};
void payload_data_free(gpointer data) {
  static_cast<PayloadData *>(data)->freed = true;
}
constexpr const char *kTestKind = "gst-sam3/test";

guint refcount(GstSam3Payload *payload) {
  return GST_MINI_OBJECT_REFCOUNT_VALUE(payload);
}

TEST(Sam3Meta, CopyKeepsEverythingAndSharesMasks) {
  GstBuffer *buf = new_buffer_with_meta(320, 240);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  meta->frame_number = 42;
  gst_sam3_meta_add_prompt(meta, "cat");
  GstSam3Instance *inst = gst_sam3_meta_add_instance(meta, "cat", 0, 0.9f, 1, 2, 3, 4);
  inst->track_id = 7;
  inst->provenance = GST_SAM3_PROVENANCE_PROPAGATED;
  GstBuffer *mask = gst_buffer_new_memdup(kMask4x2, sizeof(kMask4x2));
  GstVideoRectangle rect = {1, 2, 3, 4};
  ASSERT_TRUE(gst_sam3_instance_set_mask(inst, mask, 4, 2, &rect));
  PayloadData data;
  GstSam3Payload *payload = gst_sam3_payload_new(kTestKind, &data, payload_data_free);
  gst_sam3_meta_set_payload(meta, payload);
  gst_sam3_payload_unref(payload);

  GstBuffer *copy = gst_buffer_copy(buf);
  GstSam3Meta *cm = gst_buffer_get_sam3_meta(copy);
  ASSERT_NE(cm, nullptr);
  ASSERT_NE(cm, meta);
  EXPECT_EQ(cm->frame_width, 320u);
  EXPECT_EQ(cm->frame_height, 240u);
  EXPECT_EQ(cm->frame_number, 42u);
  ASSERT_EQ(gst_sam3_meta_get_n_prompts(cm), 1u);
  EXPECT_STREQ(gst_sam3_meta_get_prompt(cm, 0), "cat");
  ASSERT_EQ(gst_sam3_meta_get_n_instances(cm), 1u);
  const GstSam3Instance *ci = gst_sam3_meta_get_instance(cm, 0);
  EXPECT_EQ(ci->track_id, 7u);
  EXPECT_EQ(ci->provenance, GST_SAM3_PROVENANCE_PROPAGATED);
  EXPECT_STREQ(gst_sam3_instance_get_label(ci), "cat");
  EXPECT_FLOAT_EQ(ci->score, 0.9f);
  EXPECT_FLOAT_EQ(ci->x, 1.f);
  EXPECT_FLOAT_EQ(ci->h, 4.f);
  EXPECT_EQ(ci->mask, mask); // shared, not duplicated
  EXPECT_EQ(ci->mask_rect.w, 3);
  EXPECT_EQ(refcount(mask), 3u);
  EXPECT_EQ(gst_sam3_meta_get_payload(cm), payload);
  EXPECT_EQ(refcount(payload), 2u);

  // Changing the copy leaves the original alone.
  gst_sam3_meta_remove_instance(cm, 0);
  EXPECT_EQ(gst_sam3_meta_get_n_instances(meta), 1u);
  EXPECT_EQ(refcount(mask), 2u);
  gst_buffer_unref(copy);
  EXPECT_EQ(refcount(payload), 1u);

  // make_writable on a shared buffer copies, and the meta with it.
  GstBuffer *shared = gst_buffer_ref(buf);
  GstBuffer *writable = gst_buffer_make_writable(shared);
  ASSERT_NE(writable, buf);
  GstSam3Meta *wm = gst_buffer_get_sam3_meta(writable);
  ASSERT_NE(wm, nullptr);
  EXPECT_EQ(gst_sam3_meta_get_instance(wm, 0)->mask, mask);
  EXPECT_EQ(refcount(mask), 3u);
  EXPECT_EQ(refcount(payload), 2u);
  gst_buffer_unref(writable);

  EXPECT_EQ(refcount(mask), 2u);
  gst_buffer_unref(buf);
  EXPECT_EQ(refcount(mask), 1u);
  EXPECT_TRUE(data.freed);
  gst_buffer_unref(mask);
}

TEST(Sam3Meta, PayloadReplacementAndSharing) {
  GstBuffer *buf = new_buffer_with_meta(10, 10);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  EXPECT_EQ(gst_sam3_meta_get_payload(meta), nullptr);
  PayloadData first, second;
  GstSam3Payload *p1 = gst_sam3_payload_new(kTestKind, &first, payload_data_free);
  GstSam3Payload *p2 = gst_sam3_payload_new(kTestKind, &second, payload_data_free);
  gst_sam3_meta_set_payload(meta, p1);
  gst_sam3_payload_unref(p1);
  gst_sam3_meta_set_payload(meta, p2);
  EXPECT_TRUE(first.freed);
  EXPECT_EQ(refcount(p2), 2u);
  gst_sam3_payload_unref(p2);
  EXPECT_FALSE(second.freed);
  gst_sam3_meta_set_payload(meta, nullptr);
  EXPECT_TRUE(second.freed);

  // Without a free function the data is shared as is, and the kind guards it.
  int plain = 0;
  GstSam3Payload *p3 = gst_sam3_payload_new(kTestKind, &plain, nullptr);
  gst_sam3_meta_set_payload(meta, p3);
  gst_sam3_payload_unref(p3);
  GstBuffer *copy = gst_buffer_copy(buf);
  GstSam3Payload *copied = gst_sam3_meta_get_payload(gst_buffer_get_sam3_meta(copy));
  EXPECT_EQ(copied, p3);
  EXPECT_STREQ(gst_sam3_payload_get_kind(copied), kTestKind);
  EXPECT_EQ(gst_sam3_payload_get_data(copied, kTestKind), &plain);
  EXPECT_EQ(gst_sam3_payload_get_data(copied, "gst-sam3/other"), nullptr);
  EXPECT_EQ(GST_MINI_OBJECT_TYPE(copied), GST_TYPE_SAM3_PAYLOAD);
  gst_buffer_unref(copy);
  gst_buffer_unref(buf);
}

// Pushes one RGBA frame carrying a known meta through @launch (which must start with an
// appsrc named src and end with an appsink named sink) and returns the output buffer.
GstBuffer *run_pipeline(const std::string &launch, int in_w, int in_h, GstBuffer *mask) {
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(launch.c_str(), &error);
  EXPECT_EQ(error, nullptr) << (error ? error->message : "");
  if (!pipeline)
    return nullptr;
  GstElement *src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "RGBA", "width",
                                      G_TYPE_INT, in_w, "height", G_TYPE_INT, in_h, "framerate",
                                      GST_TYPE_FRACTION, 30, 1, nullptr);
  g_object_set(src, "caps", caps, "format", GST_FORMAT_TIME, nullptr);
  gst_caps_unref(caps);
  EXPECT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

  GstBuffer *frame = gst_buffer_new_allocate(nullptr, static_cast<gsize>(in_w) * in_h * 4, nullptr);
  gst_buffer_memset(frame, 0, 0x40, gst_buffer_get_size(frame));
  GST_BUFFER_PTS(frame) = 0;
  GST_BUFFER_DURATION(frame) = GST_SECOND / 30;
  GstSam3Meta *meta = gst_buffer_add_sam3_meta(frame, in_w, in_h);
  meta->frame_number = 5;
  gst_sam3_meta_add_prompt(meta, "box");
  GstSam3Instance *inst = gst_sam3_meta_add_instance(meta, "box", 0, 0.5f, 40, 30, 80, 60);
  inst->track_id = 3;
  GstVideoRectangle rect = {40, 30, 80, 60};
  gst_sam3_instance_set_mask(inst, mask, 4, 2, &rect);
  gst_sam3_meta_add_instance(meta, "box", 0, 0.25f, -10, -20, 50, 40); // partly outside
  GstSam3Instance *tiny = gst_sam3_meta_add_instance(meta, "box", 0, 0.1f, 101, 50, 3, 2);
  GstVideoRectangle tiny_rect = {101, 50, 3, 2};
  gst_sam3_instance_set_mask(tiny, mask, 4, 2, &tiny_rect);

  GstFlowReturn flow;
  g_signal_emit_by_name(src, "push-buffer", frame, &flow);
  gst_buffer_unref(frame);
  EXPECT_EQ(flow, GST_FLOW_OK);
  GstSample *sample = nullptr;
  g_signal_emit_by_name(sink, "try-pull-sample", 5 * GST_SECOND, &sample);
  EXPECT_NE(sample, nullptr);
  GstBuffer *out = nullptr;
  if (sample) {
    out = gst_buffer_ref(gst_sample_get_buffer(sample));
    gst_sample_unref(sample);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(src);
  gst_object_unref(sink);
  gst_object_unref(pipeline);
  return out;
}

TEST(Sam3MetaTransform, VideoscaleRescalesBoxesAndMaskRects) {
  GstBuffer *mask = gst_buffer_new_memdup(kMask4x2, sizeof(kMask4x2));
  GstBuffer *out = run_pipeline("appsrc name=src ! videoconvert ! videoscale ! "
                                "video/x-raw,width=640,height=120 ! appsink name=sink",
                                320, 240, mask);
  ASSERT_NE(out, nullptr);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(out);
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(meta->frame_width, 640u);
  EXPECT_EQ(meta->frame_height, 120u);
  EXPECT_EQ(meta->frame_number, 5u);
  EXPECT_STREQ(gst_sam3_meta_get_prompt(meta, 0), "box");
  ASSERT_EQ(gst_sam3_meta_get_n_instances(meta), 3u);
  const GstSam3Instance *a = gst_sam3_meta_get_instance(meta, 0);
  EXPECT_FLOAT_EQ(a->x, 80.f);
  EXPECT_FLOAT_EQ(a->y, 15.f);
  EXPECT_FLOAT_EQ(a->w, 160.f);
  EXPECT_FLOAT_EQ(a->h, 30.f);
  EXPECT_EQ(a->track_id, 3u);
  EXPECT_EQ(a->mask, mask);
  EXPECT_EQ(a->mask_width, 4u);
  EXPECT_EQ(a->mask_height, 2u);
  EXPECT_EQ(a->mask_rect.x, 80);
  EXPECT_EQ(a->mask_rect.y, 15);
  EXPECT_EQ(a->mask_rect.w, 160);
  EXPECT_EQ(a->mask_rect.h, 30);
  const GstSam3Instance *b = gst_sam3_meta_get_instance(meta, 1);
  EXPECT_FLOAT_EQ(b->x, -20.f); // not clamped to the frame
  EXPECT_FLOAT_EQ(b->y, -10.f);
  EXPECT_FLOAT_EQ(b->w, 100.f);
  EXPECT_FLOAT_EQ(b->h, 20.f);
  EXPECT_EQ(b->mask, nullptr);
  EXPECT_GE(refcount(mask), 3u); // at least the output frame's two masked instances
  gst_buffer_unref(out);
  EXPECT_EQ(settled_refcount(mask, 1), 1u);
  gst_buffer_unref(mask);
}

TEST(Sam3MetaTransform, VideoconvertKeepsMetaUnchanged) {
  GstBuffer *mask = gst_buffer_new_memdup(kMask4x2, sizeof(kMask4x2));
  GstBuffer *out =
      run_pipeline("appsrc name=src ! videoconvert ! video/x-raw,format=I420 ! appsink name=sink",
                   320, 240, mask);
  ASSERT_NE(out, nullptr);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(out);
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(meta->frame_width, 320u);
  EXPECT_EQ(meta->frame_height, 240u);
  ASSERT_EQ(gst_sam3_meta_get_n_instances(meta), 3u);
  const GstSam3Instance *a = gst_sam3_meta_get_instance(meta, 0);
  EXPECT_FLOAT_EQ(a->x, 40.f);
  EXPECT_FLOAT_EQ(a->y, 30.f);
  EXPECT_FLOAT_EQ(a->w, 80.f);
  EXPECT_FLOAT_EQ(a->h, 60.f);
  EXPECT_EQ(a->mask, mask);
  EXPECT_EQ(a->mask_rect.x, 40);
  EXPECT_EQ(a->mask_rect.w, 80);
  EXPECT_FLOAT_EQ(gst_sam3_meta_get_instance(meta, 1)->x, -10.f);
  gst_buffer_unref(out);
  gst_buffer_unref(mask);
}

TEST(Sam3MetaTransform, ScaleNeverCollapsesAMaskRect) {
  GstBuffer *mask = gst_buffer_new_memdup(kMask4x2, sizeof(kMask4x2));
  GstBuffer *out = run_pipeline("appsrc name=src ! videoscale ! "
                                "video/x-raw,width=32,height=24 ! appsink name=sink",
                                320, 240, mask);
  ASSERT_NE(out, nullptr);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(out);
  ASSERT_NE(meta, nullptr);
  const GstSam3Instance *a = gst_sam3_meta_get_instance(meta, 0);
  EXPECT_EQ(a->mask_rect.x, 4);
  EXPECT_EQ(a->mask_rect.y, 3);
  EXPECT_EQ(a->mask_rect.w, 8);
  EXPECT_EQ(a->mask_rect.h, 6);
  // [101, 104) x [50, 52) scales to [10.1, 10.4) x [5, 5.2): rounded edges meet, yet the
  // mask keeps one pixel.
  const GstSam3Instance *tiny = gst_sam3_meta_get_instance(meta, 2);
  EXPECT_EQ(tiny->mask_rect.x, 10);
  EXPECT_EQ(tiny->mask_rect.y, 5);
  EXPECT_EQ(tiny->mask_rect.w, 1);
  EXPECT_EQ(tiny->mask_rect.h, 1);
  EXPECT_EQ(meta->frame_width, 32u);
  EXPECT_EQ(meta->frame_height, 24u);
  gst_buffer_unref(out);
  gst_buffer_unref(mask);
}

class Sam3MetaRender : public ::testing::Test {
protected:
  void SetUp() override {
    buf_ = new_buffer_with_meta(8, 4);
    meta_ = gst_buffer_get_sam3_meta(buf_);
    inst_ = gst_sam3_meta_add_instance(meta_, "a", 0, 1, 2, 1, 4, 2);
    ASSERT_TRUE(gst_sam3_instance_set_mask_data(inst_, kMask4x2, 4, 2, 4, nullptr));
  }
  void TearDown() override { gst_buffer_unref(buf_); }

  GstBuffer *buf_ = nullptr;
  GstSam3Meta *meta_ = nullptr;
  GstSam3Instance *inst_ = nullptr;
};

TEST_F(Sam3MetaRender, BinaryAndAlphaAtFrameSize) {
  gboolean ok = FALSE;
  auto bin = render(inst_, 8, 4, GST_SAM3_MASK_BINARY, 8, 4, &ok);
  EXPECT_TRUE(ok);
  const std::vector<guint8> expected_bin = {
      0, 0, 0,   0, 0,   0,   0, 0, //
      0, 0, 0,   0, 255, 255, 0, 0, //
      0, 0, 255, 0, 255, 0,   0, 0, //
      0, 0, 0,   0, 0,   0,   0, 0,
  };
  EXPECT_EQ(bin, expected_bin);
  auto alpha = render(inst_, 8, 4, GST_SAM3_MASK_ALPHA, 8, 4);
  const std::vector<guint8> expected_alpha = {
      0, 0, 0,   0,   0,   0,   0, 0, //
      0, 0, 0,   127, 128, 255, 0, 0, //
      0, 0, 200, 10,  130, 60,  0, 0, //
      0, 0, 0,   0,   0,   0,   0, 0,
  };
  EXPECT_EQ(alpha, expected_alpha);
}

TEST_F(Sam3MetaRender, UpscaledRepeatsEachSampleAndHonoursStride) {
  const guint w = 16, h = 8, stride = 20;
  std::vector<guint8> out(stride * h, 0xAB);
  ASSERT_TRUE(
      gst_sam3_instance_render_mask(inst_, 8, 4, GST_SAM3_MASK_ALPHA, out.data(), w, h, stride));
  auto small = render(inst_, 8, 4, GST_SAM3_MASK_ALPHA, 8, 4);
  for (guint y = 0; y < h; y++) {
    for (guint x = 0; x < w; x++)
      EXPECT_EQ(out[y * stride + x], small[(y / 2) * 8 + x / 2]) << x << "," << y;
    for (guint x = w; x < stride; x++)
      EXPECT_EQ(out[y * stride + x], 0xAB) << "wrote past the row";
  }
}

TEST_F(Sam3MetaRender, OneByOneSamplesTheFrameCentre) {
  // The centre of the 8x4 frame, (4, 2), falls on mask sample (2, 1) = 130.
  EXPECT_EQ(render(inst_, 8, 4, GST_SAM3_MASK_ALPHA, 1, 1), std::vector<guint8>{130});
  EXPECT_EQ(render(inst_, 8, 4, GST_SAM3_MASK_BINARY, 1, 1), std::vector<guint8>{255});
  GstVideoRectangle away = {0, 0, 2, 2};
  ASSERT_TRUE(gst_sam3_instance_set_mask(inst_, inst_->mask, 4, 2, &away));
  EXPECT_EQ(render(inst_, 8, 4, GST_SAM3_MASK_BINARY, 1, 1), std::vector<guint8>{0});
}

TEST_F(Sam3MetaRender, OddOutputSizeStaysInsideTheRect) {
  const guint w = 641, h = 479;
  auto out = render(inst_, 8, 4, GST_SAM3_MASK_BINARY, w, h);
  guint on = 0;
  for (guint y = 0; y < h; y++) {
    for (guint x = 0; x < w; x++) {
      guint8 v = out[y * w + x];
      ASSERT_TRUE(v == 0 || v == 255);
      if (!v)
        continue;
      on++;
      // The rect covers frame [2, 6) x [1, 3): output pixel centres inside it only.
      double fx = (x + 0.5) * 8 / w, fy = (y + 0.5) * 4 / h;
      ASSERT_TRUE(fx >= 2 && fx < 6 && fy >= 1 && fy < 3) << x << "," << y;
    }
  }
  // 4 of the 8 samples are on, each covering ~1/32 of the frame.
  EXPECT_NEAR(on, 4.0 * w * h / 32, 0.01 * w * h);
  // Spot checks: frame (5.5, 1.5) is sample (3, 0) = 255; frame (3.5, 1.5) is 127.
  EXPECT_EQ(out[static_cast<size_t>(1.5 / 4 * h) * w + static_cast<size_t>(5.5 / 8 * w)], 255);
  EXPECT_EQ(out[static_cast<size_t>(1.5 / 4 * h) * w + static_cast<size_t>(3.5 / 8 * w)], 0);
}

TEST_F(Sam3MetaRender, RectPartlyOutsideTheFrameIsClipped) {
  GstVideoRectangle rect = {-2, -1, 4, 2}; // only the right/bottom half is on the frame
  ASSERT_TRUE(gst_sam3_instance_set_mask(inst_, inst_->mask, 4, 2, &rect));
  auto alpha = render(inst_, 8, 4, GST_SAM3_MASK_ALPHA, 8, 4);
  const std::vector<guint8> expected = {
      130, 60, 0, 0, 0, 0, 0, 0, //
      0,   0,  0, 0, 0, 0, 0, 0, //
      0,   0,  0, 0, 0, 0, 0, 0, //
      0,   0,  0, 0, 0, 0, 0, 0,
  };
  EXPECT_EQ(alpha, expected);
  // Only the left half of the mask's top row lies on the frame; each sample spans 1x2 pixels.
  GstVideoRectangle right = {6, 2, 4, 4};
  ASSERT_TRUE(gst_sam3_instance_set_mask(inst_, inst_->mask, 4, 2, &right));
  alpha = render(inst_, 8, 4, GST_SAM3_MASK_ALPHA, 8, 4);
  const std::vector<guint8> expected_right = {
      0, 0, 0, 0, 0, 0, 0, 0,   //
      0, 0, 0, 0, 0, 0, 0, 0,   //
      0, 0, 0, 0, 0, 0, 0, 127, //
      0, 0, 0, 0, 0, 0, 0, 127,
  };
  EXPECT_EQ(alpha, expected_right);
}

TEST_F(Sam3MetaRender, RenderMaskBuffer) {
  GstBuffer *out = gst_sam3_instance_render_mask_buffer(inst_, 8, 4, GST_SAM3_MASK_BINARY, 8, 4);
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(gst_buffer_get_size(out), 32u);
  std::vector<guint8> bytes(32);
  gst_buffer_extract(out, 0, bytes.data(), 32);
  EXPECT_EQ(bytes, render(inst_, 8, 4, GST_SAM3_MASK_BINARY, 8, 4));
  GstVideoMeta *vmeta = gst_buffer_get_video_meta(out);
  ASSERT_NE(vmeta, nullptr);
  EXPECT_EQ(vmeta->format, GST_VIDEO_FORMAT_GRAY8);
  EXPECT_EQ(vmeta->stride[0], 8);
  gst_buffer_unref(out);
  EXPECT_EQ(gst_sam3_instance_render_mask_buffer(inst_, 8, 4, GST_SAM3_MASK_BINARY, 0, 4), nullptr);
}

TEST_F(Sam3MetaRender, NoMaskWritesZerosAndReportsIt) {
  GstSam3Instance *bare = gst_sam3_meta_add_instance(meta_, "b", 0, 1, 0, 0, 8, 4);
  gboolean ok = TRUE;
  auto out = render(bare, 8, 4, GST_SAM3_MASK_BINARY, 5, 3, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(out, std::vector<guint8>(15, 0));
  EXPECT_EQ(gst_sam3_instance_render_mask_buffer(bare, 8, 4, GST_SAM3_MASK_ALPHA, 5, 3), nullptr);

  inst_ = gst_sam3_meta_get_instance(meta_, 0);
  out = render(inst_, 0, 4, GST_SAM3_MASK_BINARY, 5, 3, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(out, std::vector<guint8>(15, 0));

  GstVideoRectangle empty = {2, 2, 0, 3};
  ASSERT_TRUE(gst_sam3_instance_set_mask(inst_, inst_->mask, 4, 2, &empty));
  out = render(inst_, 8, 4, GST_SAM3_MASK_BINARY, 8, 4, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(out, std::vector<guint8>(32, 0));
}

std::vector<GstVideoRegionOfInterestMeta *> roi_metas(GstBuffer *buf) {
  std::vector<GstVideoRegionOfInterestMeta *> out;
  gpointer state = nullptr;
  GstMeta *m;
  while ((m = gst_buffer_iterate_meta_filtered(buf, &state,
                                               GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)))
    out.push_back(reinterpret_cast<GstVideoRegionOfInterestMeta *>(m));
  return out;
}

double get_double(const GstStructure *s, const char *name) {
  double v = -1;
  EXPECT_TRUE(gst_structure_get_double(s, name, &v)) << name;
  return v;
}

TEST(Sam3MetaRoi, OneRoiPerInstanceWithDlStreamerParams) {
  GstBuffer *buf = new_buffer_with_meta(200, 100);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  gst_sam3_meta_add_prompt(meta, "cat");
  gst_sam3_meta_add_prompt(meta, "dog");
  GstSam3Instance *a = gst_sam3_meta_add_instance(meta, "dog", 1, 0.8f, 20, 10, 100, 50);
  a->track_id = 12;
  GstVideoRectangle rect = {20, 10, 100, 50};
  ASSERT_TRUE(gst_sam3_instance_set_mask_data(a, kMask4x2, 4, 2, 4, &rect));
  gst_sam3_meta_add_instance(meta, "cat", 0, 0.5f, -50, 80, 100, 40); // partly outside

  gst_sam3_meta_attach_roi_metas(meta, buf);
  auto rois = roi_metas(buf);
  ASSERT_EQ(rois.size(), 2u);

  EXPECT_EQ(rois[0]->roi_type, g_quark_from_string("dog"));
  EXPECT_EQ(rois[0]->id, 0);
  EXPECT_EQ(rois[0]->parent_id, -1);
  EXPECT_EQ(rois[0]->x, 20u);
  EXPECT_EQ(rois[0]->y, 10u);
  EXPECT_EQ(rois[0]->w, 100u);
  EXPECT_EQ(rois[0]->h, 50u);
  GstStructure *det = gst_video_region_of_interest_meta_get_param(rois[0], "detection");
  ASSERT_NE(det, nullptr);
  EXPECT_DOUBLE_EQ(get_double(det, "x_min"), 0.1);
  EXPECT_DOUBLE_EQ(get_double(det, "y_min"), 0.1);
  EXPECT_DOUBLE_EQ(get_double(det, "x_max"), 0.6);
  EXPECT_DOUBLE_EQ(get_double(det, "y_max"), 0.6);
  EXPECT_NEAR(get_double(det, "confidence"), 0.8, 1e-6);
  int label_id = -1;
  EXPECT_TRUE(gst_structure_get_int(det, "label_id", &label_id));
  EXPECT_EQ(label_id, 1);
  GstStructure *obj = gst_video_region_of_interest_meta_get_param(rois[0], "object_id");
  ASSERT_NE(obj, nullptr);
  int id = -1;
  EXPECT_TRUE(gst_structure_get_int(obj, "id", &id));
  EXPECT_EQ(id, 12);
  EXPECT_EQ(g_list_length(rois[0]->params), 2u); // no mask param

  // Clipped to the frame: [0, 50) x [80, 100).
  EXPECT_EQ(rois[1]->roi_type, g_quark_from_string("cat"));
  EXPECT_EQ(rois[1]->id, 1);
  EXPECT_EQ(rois[1]->x, 0u);
  EXPECT_EQ(rois[1]->y, 80u);
  EXPECT_EQ(rois[1]->w, 50u);
  EXPECT_EQ(rois[1]->h, 20u);
  det = gst_video_region_of_interest_meta_get_param(rois[1], "detection");
  ASSERT_NE(det, nullptr);
  EXPECT_DOUBLE_EQ(get_double(det, "x_min"), 0.0);
  EXPECT_DOUBLE_EQ(get_double(det, "x_max"), 0.25);
  EXPECT_DOUBLE_EQ(get_double(det, "y_max"), 1.0);
  EXPECT_EQ(gst_video_region_of_interest_meta_get_param(rois[1], "object_id"), nullptr);

  // The sam3 meta itself still holds the unclipped box.
  EXPECT_FLOAT_EQ(gst_sam3_meta_get_instance(meta, 1)->x, -50.f);
  gst_buffer_unref(buf);
}

JsonObject *parse_object(JsonParser *parser, const gchar *text) {
  EXPECT_TRUE(json_parser_load_from_data(parser, text, -1, nullptr)) << text;
  return json_node_get_object(json_parser_get_root(parser));
}

// A frame with two prompts, a masked tracked instance and a mask-less one.
GstBuffer *json_fixture() {
  GstBuffer *buf = new_buffer_with_meta(640, 480);
  GST_BUFFER_PTS(buf) = 1000;
  GST_BUFFER_DURATION(buf) = 33;
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  meta->frame_number = 17;
  gst_sam3_meta_add_prompt(meta, "cat");
  gst_sam3_meta_add_prompt(meta, "striped \"dog\"");
  GstSam3Instance *a = gst_sam3_meta_add_instance(meta, "cat", 0, 0.875f, 10.5f, -4, 100, 50.25f);
  a->track_id = 9;
  a->provenance = GST_SAM3_PROVENANCE_PROPAGATED;
  GstVideoRectangle rect = {10, -4, 101, 51};
  EXPECT_TRUE(gst_sam3_instance_set_mask_data(a, kMask4x2, 4, 2, 4, &rect));
  GstSam3Instance *b =
      gst_sam3_meta_add_instance(meta, "striped \"dog\"", 1, 0.3f, 600, 400, 80, 90);
  b->provenance = GST_SAM3_PROVENANCE_PROMPTED;
  return buf;
}

TEST(Sam3MetaJson, DocumentLayout) {
  GstBuffer *buf = json_fixture();
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  gchar *text = gst_sam3_meta_to_json(meta, buf, TRUE);
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(strchr(text, '\n'), nullptr) << "one document per line";
  JsonParser *parser = json_parser_new();
  JsonObject *root = parse_object(parser, text);
  EXPECT_STREQ(json_object_get_string_member(root, "schema"), GST_SAM3_JSON_SCHEMA);
  JsonObject *frame = json_object_get_object_member(root, "frame");
  EXPECT_EQ(json_object_get_int_member(frame, "width"), 640);
  EXPECT_EQ(json_object_get_int_member(frame, "height"), 480);
  EXPECT_EQ(json_object_get_int_member(frame, "number"), 17);
  EXPECT_EQ(json_object_get_int_member(frame, "pts"), 1000);
  EXPECT_TRUE(json_object_get_null_member(frame, "dts"));
  EXPECT_EQ(json_object_get_int_member(frame, "duration"), 33);
  JsonArray *prompts = json_object_get_array_member(root, "prompts");
  ASSERT_EQ(json_array_get_length(prompts), 2u);
  EXPECT_STREQ(json_array_get_string_element(prompts, 1), "striped \"dog\"");
  JsonArray *instances = json_object_get_array_member(root, "instances");
  ASSERT_EQ(json_array_get_length(instances), 2u);
  JsonObject *a = json_array_get_object_element(instances, 0);
  EXPECT_EQ(json_object_get_int_member(a, "instance_id"), 0);
  EXPECT_EQ(json_object_get_int_member(a, "track_id"), 9);
  EXPECT_STREQ(json_object_get_string_member(a, "label"), "cat");
  EXPECT_EQ(json_object_get_int_member(a, "prompt_index"), 0);
  EXPECT_DOUBLE_EQ(json_object_get_double_member(a, "score"), 0.875);
  EXPECT_STREQ(json_object_get_string_member(a, "provenance"), "propagated");
  JsonObject *box = json_object_get_object_member(a, "box");
  EXPECT_DOUBLE_EQ(json_object_get_double_member(box, "x"), 10.5);
  EXPECT_DOUBLE_EQ(json_object_get_double_member(box, "y"), -4);
  EXPECT_DOUBLE_EQ(json_object_get_double_member(box, "h"), 50.25);
  JsonObject *mask = json_object_get_object_member(a, "mask");
  ASSERT_NE(mask, nullptr);
  EXPECT_EQ(json_object_get_int_member(mask, "width"), 4);
  EXPECT_EQ(json_object_get_int_member(mask, "height"), 2);
  EXPECT_STREQ(json_object_get_string_member(mask, "encoding"), "rle-binary");
  JsonObject *rect = json_object_get_object_member(mask, "rect");
  EXPECT_EQ(json_object_get_int_member(rect, "y"), -4);
  EXPECT_EQ(json_object_get_int_member(rect, "w"), 101);
  // {0,127,128,255,200,10,130,60} binarised: 0 0 1 1 1 0 1 0 -> runs 2,3,1,1,1.
  JsonArray *counts = json_object_get_array_member(mask, "counts");
  std::vector<gint64> runs;
  for (guint i = 0; i < json_array_get_length(counts); i++)
    runs.push_back(json_array_get_int_element(counts, i));
  EXPECT_EQ(runs, (std::vector<gint64>{2, 3, 1, 1, 1}));
  JsonObject *b = json_array_get_object_element(instances, 1);
  EXPECT_STREQ(json_object_get_string_member(b, "provenance"), "prompted");
  EXPECT_FALSE(json_object_has_member(b, "mask"));
  g_object_unref(parser);
  g_free(text);

  // Without a buffer the times are null; without masks no instance has one.
  text = gst_sam3_meta_to_json(meta, nullptr, FALSE);
  parser = json_parser_new();
  root = parse_object(parser, text);
  EXPECT_TRUE(json_object_get_null_member(json_object_get_object_member(root, "frame"), "pts"));
  a = json_array_get_object_element(json_object_get_array_member(root, "instances"), 0);
  EXPECT_FALSE(json_object_has_member(a, "mask"));
  g_object_unref(parser);
  g_free(text);
  gst_buffer_unref(buf);
}

TEST(Sam3MetaJson, RunLengthStartsWithOffAndCoversAllOn) {
  GstBuffer *buf = new_buffer_with_meta(10, 10);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  GstSam3Instance *inst = gst_sam3_meta_add_instance(meta, "a", 0, 1, 0, 0, 3, 1);
  const guint8 all_on[3] = {255, 200, 128};
  ASSERT_TRUE(gst_sam3_instance_set_mask_data(inst, all_on, 3, 1, 3, nullptr));
  gchar *text = gst_sam3_meta_to_json(meta, nullptr, TRUE);
  EXPECT_NE(strstr(text, "\"counts\":[0,3]"), nullptr) << text;
  g_free(text);
  gst_buffer_unref(buf);
}

void expect_same_meta(GstSam3Meta *x, GstSam3Meta *y, bool with_masks) {
  EXPECT_EQ(x->frame_width, y->frame_width);
  EXPECT_EQ(x->frame_height, y->frame_height);
  EXPECT_EQ(x->frame_number, y->frame_number);
  ASSERT_EQ(gst_sam3_meta_get_n_prompts(x), gst_sam3_meta_get_n_prompts(y));
  for (guint i = 0; i < gst_sam3_meta_get_n_prompts(x); i++)
    EXPECT_STREQ(gst_sam3_meta_get_prompt(x, i), gst_sam3_meta_get_prompt(y, i));
  ASSERT_EQ(gst_sam3_meta_get_n_instances(x), gst_sam3_meta_get_n_instances(y));
  for (guint i = 0; i < gst_sam3_meta_get_n_instances(x); i++) {
    const GstSam3Instance *a = gst_sam3_meta_get_instance(x, i);
    const GstSam3Instance *b = gst_sam3_meta_get_instance(y, i);
    EXPECT_EQ(a->instance_id, b->instance_id);
    EXPECT_EQ(a->track_id, b->track_id);
    EXPECT_EQ(a->label, b->label);
    EXPECT_EQ(a->prompt_index, b->prompt_index);
    EXPECT_EQ(a->score, b->score);
    EXPECT_EQ(a->x, b->x);
    EXPECT_EQ(a->y, b->y);
    EXPECT_EQ(a->w, b->w);
    EXPECT_EQ(a->h, b->h);
    EXPECT_EQ(a->provenance, b->provenance);
    if (!with_masks || !a->mask) {
      EXPECT_EQ(b->mask, nullptr);
      continue;
    }
    ASSERT_NE(b->mask, nullptr);
    EXPECT_EQ(a->mask_width, b->mask_width);
    EXPECT_EQ(a->mask_height, b->mask_height);
    EXPECT_EQ(a->mask_rect.x, b->mask_rect.x);
    EXPECT_EQ(a->mask_rect.y, b->mask_rect.y);
    EXPECT_EQ(a->mask_rect.w, b->mask_rect.w);
    EXPECT_EQ(a->mask_rect.h, b->mask_rect.h);
    gsize n = static_cast<gsize>(a->mask_width) * a->mask_height;
    std::vector<guint8> sa(n), sb(n);
    gst_buffer_extract(a->mask, 0, sa.data(), n);
    gst_buffer_extract(b->mask, 0, sb.data(), n);
    for (gsize k = 0; k < n; k++)
      EXPECT_EQ(sb[k], sa[k] >= 128 ? 255 : 0) << "sample " << k;
  }
}

TEST(Sam3MetaJson, RoundTripWithAndWithoutMasks) {
  GstBuffer *buf = json_fixture();
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  for (bool with_masks : {true, false}) {
    gchar *text = gst_sam3_meta_to_json(meta, buf, with_masks);
    GstBuffer *back = gst_buffer_new();
    GError *error = nullptr;
    GstSam3Meta *parsed = gst_buffer_add_sam3_meta_from_json(back, text, &error);
    ASSERT_NE(parsed, nullptr) << (error ? error->message : "") << "\n" << text;
    EXPECT_EQ(parsed, gst_buffer_get_sam3_meta(back));
    expect_same_meta(meta, parsed, with_masks);
    // The restored meta serialises to the same document.
    gchar *again = gst_sam3_meta_to_json(parsed, buf, with_masks);
    EXPECT_STREQ(again, text);
    g_free(again);
    g_free(text);
    gst_buffer_unref(back);
  }
  gst_buffer_unref(buf);
}

TEST(Sam3MetaJson, EmptyFrameRoundTrips) {
  GstBuffer *buf = new_buffer_with_meta(2, 3);
  gchar *text = gst_sam3_meta_to_json(gst_buffer_get_sam3_meta(buf), nullptr, TRUE);
  GstBuffer *back = gst_buffer_new();
  GstSam3Meta *parsed = gst_buffer_add_sam3_meta_from_json(back, text, nullptr);
  ASSERT_NE(parsed, nullptr) << text;
  expect_same_meta(gst_buffer_get_sam3_meta(buf), parsed, true);
  g_free(text);
  gst_buffer_unref(back);
  gst_buffer_unref(buf);
}

struct BadJson {
  const char *json;
  GstSam3MetaError code;
  const char *mentions; // a fragment the message must contain, naming the problem
};

// Valid except where a case replaces a part of it.
#define FRAME R"("frame":{"width":8,"height":4,"number":1,"pts":null,"dts":null,"duration":null})"
#define INST(body)                                                                                 \
  "{\"schema\":\"gst-sam3/1\"," FRAME ",\"prompts\":[\"a\"],\"instances\":[" body "]}"
#define GOOD_FIELDS                                                                                \
  R"("instance_id":0,"track_id":0,"label":"a","prompt_index":0,"score":0.5,)"                      \
  R"("box":{"x":0,"y":0,"w":2,"h":2},"provenance":"detected")"
#define MASK(body) "{" GOOD_FIELDS ",\"mask\":{" body "}}"

const BadJson kBadJson[] = {
    {"", GST_SAM3_META_ERROR_PARSE, "JSON"},
    {"{\"schema\": ", GST_SAM3_META_ERROR_PARSE, "JSON"},
    {"not json", GST_SAM3_META_ERROR_PARSE, "JSON"},
    {"[1,2]", GST_SAM3_META_ERROR_PARSE, "object"},
    {"{}", GST_SAM3_META_ERROR_SCHEMA, "schema"},
    {"{\"schema\":7}", GST_SAM3_META_ERROR_SCHEMA, "schema"},
    {"{\"schema\":\"gst-sam3/2\"}", GST_SAM3_META_ERROR_SCHEMA, "gst-sam3/2"},
    {"{\"schema\":\"gst-sam3/1\"}", GST_SAM3_META_ERROR_INVALID, "frame: missing"},
    {"{\"schema\":\"gst-sam3/1\",\"frame\":[]}", GST_SAM3_META_ERROR_INVALID, "frame"},
    {R"({"schema":"gst-sam3/1","frame":{"width":"8","height":4,"number":1}})",
     GST_SAM3_META_ERROR_INVALID, "frame.width"},
    {R"({"schema":"gst-sam3/1","frame":{"width":8.5,"height":4,"number":1}})",
     GST_SAM3_META_ERROR_INVALID, "frame.width"},
    {R"({"schema":"gst-sam3/1","frame":{"width":-8,"height":4,"number":1}})",
     GST_SAM3_META_ERROR_INVALID, "frame.width"},
    {R"({"schema":"gst-sam3/1","frame":{"width":8,"height":4,"number":1,"pts":"x"}})",
     GST_SAM3_META_ERROR_INVALID, "frame.pts"},
    {"{\"schema\":\"gst-sam3/1\"," FRAME ",\"instances\":[]}", GST_SAM3_META_ERROR_INVALID,
     "prompts"},
    {"{\"schema\":\"gst-sam3/1\"," FRAME ",\"prompts\":[1],\"instances\":[]}",
     GST_SAM3_META_ERROR_INVALID, "prompts"},
    {"{\"schema\":\"gst-sam3/1\"," FRAME ",\"prompts\":[]}", GST_SAM3_META_ERROR_INVALID,
     "instances"},
    {INST("3"), GST_SAM3_META_ERROR_INVALID, "instances[0]"},
    {INST("{}"), GST_SAM3_META_ERROR_INVALID, "instances[0].instance_id"},
    {INST(R"({"instance_id":0,"track_id":-1})"), GST_SAM3_META_ERROR_INVALID,
     "instances[0].track_id"},
    {INST("{" GOOD_FIELDS "},{\"instance_id\":1}"), GST_SAM3_META_ERROR_INVALID,
     "instances[1].track_id"},
    {INST(R"({"instance_id":0,"track_id":0,"label":null})"), GST_SAM3_META_ERROR_INVALID,
     "instances[0].label"},
    {INST(R"({"instance_id":0,"track_id":0,"label":"a","prompt_index":0,"score":"high"})"),
     GST_SAM3_META_ERROR_INVALID, "instances[0].score"},
    {INST(R"({"instance_id":0,"track_id":0,"label":"a","prompt_index":0,"score":1,)"
          R"("box":{"x":0,"y":0,"w":2},"provenance":"detected"})"),
     GST_SAM3_META_ERROR_INVALID, "instances[0].box.h"},
    {INST(R"({"instance_id":0,"track_id":0,"label":"a","prompt_index":0,"score":1,)"
          R"("box":{"x":0,"y":0,"w":2,"h":2},"provenance":"guessed"})"),
     GST_SAM3_META_ERROR_INVALID, "instances[0].provenance"},
    {INST("{" GOOD_FIELDS ",\"mask\":true}"), GST_SAM3_META_ERROR_INVALID, "instances[0].mask"},
    {INST(MASK(R"("width":2,"height":2,"rect":{"x":0,"y":0,"w":2,"h":2},)"
               R"("encoding":"png","counts":[4])")),
     GST_SAM3_META_ERROR_INVALID, "instances[0].mask.encoding"},
    {INST(MASK(R"("width":2,"height":2,"rect":{"x":0,"y":0,"w":2,"h":2},)"
               R"("encoding":"rle-binary","counts":[1,2])")),
     GST_SAM3_META_ERROR_INVALID, "instances[0].mask.counts"},
    {INST(MASK(R"("width":2,"height":2,"rect":{"x":0,"y":0,"w":2,"h":2},)"
               R"("encoding":"rle-binary","counts":[3,2])")),
     GST_SAM3_META_ERROR_INVALID, "instances[0].mask.counts"},
    {INST(MASK(R"("width":2,"height":2,"rect":{"x":0,"y":0,"w":2,"h":2},)"
               R"("encoding":"rle-binary","counts":[5,-1])")),
     GST_SAM3_META_ERROR_INVALID, "instances[0].mask.counts"},
    {INST(MASK(R"("width":2,"height":2,"rect":{"x":0,"y":0,"w":2,"h":2},)"
               R"("encoding":"rle-binary","counts":[4.0])")),
     GST_SAM3_META_ERROR_INVALID, "instances[0].mask.counts"},
    {INST(MASK(R"("width":2,"height":2,"rect":{"x":0,"y":0,"w":-2,"h":2},)"
               R"("encoding":"rle-binary","counts":[4])")),
     GST_SAM3_META_ERROR_INVALID, "instances[0].mask.rect.w"},
    {INST(MASK(R"("width":2,"height":2,"encoding":"rle-binary","counts":[4])")),
     GST_SAM3_META_ERROR_INVALID, "instances[0].mask.rect"},
    // Found by tests/fuzz/fuzz_meta_json: a number beyond float range became an infinite
    // box width, which the JSON writer cannot write back.
    {INST(R"({"instance_id":0,"track_id":0,"label":"a","prompt_index":0,"score":1,)"
          R"("box":{"x":0,"y":0,"w":1e90,"h":2},"provenance":"detected"})"),
     GST_SAM3_META_ERROR_INVALID, "instances[0].box.w"},
    {INST(MASK(R"("width":100000,"height":100000,"rect":{"x":0,"y":0,"w":2,"h":2},)"
               R"("encoding":"rle-binary","counts":[10000000000])")),
     GST_SAM3_META_ERROR_INVALID, "instances[0].mask"},
};

TEST(Sam3MetaJson, MalformedInputsGiveErrorsAndAddNothing) {
  for (const BadJson &bad : kBadJson) {
    GstBuffer *buf = gst_buffer_new();
    GError *error = nullptr;
    EXPECT_EQ(gst_buffer_add_sam3_meta_from_json(buf, bad.json, &error), nullptr) << bad.json;
    ASSERT_NE(error, nullptr) << bad.json;
    EXPECT_TRUE(g_error_matches(error, GST_SAM3_META_ERROR, bad.code))
        << bad.json << " -> " << error->message;
    EXPECT_NE(strstr(error->message, bad.mentions), nullptr)
        << bad.json << " -> " << error->message << " (expected to mention " << bad.mentions << ")";
    EXPECT_EQ(gst_buffer_get_sam3_meta(buf), nullptr) << bad.json;
    g_error_free(error);
    gst_buffer_unref(buf);
  }
}

TEST(Sam3MetaJson, ValidMaskDecodesToBinary) {
  GstBuffer *buf = gst_buffer_new();
  GError *error = nullptr;
  GstSam3Meta *meta = gst_buffer_add_sam3_meta_from_json(
      buf,
      INST(MASK(R"("width":3,"height":2,"rect":{"x":-1,"y":2,"w":6,"h":4},)"
                R"("encoding":"rle-binary","counts":[1,2,0,0,3])")),
      &error);
  ASSERT_NE(meta, nullptr) << error->message;
  const GstSam3Instance *inst = gst_sam3_meta_get_instance(meta, 0);
  ASSERT_NE(inst->mask, nullptr);
  EXPECT_EQ(inst->mask_rect.x, -1);
  EXPECT_EQ(inst->mask_rect.h, 4);
  guint8 samples[6];
  gst_buffer_extract(inst->mask, 0, samples, 6);
  const guint8 expected[6] = {0, 255, 255, 0, 0, 0};
  EXPECT_EQ(0, memcmp(samples, expected, 6));
  gst_buffer_unref(buf);
}

TEST(Sam3MetaJson, EnumsAreRegistered) {
  GEnumClass *klass = static_cast<GEnumClass *>(g_type_class_ref(GST_TYPE_SAM3_PROVENANCE));
  EXPECT_STREQ(g_enum_get_value(klass, GST_SAM3_PROVENANCE_PROMPTED)->value_nick, "prompted");
  g_type_class_unref(klass);
  klass = static_cast<GEnumClass *>(g_type_class_ref(GST_TYPE_SAM3_MASK_MODE));
  EXPECT_STREQ(g_enum_get_value(klass, GST_SAM3_MASK_ALPHA)->value_nick, "alpha");
  g_type_class_unref(klass);
  EXPECT_TRUE(G_TYPE_IS_ENUM(GST_TYPE_SAM3_META_ERROR));
  EXPECT_STREQ(g_quark_to_string(GST_SAM3_META_ERROR), "gst-sam3-meta-error-quark");
}

} // namespace
