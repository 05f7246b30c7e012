/* gst-sam3: instance masks, stored cropped to their rectangle and rendered onto any frame
 * size (docs/metadata.md, "Data model").
 */
#include "gstsam3meta-private.h"

#include <math.h>
#include <string.h>

GType gst_sam3_mask_mode_get_type(void) {
  static gsize type = 0;
  static const GEnumValue values[] = {
      {GST_SAM3_MASK_BINARY, "GST_SAM3_MASK_BINARY", "binary"},
      {GST_SAM3_MASK_ALPHA, "GST_SAM3_MASK_ALPHA", "alpha"},
      {0, NULL, NULL},
  };

  if (g_once_init_enter(&type)) {
    GType t = g_enum_register_static("GstSam3MaskMode", values);
    g_once_init_leave(&type, t);
  }
  return (GType)type;
}

/* The rectangle a mask covers when the caller gives none: the box, grown to whole pixels. */
static GstVideoRectangle box_rect(const GstSam3Instance *instance) {
  GstVideoRectangle r;
  gdouble x0 = floor(instance->x), y0 = floor(instance->y);
  gdouble x1 = ceil((gdouble)instance->x + instance->w);
  gdouble y1 = ceil((gdouble)instance->y + instance->h);

  r.x = (gint)x0;
  r.y = (gint)y0;
  r.w = (gint)MAX(x1 - x0, 0);
  r.h = (gint)MAX(y1 - y0, 0);
  return r;
}

static void instance_drop_mask(GstSam3Instance *instance) {
  gst_clear_buffer(&instance->mask);
  instance->mask_width = 0;
  instance->mask_height = 0;
  memset(&instance->mask_rect, 0, sizeof(instance->mask_rect));
}

/**
 * gst_sam3_instance_set_mask:
 * @instance: a #GstSam3Instance
 * @mask: (nullable) (transfer none): GRAY8 samples, rows packed, at least
 *   @mask_width * @mask_height bytes; %NULL removes the mask
 * @mask_width: mask width in samples
 * @mask_height: mask height in samples
 * @mask_rect: (nullable): where the mask lies on the frame, in frame pixels; %NULL: the
 *   box rounded outwards to whole pixels
 *
 * Sets the instance's mask, taking a reference on @mask. A mask of zero width or height
 * is stored as no mask.
 *
 * Returns: %FALSE (and leaves the instance unchanged) when @mask is smaller than
 *   @mask_width * @mask_height bytes
 */
gboolean gst_sam3_instance_set_mask(GstSam3Instance *instance, GstBuffer *mask, guint mask_width,
                                    guint mask_height, const GstVideoRectangle *mask_rect) {
  g_return_val_if_fail(instance != NULL, FALSE);
  g_return_val_if_fail(mask == NULL || GST_IS_BUFFER(mask), FALSE);

  if (mask == NULL || mask_width == 0 || mask_height == 0) {
    instance_drop_mask(instance);
    return TRUE;
  }
  if (gst_buffer_get_size(mask) < (guint64)mask_width * mask_height) {
    GST_WARNING("mask buffer of %" G_GSIZE_FORMAT " bytes is smaller than %ux%u",
                gst_buffer_get_size(mask), mask_width, mask_height);
    return FALSE;
  }

  gst_buffer_ref(mask);
  gst_clear_buffer(&instance->mask);
  instance->mask = mask;
  instance->mask_width = mask_width;
  instance->mask_height = mask_height;
  instance->mask_rect = mask_rect ? *mask_rect : box_rect(instance);
  return TRUE;
}

GstBuffer *gst_sam3_new_gray8_buffer(guint width, guint height) {
  GstBuffer *buffer = gst_buffer_new_allocate(NULL, (gsize)width * height, NULL);
  gsize offset[GST_VIDEO_MAX_PLANES] = {0};
  gint stride[GST_VIDEO_MAX_PLANES] = {(gint)width};

  /* A video meta lets generic video code (and upstream's segmentation meta) read the
   * mask; the explicit stride records that rows are packed. */
  gst_buffer_add_video_meta_full(buffer, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_FORMAT_GRAY8, width,
                                 height, 1, offset, stride);
  return buffer;
}

/**
 * gst_sam3_instance_set_mask_data: (skip)
 * @instance: a #GstSam3Instance
 * @data: (nullable): GRAY8 samples, @mask_height rows @stride bytes apart
 * @mask_width: mask width in samples
 * @mask_height: mask height in samples
 * @stride: bytes from one row of @data to the next, at least @mask_width
 * @mask_rect: (nullable): where the mask lies on the frame; %NULL: the box
 *
 * Like gst_sam3_instance_set_mask(), copying @data into a new packed buffer.
 *
 * Returns: %FALSE (and leaves the instance unchanged) when @stride is below @mask_width
 */
gboolean gst_sam3_instance_set_mask_data(GstSam3Instance *instance, const guint8 *data,
                                         guint mask_width, guint mask_height, gint stride,
                                         const GstVideoRectangle *mask_rect) {
  GstBuffer *buffer;
  GstMapInfo map;
  gboolean ok;
  guint row;

  g_return_val_if_fail(instance != NULL, FALSE);

  if (data == NULL || mask_width == 0 || mask_height == 0)
    return gst_sam3_instance_set_mask(instance, NULL, 0, 0, NULL);
  if (stride < 0 || (guint)stride < mask_width) {
    GST_WARNING("stride %d is smaller than the mask width %u", stride, mask_width);
    return FALSE;
  }

  buffer = gst_sam3_new_gray8_buffer(mask_width, mask_height);
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  for (row = 0; row < mask_height; row++)
    memcpy(map.data + (gsize)row * mask_width, data + (gsize)row * stride, mask_width);
  gst_buffer_unmap(buffer, &map);

  ok = gst_sam3_instance_set_mask(instance, buffer, mask_width, mask_height, mask_rect);
  gst_buffer_unref(buffer);
  return ok;
}

/* For each of @n output samples, the mask sample it shows, or -1 outside the rectangle.
 * Output sample i covers frame coordinate (i + 0.5) * frame_size / n (nearest neighbour). */
static gint *sample_map(guint n, guint frame_size, gint rect_start, gint rect_size,
                        guint mask_size) {
  gint *map = g_new(gint, n);
  guint i;

  for (i = 0; i < n; i++) {
    gdouble f = (i + 0.5) * frame_size / n;
    gdouble rel = f - rect_start;

    if (rect_size <= 0 || rel < 0 || rel >= rect_size) {
      map[i] = -1;
    } else {
      gint m = (gint)floor(rel * mask_size / rect_size);
      map[i] = CLAMP(m, 0, (gint)mask_size - 1);
    }
  }
  return map;
}

/**
 * gst_sam3_instance_render_mask: (skip)
 * @instance: a #GstSam3Instance
 * @frame_width: width of the frame the instance's coordinates refer to (usually the
 *   meta's frame_width)
 * @frame_height: height of that frame
 * @mode: binary or alpha output
 * @dest: the output, @height rows of @width bytes, @stride bytes apart
 * @width: output width; the frame is stretched to it
 * @height: output height
 * @stride: bytes between output rows, at least @width
 *
 * Renders the mask as it falls on the frame, with nearest-neighbour sampling. Output
 * pixels whose frame position lies outside the mask rectangle are 0; parts of the
 * rectangle outside the frame are clipped away.
 *
 * Returns: %FALSE (having written zeros) when the instance has no mask or the frame size
 *   is 0
 */
gboolean gst_sam3_instance_render_mask(const GstSam3Instance *instance, guint frame_width,
                                       guint frame_height, GstSam3MaskMode mode, guint8 *dest,
                                       guint width, guint height, gint stride) {
  GstMapInfo map;
  gint *cols, *rows;
  guint ox, oy;

  g_return_val_if_fail(instance != NULL, FALSE);
  g_return_val_if_fail(dest != NULL || width == 0 || height == 0, FALSE);
  g_return_val_if_fail(stride >= 0 && (guint)stride >= width, FALSE);

  for (oy = 0; oy < height; oy++)
    memset(dest + (gsize)oy * stride, 0, width);

  if (!instance->mask || instance->mask_width == 0 || instance->mask_height == 0 ||
      frame_width == 0 || frame_height == 0)
    return FALSE;
  if (width == 0 || height == 0)
    return TRUE;
  if (!gst_buffer_map(instance->mask, &map, GST_MAP_READ))
    return FALSE;
  if (map.size < (gsize)instance->mask_width * instance->mask_height) {
    gst_buffer_unmap(instance->mask, &map);
    return FALSE;
  }

  cols = sample_map(width, frame_width, instance->mask_rect.x, instance->mask_rect.w,
                    instance->mask_width);
  rows = sample_map(height, frame_height, instance->mask_rect.y, instance->mask_rect.h,
                    instance->mask_height);
  for (oy = 0; oy < height; oy++) {
    const guint8 *src;
    guint8 *out;

    if (rows[oy] < 0)
      continue;
    src = map.data + (gsize)rows[oy] * instance->mask_width;
    out = dest + (gsize)oy * stride;
    for (ox = 0; ox < width; ox++) {
      guint8 v;
      if (cols[ox] < 0)
        continue;
      v = src[cols[ox]];
      out[ox] = mode == GST_SAM3_MASK_ALPHA ? v : (v >= MASK_ON_THRESHOLD ? 255 : 0);
    }
  }
  g_free(cols);
  g_free(rows);
  gst_buffer_unmap(instance->mask, &map);
  return TRUE;
}

/**
 * gst_sam3_instance_render_mask_buffer:
 * @instance: a #GstSam3Instance
 * @frame_width: width of the frame the instance's coordinates refer to
 * @frame_height: height of that frame
 * @mode: binary or alpha output
 * @width: output width
 * @height: output height
 *
 * Like gst_sam3_instance_render_mask(), into a new GRAY8 buffer with packed rows (and a
 * #GstVideoMeta saying so).
 *
 * Returns: (transfer full) (nullable): the rendered mask, or %NULL when the instance has
 *   no mask, the frame size is 0, or @width or @height is 0
 */
GstBuffer *gst_sam3_instance_render_mask_buffer(const GstSam3Instance *instance, guint frame_width,
                                                guint frame_height, GstSam3MaskMode mode,
                                                guint width, guint height) {
  GstBuffer *buffer;
  GstMapInfo map;
  gboolean ok;

  g_return_val_if_fail(instance != NULL, NULL);

  if (!instance->mask || width == 0 || height == 0)
    return NULL;
  if (width > G_MAXINT)
    return NULL;

  buffer = gst_sam3_new_gray8_buffer(width, height);
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  ok = gst_sam3_instance_render_mask(instance, frame_width, frame_height, mode, map.data, width,
                                     height, (gint)width);
  gst_buffer_unmap(buffer, &map);
  if (!ok)
    gst_clear_buffer(&buffer);
  return buffer;
}
