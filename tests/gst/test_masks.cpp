// How sam3detect and sam3track store a mask: probabilities as GRAY8 bytes on which 128 falls
// exactly at the mask threshold, sampled over the instance's box clipped to the frame.
#include "gstsam3masks.h"

#include <gtest/gtest.h>

#include <gst/gst.h>

#include <set>

namespace {

class GstEnvironment : public ::testing::Environment {
public:
  void SetUp() override { gst_init(nullptr, nullptr); }
};
const ::testing::Environment *const gst_env =
    ::testing::AddGlobalTestEnvironment(new GstEnvironment);

// The bytes stored for a frame-wide box over uniform logits.
std::set<int> stored(float logit, float threshold, float x = 0, float y = 0, float w = 8,
                     float h = 6) {
  GstBuffer *buf = gst_buffer_new();
  GstSam3Meta *meta = gst_buffer_add_sam3_meta(buf, 8, 6);
  GstSam3Instance *inst = gst_sam3_meta_add_instance(meta, "x", 0, 0.9f, x, y, w, h);
  gst_sam3_instance_set_mask_from_logits(inst, torch::full({4, 4}, logit), 8, 6, threshold);
  std::set<int> values;
  if (inst->mask) {
    GstMapInfo map;
    EXPECT_TRUE(gst_buffer_map(inst->mask, &map, GST_MAP_READ));
    EXPECT_EQ(map.size, inst->mask_width * inst->mask_height);
    for (gsize i = 0; i < map.size; ++i)
      values.insert(map.data[i]);
    gst_buffer_unmap(inst->mask, &map);
  }
  gst_buffer_unref(buf);
  return values;
}

TEST(MaskBytes, TheThresholdFallsOn128AndTheRestScalesLinearly) {
  EXPECT_EQ(stored(0.f, 0.5f), std::set<int>{128});  // p = 0.5: 127.5, rounded half up
  EXPECT_EQ(stored(0.f, 0.25f), std::set<int>{170}); // 127.5 + 127.5 * 0.25 / 0.75
  EXPECT_EQ(stored(0.f, 1.f), std::set<int>{64});    // 127.5 * 0.5 = 63.75
  EXPECT_EQ(stored(0.f, 0.f), std::set<int>{191});   // 127.5 + 127.5 * 0.5 = 191.25
  EXPECT_EQ(stored(-100.f, 0.5f), std::set<int>{0});
  EXPECT_EQ(stored(100.f, 0.5f), std::set<int>{255});
}

TEST(MaskBytes, TheMaskCoversTheBoxClippedToTheFrame) {
  GstBuffer *buf = gst_buffer_new();
  GstSam3Meta *meta = gst_buffer_add_sam3_meta(buf, 8, 6);
  GstSam3Instance *inside = gst_sam3_meta_add_instance(meta, "x", 0, 0.9f, 5.5f, 2.f, 10.f, 3.2f);
  gst_sam3_instance_set_mask_from_logits(inside, torch::zeros({4, 4}), 8, 6, 0.5f);
  EXPECT_EQ(inside->mask_rect.x, 5);
  EXPECT_EQ(inside->mask_rect.y, 2);
  EXPECT_EQ(inside->mask_rect.w, 3);
  EXPECT_EQ(inside->mask_rect.h, 4);
  EXPECT_EQ(inside->mask_width, 3u);
  EXPECT_EQ(inside->mask_height, 4u);
  GstSam3Instance *outside = gst_sam3_meta_add_instance(meta, "x", 0, 0.9f, 9.f, 1.f, 4.f, 4.f);
  gst_sam3_instance_set_mask_from_logits(outside, torch::zeros({4, 4}), 8, 6, 0.5f);
  EXPECT_EQ(outside->mask, nullptr);
  gst_buffer_unref(buf);
}

} // namespace
