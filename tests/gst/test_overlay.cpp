// sam3overlay: what it draws where, on every supported format, and what it must leave alone.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <gstsam3meta.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace {

class GstEnvironment : public ::testing::Environment {
public:
  void SetUp() override { gst_init(nullptr, nullptr); }
};
[[maybe_unused]] ::testing::Environment *const kGstEnvironment =
    ::testing::AddGlobalTestEnvironment(new GstEnvironment);

const char *const kFormats[] = {"RGBA", "BGRA", "RGBx", "BGRx", "RGB", "BGR", "I420", "NV12"};

GstVideoInfo video_info(const std::string &format, int width, int height) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, gst_video_format_from_string(format.c_str()), width, height);
  return info;
}

GstBuffer *noise_frame(const GstVideoInfo &info, unsigned seed) {
  GstBuffer *buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  std::mt19937 rng(seed);
  for (gsize i = 0; i < map.size; ++i)
    map.data[i] = static_cast<guint8>(rng());
  gst_buffer_unmap(buffer, &map);
  return buffer;
}

GstBuffer *uniform_frame(const GstVideoInfo &info, guint8 value) {
  GstBuffer *buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  gst_buffer_memset(buffer, 0, value, GST_VIDEO_INFO_SIZE(&info));
  return buffer;
}

std::vector<guint8> bytes_of(GstBuffer *buffer) {
  std::vector<guint8> bytes(gst_buffer_get_size(buffer));
  gst_buffer_extract(buffer, 0, bytes.data(), bytes.size());
  return bytes;
}

/* Byte offset of sample (x, y) of colour component @comp (R,G,B or Y,U,V). */
gsize sample_offset(const GstVideoInfo &info, int comp, int x, int y) {
  return GST_VIDEO_INFO_COMP_OFFSET(&info, comp) +
         static_cast<gsize>(y) * GST_VIDEO_INFO_COMP_STRIDE(&info, comp) +
         static_cast<gsize>(x) * GST_VIDEO_INFO_COMP_PSTRIDE(&info, comp);
}

int w_sub(const GstVideoInfo &info, int comp) {
  return GST_VIDEO_FORMAT_INFO_W_SUB(info.finfo, comp);
}
int h_sub(const GstVideoInfo &info, int comp) {
  return GST_VIDEO_FORMAT_INFO_H_SUB(info.finfo, comp);
}

/* Calls @fn(comp, sx, sy, block) for every colour sample, block = the frame pixels it covers. */
template <typename Fn> void for_each_sample(const GstVideoInfo &info, Fn fn) {
  const int width = GST_VIDEO_INFO_WIDTH(&info), height = GST_VIDEO_INFO_HEIGHT(&info);
  for (int comp = 0; comp < 3; ++comp) {
    const int ws = w_sub(info, comp), hs = h_sub(info, comp);
    for (int sy = 0; sy < GST_VIDEO_INFO_COMP_HEIGHT(&info, comp); ++sy) {
      for (int sx = 0; sx < GST_VIDEO_INFO_COMP_WIDTH(&info, comp); ++sx) {
        const cv::Rect block =
            cv::Rect(sx << ws, sy << hs, 1 << ws, 1 << hs) & cv::Rect(0, 0, width, height);
        fn(comp, sx, sy, block);
      }
    }
  }
}

int count_in_block(const cv::Mat &mask, const cv::Rect &block) {
  int count = 0;
  for (int y = block.y; y < block.y + block.height; ++y)
    for (int x = block.x; x < block.x + block.width; ++x)
      count += mask.at<guint8>(y, x) != 0 ? 1 : 0;
  return count;
}

/* Bytes that differ although no pixel of their sample is in @allowed (CV_8U, frame size).
 * Covers every byte of the buffer: alpha/padding bytes are never allowed to change. */
int changes_outside(const GstVideoInfo &info, const std::vector<guint8> &before,
                    const std::vector<guint8> &after, const cv::Mat &allowed) {
  std::vector<bool> may_change(before.size(), false);
  for_each_sample(info, [&](int comp, int sx, int sy, const cv::Rect &block) {
    if (count_in_block(allowed, block) > 0)
      may_change[sample_offset(info, comp, sx, sy)] = true;
  });
  int count = 0;
  for (size_t i = 0; i < before.size(); ++i)
    count += (before[i] != after[i] && !may_change[i]) ? 1 : 0;
  return count;
}

/* Frame pixels with at least one changed sample covering them. */
cv::Mat changed_pixels(const GstVideoInfo &info, const std::vector<guint8> &before,
                       const std::vector<guint8> &after) {
  cv::Mat changed =
      cv::Mat::zeros(GST_VIDEO_INFO_HEIGHT(&info), GST_VIDEO_INFO_WIDTH(&info), CV_8UC1);
  for_each_sample(info, [&](int comp, int sx, int sy, const cv::Rect &block) {
    const gsize at = sample_offset(info, comp, sx, sy);
    if (before[at] != after[at])
      changed(block).setTo(1);
  });
  return changed;
}

struct Instance {
  std::string label = "thing";
  float score = 0.9f;
  cv::Rect box;
  guint64 track_id = 0;
  cv::Mat mask; /* CV_8U, stretched over mask_rect; empty: no mask */
  cv::Rect mask_rect;
};

/* An ellipse filling @size, 255 inside. */
cv::Mat ellipse_mask(cv::Size size) {
  cv::Mat mask = cv::Mat::zeros(size, CV_8UC1);
  cv::ellipse(mask, cv::Point(size.width / 2, size.height / 2),
              cv::Size(std::max(1, size.width / 2 - 1), std::max(1, size.height / 2 - 1)), 0, 0,
              360, cv::Scalar(255), cv::FILLED);
  return mask;
}

Instance masked(cv::Rect box, guint64 track_id = 0) {
  Instance instance;
  instance.box = box;
  instance.track_id = track_id;
  instance.mask = ellipse_mask(box.size());
  instance.mask_rect = box;
  return instance;
}

void attach(GstBuffer *buffer, const GstVideoInfo &info, const std::vector<Instance> &instances) {
  GstSam3Meta *meta =
      gst_buffer_add_sam3_meta(buffer, GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info));
  ASSERT_NE(meta, nullptr);
  for (const Instance &in : instances) {
    GstSam3Instance *out = gst_sam3_meta_add_instance(meta, in.label.c_str(), 0, in.score, in.box.x,
                                                      in.box.y, in.box.width, in.box.height);
    ASSERT_NE(out, nullptr);
    out->track_id = in.track_id;
    if (!in.mask.empty()) {
      const GstVideoRectangle rect = {in.mask_rect.x, in.mask_rect.y, in.mask_rect.width,
                                      in.mask_rect.height};
      ASSERT_TRUE(gst_sam3_instance_set_mask_data(out, in.mask.data, in.mask.cols, in.mask.rows,
                                                  static_cast<gint>(in.mask.step), &rect));
    }
  }
}

/* The frame pixels covered by the instance's mask when it is placed 1:1 (mask size = rect). */
cv::Mat coverage_of(const GstVideoInfo &info, const Instance &instance) {
  cv::Mat covered =
      cv::Mat::zeros(GST_VIDEO_INFO_HEIGHT(&info), GST_VIDEO_INFO_WIDTH(&info), CV_8UC1);
  const cv::Rect frame(0, 0, covered.cols, covered.rows);
  const cv::Rect visible = instance.mask_rect & frame;
  if (visible.empty())
    return covered;
  cv::Mat on = instance.mask >= 128;
  on(visible - instance.mask_rect.tl()).copyTo(covered(visible));
  return covered > 0;
}

/* A band of +-@reach pixels around the box outline. */
cv::Mat box_band(const GstVideoInfo &info, const cv::Rect &box, int reach) {
  cv::Mat band = cv::Mat::zeros(GST_VIDEO_INFO_HEIGHT(&info), GST_VIDEO_INFO_WIDTH(&info), CV_8UC1);
  cv::rectangle(band, box.tl(), box.br() - cv::Point(1, 1), cv::Scalar(1), 2 * reach + 1);
  return band;
}

/* A band of +-@reach pixels around the edge of a coverage mask. */
cv::Mat edge_band(const cv::Mat &covered, int reach) {
  const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_RECT, {2 * reach + 1, 2 * reach + 1});
  cv::Mat grown, shrunk;
  cv::dilate(covered, grown, kernel, {-1, -1}, 1, cv::BORDER_CONSTANT, cv::Scalar(0));
  cv::erode(covered, shrunk, kernel, {-1, -1}, 1, cv::BORDER_CONSTANT, cv::Scalar(0));
  return grown & ~shrunk;
}

struct Settings {
  bool masks = false;
  bool contours = false;
  bool boxes = false;
  bool labels = false;
  double alpha = 0.5;
  guint line_width = 2;
  double min_score = 0.0;
};

class Harness {
public:
  Harness(const GstVideoInfo &info, const Settings &s) : h_(gst_harness_new("sam3overlay")) {
    GstCaps *caps = gst_video_info_to_caps(&info);
    gst_harness_set_caps(h_, gst_caps_ref(caps), caps);
    configure(s);
  }
  ~Harness() { gst_harness_teardown(h_); }
  Harness(const Harness &) = delete;
  Harness &operator=(const Harness &) = delete;

  void configure(const Settings &s) {
    g_object_set(h_->element, "draw-masks", s.masks, "draw-contours", s.contours, "draw-boxes",
                 s.boxes, "draw-labels", s.labels, "mask-alpha", s.alpha, "line-width",
                 s.line_width, "min-score", s.min_score, nullptr);
  }

  /* Takes @input, returns the buffer pushed out (owned by the caller). */
  GstBuffer *run(GstBuffer *input) {
    EXPECT_EQ(gst_harness_push(h_, input), GST_FLOW_OK);
    return gst_harness_pull(h_);
  }

private:
  GstHarness *h_;
};

/* Runs one frame: @input stays owned by the caller; returns the output's bytes. */
std::vector<guint8> overlay(const GstVideoInfo &info, const Settings &s, GstBuffer *input) {
  Harness harness(info, s);
  GstBuffer *output = harness.run(gst_buffer_copy_deep(input));
  std::vector<guint8> bytes = bytes_of(output);
  gst_buffer_unref(output);
  return bytes;
}

std::vector<guint8> overlay(const GstVideoInfo &info, const Settings &s,
                            const std::vector<Instance> &instances, unsigned seed = 1) {
  GstBuffer *input = noise_frame(info, seed);
  attach(input, info, instances);
  std::vector<guint8> out = overlay(info, s, input);
  gst_buffer_unref(input);
  return out;
}

TEST(Overlay, PluginIsFound) {
  GstElementFactory *factory = gst_element_factory_find("sam3overlay");
  ASSERT_NE(factory, nullptr) << "set GST_PLUGIN_PATH to the build's gst/ folder";
  EXPECT_STREQ(gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_KLASS),
               "Filter/Analyzer/Visualization/Video");
  gst_object_unref(factory);
}

TEST(Overlay, PropertiesHaveDefaultsRangesAndMayChangeWhilePlaying) {
  GstElement *element = gst_element_factory_make("sam3overlay", nullptr);
  ASSERT_NE(element, nullptr);
  GObjectClass *klass = G_OBJECT_GET_CLASS(element);
  for (const char *name : {"draw-masks", "draw-contours", "draw-boxes", "draw-labels"}) {
    GParamSpec *spec = g_object_class_find_property(klass, name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_TRUE(G_PARAM_SPEC_BOOLEAN(spec)->default_value) << name;
    EXPECT_TRUE(spec->flags & GST_PARAM_MUTABLE_PLAYING) << name;
  }
  const struct {
    const char *name;
    double min, max, def;
  } doubles[] = {
      {"mask-alpha", 0.0, 1.0, 0.5}, {"font-scale", 0.1, 10.0, 0.5}, {"min-score", 0.0, 1.0, 0.0}};
  for (const auto &d : doubles) {
    GParamSpec *spec = g_object_class_find_property(klass, d.name);
    ASSERT_NE(spec, nullptr) << d.name;
    EXPECT_DOUBLE_EQ(G_PARAM_SPEC_DOUBLE(spec)->minimum, d.min) << d.name;
    EXPECT_DOUBLE_EQ(G_PARAM_SPEC_DOUBLE(spec)->maximum, d.max) << d.name;
    EXPECT_DOUBLE_EQ(G_PARAM_SPEC_DOUBLE(spec)->default_value, d.def) << d.name;
    EXPECT_TRUE(spec->flags & GST_PARAM_MUTABLE_PLAYING) << d.name;
  }
  GParamSpec *line = g_object_class_find_property(klass, "line-width");
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(G_PARAM_SPEC_UINT(line)->minimum, 1u);
  EXPECT_EQ(G_PARAM_SPEC_UINT(line)->maximum, 64u);
  EXPECT_EQ(G_PARAM_SPEC_UINT(line)->default_value, 2u);
  EXPECT_TRUE(line->flags & GST_PARAM_MUTABLE_PLAYING);
  gst_object_unref(element);
}

/* Every test below runs on each format at an even and an odd (odd chroma) size. */
class OverlayFormat : public ::testing::TestWithParam<std::tuple<const char *, cv::Size>> {
protected:
  GstVideoInfo info() const {
    const auto &[format, size] = GetParam();
    return video_info(format, size.width, size.height);
  }
  int width() const { return std::get<1>(GetParam()).width; }
  int height() const { return std::get<1>(GetParam()).height; }
};

TEST_P(OverlayFormat, MaskFillBlendsHalfwayInsideAndLeavesEverythingElseIdentical) {
  const GstVideoInfo vi = info();
  const Instance instance = masked({width() / 5, height() / 4, width() / 2, height() / 2}, 3);
  GstBuffer *input = noise_frame(vi, 7);
  attach(input, vi, {instance});
  const std::vector<guint8> before = bytes_of(input);

  Settings s;
  s.masks = true;
  s.alpha = 1.0;
  const std::vector<guint8> painted = overlay(vi, s, input);
  s.alpha = 0.5;
  const std::vector<guint8> half = overlay(vi, s, input);
  gst_buffer_unref(input);

  const cv::Mat covered = coverage_of(vi, instance);
  EXPECT_EQ(changes_outside(vi, before, half, covered), 0);

  /* Fully covered samples: opaque paint is one flat colour, half alpha lies midway. */
  std::vector<int> colour(3, -1);
  int checked = 0;
  for_each_sample(vi, [&](int comp, int sx, int sy, const cv::Rect &block) {
    if (count_in_block(covered, block) != block.area())
      return;
    const gsize at = sample_offset(vi, comp, sx, sy);
    if (colour[comp] < 0)
      colour[comp] = painted[at];
    ASSERT_EQ(painted[at], colour[comp]) << "component " << comp << " at " << sx << "," << sy;
    const double midway = (before[at] + colour[comp]) / 2.0;
    ASSERT_LE(std::abs(half[at] - midway), 1.0) << "component " << comp;
    ++checked;
  });
  EXPECT_GT(checked, 100);
}

TEST_P(OverlayFormat, BufferWithoutMetaIsTheSameBufferUntouched) {
  const GstVideoInfo vi = info();
  Settings s;
  s.masks = s.contours = s.boxes = s.labels = true;
  Harness harness(vi, s);

  GstBuffer *input = noise_frame(vi, 3);
  const std::vector<guint8> before = bytes_of(input);
  /* The extra ref makes the buffer read-only: any write would force a copy. */
  gst_buffer_ref(input);
  GstBuffer *output = harness.run(input);
  EXPECT_EQ(output, input);
  EXPECT_EQ(bytes_of(output), before);
  gst_buffer_unref(output);
  gst_buffer_unref(input);
}

TEST_P(OverlayFormat, MetaWithoutInstancesIsTheSameBufferUntouched) {
  const GstVideoInfo vi = info();
  Settings s;
  s.masks = s.contours = s.boxes = s.labels = true;
  Harness harness(vi, s);

  GstBuffer *input = noise_frame(vi, 4);
  attach(input, vi, {});
  const std::vector<guint8> before = bytes_of(input);
  gst_buffer_ref(input);
  GstBuffer *output = harness.run(input);
  EXPECT_EQ(output, input);
  EXPECT_EQ(bytes_of(output), before);
  gst_buffer_unref(output);
  gst_buffer_unref(input);
}

TEST_P(OverlayFormat, NothingEnabledOrEverythingBelowMinScoreLeavesBufferUncopied) {
  const GstVideoInfo vi = info();
  Instance instance = masked({2, 2, width() / 2, height() / 2}, 1);
  instance.score = 0.4f;
  GstBuffer *input = noise_frame(vi, 5);
  attach(input, vi, {instance});
  const std::vector<guint8> before = bytes_of(input);

  Settings off;
  Settings low;
  low.masks = low.contours = low.boxes = low.labels = true;
  low.min_score = 0.5;
  for (const Settings &s : {off, low}) {
    Harness harness(vi, s);
    gst_buffer_ref(input);
    GstBuffer *output = harness.run(input);
    EXPECT_EQ(output, input);
    EXPECT_EQ(bytes_of(output), before);
    gst_buffer_unref(output);
  }
  gst_buffer_unref(input);
}

TEST_P(OverlayFormat, ContoursAndBoxesStayOnTheirLines) {
  const GstVideoInfo vi = info();
  const Instance instance = masked({width() / 4, height() / 4, width() / 2, height() / 2}, 2);
  GstBuffer *input = noise_frame(vi, 9);
  attach(input, vi, {instance});
  const std::vector<guint8> before = bytes_of(input);

  Settings s;
  s.contours = s.boxes = true;
  s.line_width = 3;
  const std::vector<guint8> after = overlay(vi, s, input);

  const int reach = static_cast<int>(s.line_width);
  const cv::Mat allowed =
      box_band(vi, instance.box, reach) | edge_band(coverage_of(vi, instance), reach);
  EXPECT_EQ(changes_outside(vi, before, after, allowed), 0);

  Settings contour_only;
  contour_only.contours = true;
  contour_only.line_width = s.line_width;
  const std::vector<guint8> outline = overlay(vi, contour_only, input);
  EXPECT_EQ(changes_outside(vi, before, outline, edge_band(coverage_of(vi, instance), reach)), 0);
  EXPECT_GT(cv::countNonZero(changed_pixels(vi, before, outline)), 0);
  gst_buffer_unref(input);

  const cv::Mat changed = changed_pixels(vi, before, after);
  const cv::Point left_edge(instance.box.x, instance.box.y + instance.box.height / 2);
  const cv::Point top_edge(instance.box.x + instance.box.width / 2, instance.box.y);
  EXPECT_TRUE(changed.at<guint8>(left_edge)) << "box left edge";
  EXPECT_TRUE(changed.at<guint8>(top_edge)) << "box top edge and contour top";
  const cv::Point centre(instance.box.x + instance.box.width / 2,
                         instance.box.y + instance.box.height / 2);
  EXPECT_FALSE(changed.at<guint8>(centre)) << "no fill with draw-masks off";
}

TEST_P(OverlayFormat, BoxesPartlyOutsideTheFrameAreClipped) {
  const GstVideoInfo vi = info();
  const Instance top_left = masked({-width() / 4, -height() / 4, width() / 2, height() / 2}, 1);
  const Instance bottom_right =
      masked({width() - width() / 4, height() - height() / 4, width() / 2, height() / 2}, 2);
  GstBuffer *input = noise_frame(vi, 11);
  attach(input, vi, {top_left, bottom_right});
  const std::vector<guint8> before = bytes_of(input);

  Settings s;
  s.masks = s.contours = s.boxes = true;
  const std::vector<guint8> after = overlay(vi, s, input);
  gst_buffer_unref(input);

  const int reach = static_cast<int>(s.line_width);
  cv::Mat allowed = cv::Mat::zeros(height(), width(), CV_8UC1);
  for (const Instance &in : {top_left, bottom_right}) {
    const cv::Mat covered = coverage_of(vi, in);
    allowed |= covered | box_band(vi, in.box, reach) | edge_band(covered, reach);
  }
  EXPECT_EQ(changes_outside(vi, before, after, allowed), 0);
  const cv::Mat changed = changed_pixels(vi, before, after);
  EXPECT_TRUE(changed.at<guint8>(0, 0)) << "the part of the first mask on the frame";
  EXPECT_TRUE(changed.at<guint8>(height() - 1, width() - 1)) << "the part of the second mask";
}

TEST_P(OverlayFormat, OpaqueFullFrameMaskPaintsEverySampleUpToTheOddEdges) {
  const GstVideoInfo vi = info();
  Instance whole;
  whole.box = whole.mask_rect = {0, 0, width(), height()};
  whole.mask = cv::Mat(whole.box.size(), CV_8UC1, cv::Scalar(255));
  Settings s;
  s.masks = true;
  s.alpha = 1.0;
  const std::vector<guint8> after = overlay(vi, s, {whole});
  std::vector<int> colour(3, -1);
  for_each_sample(vi, [&](int comp, int sx, int sy, const cv::Rect &) {
    const int value = after[sample_offset(vi, comp, sx, sy)];
    if (colour[comp] < 0)
      colour[comp] = value;
    ASSERT_EQ(value, colour[comp]) << "component " << comp << " at " << sx << "," << sy;
  });
}

TEST_P(OverlayFormat, EmptyMasksDrawNoFillButStillTheirBox) {
  const GstVideoInfo vi = info();
  Instance no_mask;
  no_mask.box = {width() / 8, height() / 8, width() / 4, height() / 4};
  Instance blank = masked({width() / 2, height() / 2, width() / 4, height() / 4});
  blank.mask.setTo(0);
  GstBuffer *input = noise_frame(vi, 13);
  attach(input, vi, {no_mask, blank});
  const std::vector<guint8> before = bytes_of(input);

  Settings fills;
  fills.masks = fills.contours = true;
  EXPECT_EQ(overlay(vi, fills, input), before);

  Settings boxes;
  boxes.masks = boxes.contours = boxes.boxes = true;
  const std::vector<guint8> after = overlay(vi, boxes, input);
  gst_buffer_unref(input);
  const int reach = static_cast<int>(boxes.line_width);
  const cv::Mat allowed = box_band(vi, no_mask.box, reach) | box_band(vi, blank.box, reach);
  EXPECT_EQ(changes_outside(vi, before, after, allowed), 0);
  EXPECT_GT(cv::countNonZero(changed_pixels(vi, before, after)), 0);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, OverlayFormat,
                         ::testing::Combine(::testing::ValuesIn(kFormats),
                                            ::testing::Values(cv::Size(96, 64),
                                                              cv::Size(641, 479))),
                         [](const ::testing::TestParamInfo<OverlayFormat::ParamType> &p) {
                           const cv::Size size = std::get<1>(p.param);
                           return std::string(std::get<0>(p.param)) + "_" +
                                  std::to_string(size.width) + "x" + std::to_string(size.height);
                         });

class OverlayOnePixel : public ::testing::TestWithParam<const char *> {};

TEST_P(OverlayOnePixel, DrawsEverythingOnASinglePixelFrame) {
  const GstVideoInfo vi = video_info(GetParam(), 1, 1);
  Instance instance;
  instance.box = {0, 0, 1, 1};
  instance.mask = cv::Mat(1, 1, CV_8UC1, cv::Scalar(255));
  instance.mask_rect = instance.box;
  GstBuffer *input = uniform_frame(vi, 0x55);
  attach(input, vi, {instance});
  const std::vector<guint8> before = bytes_of(input);

  Settings fill;
  fill.masks = true;
  fill.alpha = 1.0;
  EXPECT_NE(overlay(vi, fill, input), before);
  Settings all;
  all.masks = all.contours = all.boxes = all.labels = true;
  EXPECT_NE(overlay(vi, all, input), before);
  gst_buffer_unref(input);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, OverlayOnePixel, ::testing::ValuesIn(kFormats));

/* On RGBA the painted colour can be read back directly. */
const GstVideoInfo kRgba = video_info("RGBA", 160, 120);

std::array<int, 3> rgb_at(const std::vector<guint8> &bytes, const GstVideoInfo &info, cv::Point p) {
  std::array<int, 3> rgb{};
  for (int c = 0; c < 3; ++c)
    rgb[c] = bytes[sample_offset(info, c, p.x, p.y)];
  return rgb;
}

std::vector<guint8> opaque_fill(const std::vector<Instance> &instances) {
  Settings s;
  s.masks = true;
  s.alpha = 1.0;
  return overlay(kRgba, s, instances);
}

cv::Point centre_of(const cv::Rect &r) {
  return {r.x + r.width / 2, r.y + r.height / 2};
}

TEST(Overlay, ColourFollowsTrackIdAndLabelWhenUntracked) {
  Instance a = masked({5, 5, 30, 30}, 5);
  a.label = "cat";
  Instance b = masked({45, 5, 30, 30}, 5);
  b.label = "dog";
  Instance c = masked({85, 5, 30, 30}, 6);
  c.label = "cat";
  Instance d = masked({5, 60, 30, 30}, 0);
  d.label = "car";
  Instance e = masked({45, 60, 30, 30}, 0);
  e.label = "car";
  const std::vector<guint8> out = opaque_fill({a, b, c, d, e});
  EXPECT_EQ(rgb_at(out, kRgba, centre_of(a.box)), rgb_at(out, kRgba, centre_of(b.box)));
  EXPECT_NE(rgb_at(out, kRgba, centre_of(a.box)), rgb_at(out, kRgba, centre_of(c.box)));
  EXPECT_EQ(rgb_at(out, kRgba, centre_of(d.box)), rgb_at(out, kRgba, centre_of(e.box)));

  /* The same track keeps its colour on another frame, wherever it is. */
  Instance moved = a;
  moved.box = moved.mask_rect = {100, 70, 30, 30};
  const std::vector<guint8> later = opaque_fill({moved});
  EXPECT_EQ(rgb_at(later, kRgba, centre_of(moved.box)), rgb_at(out, kRgba, centre_of(a.box)));
}

TEST(Overlay, MinScoreHidesOnlyLowerScores) {
  Instance low = masked({10, 10, 40, 40}, 1);
  low.score = 0.3f;
  Instance high = masked({90, 10, 40, 40}, 2);
  high.score = 0.8f;
  GstBuffer *input = noise_frame(kRgba, 21);
  attach(input, kRgba, {low, high});
  const std::vector<guint8> before = bytes_of(input);
  Settings s;
  s.masks = true;
  s.min_score = 0.5;
  const std::vector<guint8> after = overlay(kRgba, s, input);
  gst_buffer_unref(input);
  EXPECT_EQ(changes_outside(kRgba, before, after, coverage_of(kRgba, high)), 0);
  EXPECT_GT(cv::countNonZero(changed_pixels(kRgba, before, after)), 0);
}

/* Bounding rect of what the labels-only overlay changed. */
cv::Rect label_extent(const Instance &instance) {
  GstBuffer *input = noise_frame(kRgba, 17);
  attach(input, kRgba, {instance});
  const std::vector<guint8> before = bytes_of(input);
  Settings s;
  s.labels = true;
  const std::vector<guint8> after = overlay(kRgba, s, input);
  gst_buffer_unref(input);
  return cv::boundingRect(changed_pixels(kRgba, before, after));
}

TEST(Overlay, LabelSitsAboveTheBoxAndShowsTheTrackIdOnlyWhenTracked) {
  Instance untracked;
  untracked.label = "person";
  untracked.box = {20, 60, 80, 40};
  Instance tracked = untracked;
  tracked.track_id = 12;

  const cv::Rect plain = label_extent(untracked);
  const cv::Rect with_id = label_extent(tracked);
  ASSERT_FALSE(plain.empty());
  EXPECT_EQ(plain.x, untracked.box.x);
  EXPECT_LE(plain.br().y, untracked.box.y) << "above the box";
  EXPECT_GT(plain.y, untracked.box.y - 40);
  EXPECT_GT(with_id.width, plain.width) << "\"#12\" adds text";
  EXPECT_EQ(with_id.height, plain.height);
}

TEST(Overlay, LabelOfABoxAtTheTopEdgeStaysOnTheFrame) {
  Instance instance;
  instance.box = {-30, -10, 60, 50};
  const cv::Rect extent = label_extent(instance);
  ASSERT_FALSE(extent.empty());
  EXPECT_EQ(extent.x, 0);
  EXPECT_EQ(extent.y, 0);
}

TEST(Overlay, PropertyChangesApplyFromTheNextBuffer) {
  const Instance instance = masked({40, 30, 60, 50}, 4);
  Settings s;
  s.masks = true;
  s.alpha = 1.0;
  Harness harness(kRgba, s);
  GstBuffer *first = uniform_frame(kRgba, 0);
  attach(first, kRgba, {instance});
  GstBuffer *out1 = harness.run(first);
  const auto painted = rgb_at(bytes_of(out1), kRgba, centre_of(instance.box));
  gst_buffer_unref(out1);
  ASSERT_NE(painted, (std::array<int, 3>{0, 0, 0}));

  s.alpha = 0.0;
  harness.configure(s);
  GstBuffer *second = uniform_frame(kRgba, 0);
  attach(second, kRgba, {instance});
  GstBuffer *out2 = harness.run(second);
  EXPECT_EQ(rgb_at(bytes_of(out2), kRgba, centre_of(instance.box)), (std::array<int, 3>{0, 0, 0}));
  gst_buffer_unref(out2);
}

TEST(Overlay, MetaForAnotherFrameSizeIsStretchedOntoTheVideo) {
  const GstVideoInfo video = video_info("RGBA", 100, 50);
  const GstVideoInfo analysed = video_info("RGBA", 200, 100);
  Instance instance;
  instance.box = instance.mask_rect = {40, 20, 60, 40};
  instance.mask = cv::Mat(instance.box.size(), CV_8UC1, cv::Scalar(255));
  GstBuffer *input = noise_frame(video, 23);
  attach(input, analysed, {instance});
  const std::vector<guint8> before = bytes_of(input);
  Settings s;
  s.masks = true;
  const std::vector<guint8> after = overlay(video, s, input);
  gst_buffer_unref(input);
  cv::Mat allowed = cv::Mat::zeros(50, 100, CV_8UC1);
  allowed(cv::Rect(20, 10, 30, 20)).setTo(1);
  EXPECT_EQ(changes_outside(video, before, after, allowed), 0);
  EXPECT_EQ(cv::countNonZero(changed_pixels(video, before, after)), 30 * 20);
}

/* Runs @pipeline to EOS; fails on an error message. */
void run_to_eos(GstElement *pipeline) {
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered(
      bus, 20 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  ASSERT_NE(msg, nullptr) << "no EOS within 20 s";
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError *error = nullptr;
    gst_message_parse_error(msg, &error, nullptr);
    ADD_FAILURE() << error->message;
    g_error_free(error);
  }
  gst_message_unref(msg);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
}

TEST(OverlayPipeline, OddSizedNv12StreamReachesEos) {
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(
      "videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width=641,height=479 ! "
      "sam3overlay ! fakesink",
      &error);
  ASSERT_NE(pipeline, nullptr) << (error ? error->message : "");
  run_to_eos(pipeline);
  gst_object_unref(pipeline);
}

TEST(OverlayPipeline, DrawingLandsWhereVideoscaleMovedTheInstance) {
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(
      "appsrc name=src format=time caps=video/x-raw,format=RGBA,width=200,height=100,"
      "framerate=10/1 ! videoconvert ! videoscale ! video/x-raw,width=100,height=50 ! "
      "sam3overlay draw-contours=false draw-boxes=false draw-labels=false mask-alpha=1.0 ! "
      "appsink name=sink sync=false",
      &error);
  ASSERT_NE(pipeline, nullptr) << (error ? error->message : "");
  GstElement *src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

  const GstVideoInfo source = video_info("RGBA", 200, 100);
  GstBuffer *frame = uniform_frame(source, 128);
  GST_BUFFER_PTS(frame) = 0;
  GST_BUFFER_DURATION(frame) = GST_SECOND / 10;
  Instance instance;
  instance.box = instance.mask_rect = {40, 20, 60, 40};
  instance.mask = cv::Mat(instance.box.size(), CV_8UC1, cv::Scalar(255));
  instance.track_id = 1;
  attach(frame, source, {instance});
  GstFlowReturn flow;
  g_signal_emit_by_name(src, "push-buffer", frame, &flow);
  gst_buffer_unref(frame);
  ASSERT_EQ(flow, GST_FLOW_OK);
  g_signal_emit_by_name(src, "end-of-stream", &flow);

  GstSample *sample = nullptr;
  g_signal_emit_by_name(sink, "pull-sample", &sample);
  ASSERT_NE(sample, nullptr);
  const GstVideoInfo scaled = video_info("RGBA", 100, 50);
  const std::vector<guint8> out = bytes_of(gst_sample_get_buffer(sample));
  gst_sample_unref(sample);
  ASSERT_EQ(out.size(), GST_VIDEO_INFO_SIZE(&scaled));

  const std::array<int, 3> grey = {128, 128, 128};
  /* The box moved to (20, 10, 30, 20): its inside is painted ... */
  EXPECT_NE(rgb_at(out, scaled, {35, 20}), grey);
  EXPECT_NE(rgb_at(out, scaled, {21, 11}), grey);
  EXPECT_NE(rgb_at(out, scaled, {48, 28}), grey);
  /* ... and where the unscaled box would lie beyond it, nothing is. */
  EXPECT_EQ(rgb_at(out, scaled, {60, 35}), grey);
  EXPECT_EQ(rgb_at(out, scaled, {52, 20}), grey);
  EXPECT_EQ(rgb_at(out, scaled, {35, 32}), grey);

  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(src);
  gst_object_unref(sink);
  gst_object_unref(pipeline);
}

} // namespace
