/* gst-sam3: sam3overlay draws the instances of a GstSam3Meta on the video frame it rides on.
 *
 * Masks are alpha blended, contours, boxes and "label #track score" texts are drawn solid,
 * in a colour that stays the same for a track id (or, untracked, for a label). Buffers with
 * nothing to draw are pushed on untouched: not mapped, not made writable, so not copied.
 */
#include "gstsam3overlay.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <gstsam3meta.h>

GST_DEBUG_CATEGORY_STATIC(gst_sam3_overlay_debug);
#define GST_CAT_DEFAULT gst_sam3_overlay_debug

namespace {

constexpr gboolean kDefaultDrawMasks = TRUE;
constexpr gboolean kDefaultDrawContours = TRUE;
constexpr gboolean kDefaultDrawBoxes = TRUE;
constexpr gboolean kDefaultDrawLabels = TRUE;
constexpr gdouble kDefaultMaskAlpha = 0.5;
constexpr guint kDefaultLineWidth = 2;
constexpr gdouble kDefaultFontScale = 0.5;
constexpr gdouble kDefaultMinScore = 0.0;

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

struct Settings {
  gboolean draw_masks;
  gboolean draw_contours;
  gboolean draw_boxes;
  gboolean draw_labels;
  gdouble mask_alpha;
  guint line_width;
  gdouble font_scale;
  gdouble min_score;
};

/* Blend weight of the mask fill in 1/256 steps, so that alpha 1.0 paints the exact colour. */
int mask_weight(const Settings &s) {
  return static_cast<int>(std::lround(s.mask_alpha * 256.0));
}

bool draws_anything(const Settings &s) {
  return (s.draw_masks && mask_weight(s) > 0) || s.draw_contours || s.draw_boxes || s.draw_labels;
}

bool visible(const GstSam3Instance &instance, const Settings &s) {
  /* Written so that a NaN score is never drawn. */
  return instance.score >= s.min_score;
}

struct Rgb {
  guint8 r, g, b;
};

/* Saturated, mutually distinct colours; consecutive track ids get different entries. */
constexpr Rgb kPalette[] = {
    {230, 25, 75},   {60, 180, 75},   {255, 225, 25},  {0, 130, 200},   {245, 130, 48},
    {145, 30, 180},  {70, 240, 240},  {240, 50, 230},  {210, 245, 60},  {250, 190, 212},
    {0, 128, 128},   {220, 190, 255}, {170, 110, 40},  {255, 250, 200}, {128, 0, 0},
    {170, 255, 195}, {128, 128, 0},   {255, 215, 180}, {0, 0, 128},     {255, 255, 255},
};
constexpr guint kPaletteSize = G_N_ELEMENTS(kPalette);

Rgb instance_colour(const GstSam3Instance &instance) {
  if (instance.track_id != 0)
    return kPalette[instance.track_id % kPaletteSize];
  /* Hash the label text, not the quark: quark values depend on the order in which a
   * process interned its strings, so they would give a different colour on every run. */
  const gchar *label = gst_sam3_instance_get_label(&instance);
  guint32 hash = 2166136261u;
  for (const gchar *p = label ? label : ""; *p != '\0'; ++p) {
    hash ^= static_cast<guint8>(*p);
    hash *= 16777619u;
  }
  return kPalette[hash % kPaletteSize];
}

std::string label_text(const GstSam3Instance &instance) {
  std::string text;
  const gchar *label = gst_sam3_instance_get_label(&instance);
  if (label != nullptr)
    text = label;
  if (instance.track_id != 0) {
    if (!text.empty())
      text += ' ';
    text += '#' + std::to_string(instance.track_id);
  }
  /* g_ascii_formatd: a decimal point whatever the locale. */
  gchar score[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd(score, sizeof(score), "%.2f", instance.score);
  if (!text.empty())
    text += ' ';
  text += score;
  return text;
}

/* Value of a colour in each of a frame's three colour components. */
using ComponentValues = std::array<int, 3>;

/* One "ink" of a layer: the colour to move towards and how far (0..256). */
struct Ink {
  ComponentValues value;
  int weight;
};

int div_round(int num, int den) {
  return num >= 0 ? (num + den / 2) / den : -((-num + den / 2) / den);
}

/* The colour components (R, G, B or Y, U, V) of a mapped frame, and how to paint a layer on
 * them. A layer is a GRAY8 image placed on the frame whose values index inks (0: none).
 * Subsampled chroma samples take the mean over the pixels of their block, so a sample
 * changes only when a pixel it covers does: everything else stays byte-identical. */
class FramePainter {
public:
  explicit FramePainter(const GstVideoFrame *frame)
      : width_(GST_VIDEO_FRAME_WIDTH(frame)), height_(GST_VIDEO_FRAME_HEIGHT(frame)) {
    const GstVideoFormatInfo *finfo = frame->info.finfo;
    for (guint c = 0; c < 3; ++c) {
      components_[c] = {static_cast<guint8 *>(GST_VIDEO_FRAME_COMP_DATA(frame, c)),
                        GST_VIDEO_FRAME_COMP_STRIDE(frame, c),
                        GST_VIDEO_FRAME_COMP_PSTRIDE(frame, c),
                        static_cast<int>(GST_VIDEO_FORMAT_INFO_W_SUB(finfo, c)),
                        static_cast<int>(GST_VIDEO_FORMAT_INFO_H_SUB(finfo, c))};
    }
    yuv_ = GST_VIDEO_FORMAT_INFO_IS_YUV(finfo);
    if (yuv_) {
      /* The caps' matrix and range (BT.601 when unknown), so a track has the same colour
       * on an RGB and on a YUV stream once both are displayed. */
      if (!gst_video_color_matrix_get_Kr_Kb(frame->info.colorimetry.matrix, &kr_, &kb_)) {
        kr_ = 0.299;
        kb_ = 0.114;
      }
      GstVideoColorRange range = frame->info.colorimetry.range;
      if (range == GST_VIDEO_COLOR_RANGE_UNKNOWN)
        range = GST_VIDEO_COLOR_RANGE_16_235;
      gst_video_color_range_offsets(range, finfo, range_offset_, range_scale_);
    }
  }

  int width() const { return width_; }
  int height() const { return height_; }

  ComponentValues values_of(Rgb colour) const {
    if (!yuv_)
      return {colour.r, colour.g, colour.b};
    const double r = colour.r / 255.0, g = colour.g / 255.0, b = colour.b / 255.0;
    const double y = kr_ * r + (1.0 - kr_ - kb_) * g + kb_ * b;
    const double pb = (b - y) / (2.0 * (1.0 - kb_));
    const double pr = (r - y) / (2.0 * (1.0 - kr_));
    const double yuv[3] = {y, pb, pr};
    ComponentValues out{};
    for (int c = 0; c < 3; ++c)
      out[c] = std::clamp(
          static_cast<int>(std::lround(range_offset_[c] + yuv[c] * range_scale_[c])), 0, 255);
    return out;
  }

  /* Paints @layer (CV_8UC1) with its top-left pixel at @origin on the frame. @layer must
   * lie inside the frame. */
  void paint(const cv::Mat &layer, cv::Point origin, const std::vector<Ink> &inks) {
    for (int c = 0; c < 3; ++c)
      paint_component(components_[c], layer, origin, inks, c);
  }

private:
  struct Component {
    guint8 *data;
    int stride;
    int pstride;
    int w_sub;
    int h_sub;
  };

  void paint_component(const Component &comp, const cv::Mat &layer, cv::Point origin,
                       const std::vector<Ink> &inks, int c) const {
    if (comp.w_sub == 0 && comp.h_sub == 0)
      paint_full_resolution(comp, layer, origin, inks, c);
    else
      paint_subsampled(comp, layer, origin, inks, c);
  }

  /* The common case (all of RGB, Y of YUV) on its own: layers are mostly empty (a box
   * outline spans its whole box), so the zero test must be the whole cost per pixel. */
  static void paint_full_resolution(const Component &comp, const cv::Mat &layer, cv::Point origin,
                                    const std::vector<Ink> &inks, int c) {
    for (int y = 0; y < layer.rows; ++y) {
      const guint8 *ink_row = layer.ptr<guint8>(y);
      guint8 *row = comp.data + static_cast<gsize>(origin.y + y) * comp.stride +
                    static_cast<gsize>(origin.x) * comp.pstride;
      for (int x = 0; x < layer.cols; ++x) {
        const guint8 ink = ink_row[x];
        if (ink == 0 || ink >= inks.size())
          continue;
        guint8 *sample = row + static_cast<gsize>(x) * comp.pstride;
        const int original = *sample;
        *sample = static_cast<guint8>(
            original + div_round((inks[ink].value[c] - original) * inks[ink].weight, 256));
      }
    }
  }

  void paint_subsampled(const Component &comp, const cv::Mat &layer, cv::Point origin,
                        const std::vector<Ink> &inks, int c) const {
    const int lx0 = origin.x, ly0 = origin.y;
    const int lx1 = origin.x + layer.cols, ly1 = origin.y + layer.rows;
    for (int sy = ly0 >> comp.h_sub; sy <= (ly1 - 1) >> comp.h_sub; ++sy) {
      const int by0 = sy << comp.h_sub, by1 = std::min((sy + 1) << comp.h_sub, height_);
      guint8 *row = comp.data + static_cast<gsize>(sy) * comp.stride;
      for (int sx = lx0 >> comp.w_sub; sx <= (lx1 - 1) >> comp.w_sub; ++sx) {
        const int bx0 = sx << comp.w_sub, bx1 = std::min((sx + 1) << comp.w_sub, width_);
        guint8 *sample = row + static_cast<gsize>(sx) * comp.pstride;
        const int original = *sample;
        int delta = 0;
        bool touched = false;
        for (int y = std::max(by0, ly0); y < std::min(by1, ly1); ++y) {
          const guint8 *layer_row = layer.ptr<guint8>(y - ly0);
          for (int x = std::max(bx0, lx0); x < std::min(bx1, lx1); ++x) {
            const guint8 ink = layer_row[x - lx0];
            if (ink == 0 || ink >= inks.size())
              continue;
            touched = true;
            delta += (inks[ink].value[c] - original) * inks[ink].weight;
          }
        }
        if (touched) {
          const int block = (bx1 - bx0) * (by1 - by0);
          *sample = static_cast<guint8>(original + div_round(delta, 256 * block));
        }
      }
    }
  }

  int width_;
  int height_;
  std::array<Component, 3> components_{};
  bool yuv_ = false;
  gdouble kr_ = 0.299, kb_ = 0.114;
  gint range_offset_[GST_VIDEO_MAX_COMPONENTS] = {};
  gint range_scale_[GST_VIDEO_MAX_COMPONENTS] = {};
};

/* Frame-space geometry of a meta whose boxes may refer to another frame size (a meta that
 * crossed a scaler without a SCALE transform). */
struct Geometry {
  int width;
  int height;
  double sx;
  double sy;
};

/* The pixels covered by an instance's mask (values >= 128, as GST_SAM3_MASK_BINARY), as a
 * 0/1 image of the part of the mask rect that lies in the frame. Nearest-neighbour sampling
 * of the cropped mask over only that rect: no frame-sized render per instance. */
struct Coverage {
  cv::Mat mask;
  cv::Point origin;
};

/* Pixel columns [begin, end) whose centres fall in [start, start + length) of meta space. */
std::pair<int, int> pixel_span(double start, double length, double scale, int limit) {
  const double first = std::ceil(start * scale - 0.5);
  const double last = std::ceil((start + length) * scale - 0.5);
  return {static_cast<int>(std::clamp(first, 0.0, static_cast<double>(limit))),
          static_cast<int>(std::clamp(last, 0.0, static_cast<double>(limit)))};
}

std::vector<int> sample_index(int begin, int end, double start, double length, double scale,
                              guint samples) {
  std::vector<int> index(static_cast<size_t>(end - begin));
  for (int p = begin; p < end; ++p) {
    const double along = ((p + 0.5) / scale - start) / length;
    index[p - begin] =
        std::clamp(static_cast<int>(std::floor(along * samples)), 0, static_cast<int>(samples) - 1);
  }
  return index;
}

bool mask_coverage(GstSam3Overlay *self, const GstSam3Instance &instance, const Geometry &g,
                   Coverage *out) {
  const GstVideoRectangle &rect = instance.mask_rect;
  if (instance.mask == nullptr || instance.mask_width == 0 || instance.mask_height == 0 ||
      rect.w <= 0 || rect.h <= 0)
    return false;
  const auto [x0, x1] = pixel_span(rect.x, rect.w, g.sx, g.width);
  const auto [y0, y1] = pixel_span(rect.y, rect.h, g.sy, g.height);
  if (x0 >= x1 || y0 >= y1)
    return false;

  GstMapInfo map;
  if (!gst_buffer_map(instance.mask, &map, GST_MAP_READ)) {
    GST_WARNING_OBJECT(self, "cannot map the mask of instance %u", instance.instance_id);
    return false;
  }
  const gsize needed = static_cast<gsize>(instance.mask_width) * instance.mask_height;
  if (map.size < needed) {
    GST_WARNING_OBJECT(
        self, "mask of instance %u holds %" G_GSIZE_FORMAT " bytes, %ux%u needs %" G_GSIZE_FORMAT,
        instance.instance_id, map.size, instance.mask_width, instance.mask_height, needed);
    gst_buffer_unmap(instance.mask, &map);
    return false;
  }

  const std::vector<int> cols = sample_index(x0, x1, rect.x, rect.w, g.sx, instance.mask_width);
  const std::vector<int> rows = sample_index(y0, y1, rect.y, rect.h, g.sy, instance.mask_height);
  cv::Mat mask(y1 - y0, x1 - x0, CV_8UC1);
  bool any = false;
  for (int r = 0; r < mask.rows; ++r) {
    const guint8 *src = map.data + static_cast<gsize>(rows[r]) * instance.mask_width;
    guint8 *dst = mask.ptr<guint8>(r);
    for (int c = 0; c < mask.cols; ++c) {
      dst[c] = src[cols[c]] >= 128 ? 1 : 0;
      any = any || dst[c] != 0;
    }
  }
  gst_buffer_unmap(instance.mask, &map);
  if (!any)
    return false;
  out->mask = mask;
  out->origin = {x0, y0};
  return true;
}

/* The box as inclusive pixel corners. Coordinates are clamped to just outside the frame
 * (where nothing is drawn) so that absurd boxes cannot overflow OpenCV's int geometry. */
bool frame_box(const GstSam3Instance &instance, const Geometry &g, int margin, cv::Point *tl,
               cv::Point *br) {
  if (!std::isfinite(instance.x) || !std::isfinite(instance.y) || !std::isfinite(instance.w) ||
      !std::isfinite(instance.h) || instance.w <= 0.0f || instance.h <= 0.0f)
    return false;
  const auto clamp_to = [margin](double v, int size) {
    return static_cast<int>(
        std::clamp(v, -static_cast<double>(margin), static_cast<double>(size - 1 + margin)));
  };
  const double left = std::floor(instance.x * g.sx);
  const double top = std::floor(instance.y * g.sy);
  const double right = std::max(left, std::ceil((instance.x + instance.w) * g.sx) - 1.0);
  const double bottom = std::max(top, std::ceil((instance.y + instance.h) * g.sy) - 1.0);
  *tl = {clamp_to(left, g.width), clamp_to(top, g.height)};
  *br = {clamp_to(right, g.width), clamp_to(bottom, g.height)};
  return true;
}

/* What one instance contributes to the frame, gathered before anything is drawn so that all
 * fills lie under all lines and labels. */
struct Drawable {
  const GstSam3Instance *instance;
  Rgb colour;
  std::vector<std::vector<cv::Point>> contours;
};

ComponentValues text_values(const FramePainter &painter, Rgb background) {
  const int luma = (299 * background.r + 587 * background.g + 114 * background.b) / 1000;
  return painter.values_of(luma > 140 ? Rgb{0, 0, 0} : Rgb{255, 255, 255});
}

/* Contours, box and label of one instance, drawn as ink indices into a layer that spans
 * exactly what they touch, then painted solid. */
void draw_strokes(FramePainter &painter, const Geometry &g, const Settings &s, const Drawable &d) {
  const int lw = static_cast<int>(s.line_width);
  const cv::Rect frame_rect(0, 0, g.width, g.height);
  cv::Rect extent;
  const auto include = [&extent](const cv::Rect &r) { extent = extent.empty() ? r : extent | r; };

  const bool contours = s.draw_contours && !d.contours.empty();
  if (contours) {
    for (const auto &contour : d.contours) {
      const cv::Rect r = cv::boundingRect(contour);
      include({r.x - lw, r.y - lw, r.width + 2 * lw, r.height + 2 * lw});
    }
  }

  cv::Point tl, br;
  const bool has_box = frame_box(*d.instance, g, lw + 2, &tl, &br);
  const bool box = s.draw_boxes && has_box;
  if (box)
    include({tl.x - lw, tl.y - lw, br.x - tl.x + 1 + 2 * lw, br.y - tl.y + 1 + 2 * lw});

  const bool label = s.draw_labels && has_box;
  std::string text;
  cv::Rect label_rect;
  cv::Point text_origin;
  int text_thickness = 1;
  if (label) {
    text = label_text(*d.instance);
    text_thickness = std::max(1, static_cast<int>(std::lround(s.font_scale * 2.0)));
    int baseline = 0;
    const cv::Size size = cv::getTextSize(text, kFont, s.font_scale, text_thickness, &baseline);
    const int pad = text_thickness;
    const int w = size.width + 2 * pad, h = size.height + baseline + 2 * pad;
    /* Above the box; inside its top when there is no room above; always on the frame. */
    const int x = std::clamp(tl.x, 0, std::max(0, g.width - w));
    const int above = tl.y - h;
    const int y = std::clamp(above >= 0 ? above : tl.y, 0, std::max(0, g.height - h));
    label_rect = {x, y, w, h};
    text_origin = {x + pad, y + pad + size.height};
    include(label_rect);
  }

  const cv::Rect area = extent & frame_rect;
  if (area.empty())
    return;
  cv::Mat layer = cv::Mat::zeros(area.size(), CV_8UC1);
  const cv::Point shift = -area.tl();
  if (contours)
    cv::drawContours(layer, d.contours, -1, cv::Scalar(1), lw, cv::LINE_8, cv::noArray(), INT_MAX,
                     shift);
  if (box)
    cv::rectangle(layer, tl + shift, br + shift, cv::Scalar(1), lw, cv::LINE_8);
  if (label) {
    cv::rectangle(layer, label_rect + shift, cv::Scalar(1), cv::FILLED, cv::LINE_8);
    cv::putText(layer, text, text_origin + shift, kFont, s.font_scale, cv::Scalar(2),
                text_thickness, cv::LINE_8);
  }
  const std::vector<Ink> inks = {
      {{}, 0}, {painter.values_of(d.colour), 256}, {text_values(painter, d.colour), 256}};
  painter.paint(layer, area.tl(), inks);
}

void draw_meta(GstSam3Overlay *self, GstVideoFrame *frame, GstSam3Meta *meta, const Settings &s) {
  FramePainter painter(frame);
  Geometry g{painter.width(), painter.height(), 1.0, 1.0};
  if (meta->frame_width > 0 && meta->frame_height > 0) {
    g.sx = static_cast<double>(g.width) / meta->frame_width;
    g.sy = static_cast<double>(g.height) / meta->frame_height;
  }
  const int weight = mask_weight(s);
  const bool fill = s.draw_masks && weight > 0;

  std::vector<Drawable> drawables;
  const guint n = gst_sam3_meta_get_n_instances(meta);
  for (guint i = 0; i < n; ++i) {
    const GstSam3Instance *instance = gst_sam3_meta_get_instance(meta, i);
    if (instance == nullptr || !visible(*instance, s))
      continue;
    Drawable d{instance, instance_colour(*instance), {}};
    Coverage coverage;
    if ((fill || s.draw_contours) && mask_coverage(self, *instance, g, &coverage)) {
      if (fill)
        painter.paint(coverage.mask, coverage.origin,
                      {{{}, 0}, {painter.values_of(d.colour), weight}});
      if (s.draw_contours)
        cv::findContours(coverage.mask, d.contours, cv::RETR_LIST, cv::CHAIN_APPROX_NONE,
                         coverage.origin);
    }
    drawables.push_back(std::move(d));
  }
  for (const Drawable &d : drawables)
    draw_strokes(painter, g, s, d);
}

bool has_drawable_instance(GstBuffer *buffer, const Settings &s) {
  if (!draws_anything(s))
    return false;
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buffer);
  if (meta == nullptr)
    return false;
  const guint n = gst_sam3_meta_get_n_instances(meta);
  for (guint i = 0; i < n; ++i) {
    const GstSam3Instance *instance = gst_sam3_meta_get_instance(meta, i);
    if (instance != nullptr && visible(*instance, s))
      return true;
  }
  return false;
}

} // namespace

struct _GstSam3Overlay {
  GstVideoFilter parent;

  /* Properties; guarded by the object lock. */
  Settings settings;

  /* Streaming thread only: the settings latched for the buffer in flight, and whether it
   * has anything to draw. */
  Settings latched;
  gboolean draw_current;
};

enum {
  PROP_0,
  PROP_DRAW_MASKS,
  PROP_DRAW_CONTOURS,
  PROP_DRAW_BOXES,
  PROP_DRAW_LABELS,
  PROP_MASK_ALPHA,
  PROP_LINE_WIDTH,
  PROP_FONT_SCALE,
  PROP_MIN_SCORE,
};

#define OVERLAY_CAPS GST_VIDEO_CAPS_MAKE("{ RGBA, BGRA, RGBx, BGRx, RGB, BGR, I420, NV12 }")

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(OVERLAY_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(OVERLAY_CAPS));

#define gst_sam3_overlay_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE(GstSam3Overlay, gst_sam3_overlay, GST_TYPE_VIDEO_FILTER,
                        GST_DEBUG_CATEGORY_INIT(gst_sam3_overlay_debug, "sam3overlay", 0,
                                                "SAM 3 instance overlay"));
GST_ELEMENT_REGISTER_DEFINE(sam3overlay, "sam3overlay", GST_RANK_NONE, GST_TYPE_SAM3_OVERLAY);

static void gst_sam3_overlay_set_property(GObject *object, guint prop_id, const GValue *value,
                                          GParamSpec *pspec) {
  GstSam3Overlay *self = GST_SAM3_OVERLAY(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
  case PROP_DRAW_MASKS:
    self->settings.draw_masks = g_value_get_boolean(value);
    break;
  case PROP_DRAW_CONTOURS:
    self->settings.draw_contours = g_value_get_boolean(value);
    break;
  case PROP_DRAW_BOXES:
    self->settings.draw_boxes = g_value_get_boolean(value);
    break;
  case PROP_DRAW_LABELS:
    self->settings.draw_labels = g_value_get_boolean(value);
    break;
  case PROP_MASK_ALPHA:
    self->settings.mask_alpha = g_value_get_double(value);
    break;
  case PROP_LINE_WIDTH:
    self->settings.line_width = g_value_get_uint(value);
    break;
  case PROP_FONT_SCALE:
    self->settings.font_scale = g_value_get_double(value);
    break;
  case PROP_MIN_SCORE:
    self->settings.min_score = g_value_get_double(value);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_sam3_overlay_get_property(GObject *object, guint prop_id, GValue *value,
                                          GParamSpec *pspec) {
  GstSam3Overlay *self = GST_SAM3_OVERLAY(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
  case PROP_DRAW_MASKS:
    g_value_set_boolean(value, self->settings.draw_masks);
    break;
  case PROP_DRAW_CONTOURS:
    g_value_set_boolean(value, self->settings.draw_contours);
    break;
  case PROP_DRAW_BOXES:
    g_value_set_boolean(value, self->settings.draw_boxes);
    break;
  case PROP_DRAW_LABELS:
    g_value_set_boolean(value, self->settings.draw_labels);
    break;
  case PROP_MASK_ALPHA:
    g_value_set_double(value, self->settings.mask_alpha);
    break;
  case PROP_LINE_WIDTH:
    g_value_set_uint(value, self->settings.line_width);
    break;
  case PROP_FONT_SCALE:
    g_value_set_double(value, self->settings.font_scale);
    break;
  case PROP_MIN_SCORE:
    g_value_set_double(value, self->settings.min_score);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK(self);
}

/* Decides per buffer, before the base class would make it writable (a copy when the buffer
 * is shared): with nothing to draw the input buffer itself goes on. */
static GstFlowReturn gst_sam3_overlay_prepare_output_buffer(GstBaseTransform *trans,
                                                            GstBuffer *input, GstBuffer **output) {
  GstSam3Overlay *self = GST_SAM3_OVERLAY(trans);
  GST_OBJECT_LOCK(self);
  self->latched = self->settings;
  GST_OBJECT_UNLOCK(self);

  self->draw_current = has_drawable_instance(input, self->latched);
  if (!self->draw_current) {
    GST_LOG_OBJECT(self, "nothing to draw on %" GST_PTR_FORMAT, input);
    *output = input;
    return GST_FLOW_OK;
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->prepare_output_buffer(trans, input, output);
}

/* GstVideoFilter maps the frame writable before transform_frame_ip; skip that mapping for
 * buffers that were passed on untouched. */
static GstFlowReturn gst_sam3_overlay_transform_ip(GstBaseTransform *trans, GstBuffer *buffer) {
  GstSam3Overlay *self = GST_SAM3_OVERLAY(trans);
  if (!self->draw_current)
    return GST_FLOW_OK;
  return GST_BASE_TRANSFORM_CLASS(parent_class)->transform_ip(trans, buffer);
}

static GstFlowReturn gst_sam3_overlay_transform_frame_ip(GstVideoFilter *filter,
                                                         GstVideoFrame *frame) {
  GstSam3Overlay *self = GST_SAM3_OVERLAY(filter);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(frame->buffer);
  if (meta != nullptr)
    draw_meta(self, frame, meta, self->latched);
  return GST_FLOW_OK;
}

static void gst_sam3_overlay_class_init(GstSam3OverlayClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS(klass);

  gobject_class->set_property = gst_sam3_overlay_set_property;
  gobject_class->get_property = gst_sam3_overlay_get_property;

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              GST_PARAM_MUTABLE_PLAYING);
  g_object_class_install_property(
      gobject_class, PROP_DRAW_MASKS,
      g_param_spec_boolean("draw-masks", "Draw masks",
                           "Blend each instance's mask over the frame in its colour",
                           kDefaultDrawMasks, flags));
  g_object_class_install_property(
      gobject_class, PROP_DRAW_CONTOURS,
      g_param_spec_boolean("draw-contours", "Draw contours",
                           "Outline each instance's mask (line-width pixels wide)",
                           kDefaultDrawContours, flags));
  g_object_class_install_property(
      gobject_class, PROP_DRAW_BOXES,
      g_param_spec_boolean("draw-boxes", "Draw boxes",
                           "Draw each instance's bounding box (line-width pixels wide)",
                           kDefaultDrawBoxes, flags));
  g_object_class_install_property(
      gobject_class, PROP_DRAW_LABELS,
      g_param_spec_boolean("draw-labels", "Draw labels",
                           "Write \"label #track-id score\" above each box (#track-id only "
                           "once the instance is tracked)",
                           kDefaultDrawLabels, flags));
  g_object_class_install_property(
      gobject_class, PROP_MASK_ALPHA,
      g_param_spec_double("mask-alpha", "Mask alpha",
                          "Opacity of the mask fill: 0 leaves the frame as it is, 1 paints the "
                          "instance colour",
                          0.0, 1.0, kDefaultMaskAlpha, flags));
  g_object_class_install_property(gobject_class, PROP_LINE_WIDTH,
                                  g_param_spec_uint("line-width", "Line width",
                                                    "Width in pixels of contours and boxes", 1, 64,
                                                    kDefaultLineWidth, flags));
  g_object_class_install_property(
      gobject_class, PROP_FONT_SCALE,
      g_param_spec_double("font-scale", "Font scale",
                          "Size of the label text (1.0 is about 22 pixels high)", 0.1, 10.0,
                          kDefaultFontScale, flags));
  g_object_class_install_property(gobject_class, PROP_MIN_SCORE,
                                  g_param_spec_double("min-score", "Minimum score",
                                                      "Instances scoring below this are not drawn",
                                                      0.0, 1.0, kDefaultMinScore, flags));

  gst_element_class_set_static_metadata(
      element_class, "SAM 3 overlay", "Filter/Analyzer/Visualization/Video",
      "Draws SAM 3 instances (masks, contours, boxes, labels with track ids and scores) "
      "from GstSam3Meta onto raw video",
      "gst-sam3 developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

  trans_class->prepare_output_buffer = GST_DEBUG_FUNCPTR(gst_sam3_overlay_prepare_output_buffer);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_sam3_overlay_transform_ip);
  filter_class->transform_frame_ip = GST_DEBUG_FUNCPTR(gst_sam3_overlay_transform_frame_ip);
}

static void gst_sam3_overlay_init(GstSam3Overlay *self) {
  self->settings = {kDefaultDrawMasks, kDefaultDrawContours, kDefaultDrawBoxes, kDefaultDrawLabels,
                    kDefaultMaskAlpha, kDefaultLineWidth,    kDefaultFontScale, kDefaultMinScore};
  self->latched = self->settings;
  self->draw_current = FALSE;
}
