/* gst-sam3: the metadata contract between sam3 elements and applications.
 *
 * The model, the transform rules and the JSON schema are documented in docs/metadata.md;
 * keep the two in step.
 */
#include "gstsam3meta.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC(sam3meta_debug);
#define GST_CAT_DEFAULT sam3meta_debug

/* A JSON mask may not claim more samples than this: its counts are decoded into a buffer
 * of that size, so the limit is what keeps a hostile document from allocating gigabytes. */
#define MAX_JSON_MASK_SAMPLES (1u << 24)

#define RLE_ENCODING "rle-binary"

/* Mask samples at or above this value are "inside" (BINARY rendering and the RLE). */
#define MASK_ON_THRESHOLD 128

/**
 * SECTION:gstsam3meta
 * @title: GstSam3Meta
 * @short_description: SAM 3 instances, masks and track ids on GStreamer buffers
 *
 * One #GstSam3Meta per buffer holds the frame's segmented instances (#GstSam3Instance):
 * label, score, box in frame pixels, a GRAY8 mask cropped to its placement rectangle,
 * track id and provenance, plus the prompts active on the frame. The meta survives
 * copies (mask buffers are shared by reference) and video scaling (boxes and mask
 * rectangles are rescaled). It can be mirrored into #GstVideoRegionOfInterestMeta for
 * generic consumers and serialised to and from JSON (schema #GST_SAM3_JSON_SCHEMA).
 */

/**
 * gst_sam3_meta_error_quark:
 *
 * Returns: the #GST_SAM3_META_ERROR error domain
 */
GQuark gst_sam3_meta_error_quark(void) {
  return g_quark_from_static_string("gst-sam3-meta-error-quark");
}

GType gst_sam3_provenance_get_type(void) {
  static gsize type = 0;
  static const GEnumValue values[] = {
      {GST_SAM3_PROVENANCE_DETECTED, "GST_SAM3_PROVENANCE_DETECTED", "detected"},
      {GST_SAM3_PROVENANCE_PROPAGATED, "GST_SAM3_PROVENANCE_PROPAGATED", "propagated"},
      {GST_SAM3_PROVENANCE_PROMPTED, "GST_SAM3_PROVENANCE_PROMPTED", "prompted"},
      {0, NULL, NULL},
  };

  if (g_once_init_enter(&type)) {
    GType t = g_enum_register_static("GstSam3Provenance", values);
    g_once_init_leave(&type, t);
  }
  return (GType)type;
}

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

GType gst_sam3_meta_error_get_type(void) {
  static gsize type = 0;
  static const GEnumValue values[] = {
      {GST_SAM3_META_ERROR_PARSE, "GST_SAM3_META_ERROR_PARSE", "parse"},
      {GST_SAM3_META_ERROR_SCHEMA, "GST_SAM3_META_ERROR_SCHEMA", "schema"},
      {GST_SAM3_META_ERROR_INVALID, "GST_SAM3_META_ERROR_INVALID", "invalid"},
      {0, NULL, NULL},
  };

  if (g_once_init_enter(&type)) {
    GType t = g_enum_register_static("GstSam3MetaError", values);
    g_once_init_leave(&type, t);
  }
  return (GType)type;
}

static const gchar *provenance_to_nick(GstSam3Provenance provenance) {
  GEnumClass *klass = g_type_class_ref(GST_TYPE_SAM3_PROVENANCE);
  GEnumValue *value = g_enum_get_value(klass, provenance);
  /* Enum classes of static types are never finalized, so the nick outlives the unref. */
  const gchar *nick = value ? value->value_nick : NULL;
  g_type_class_unref(klass);
  return nick;
}

static gboolean provenance_from_nick(const gchar *nick, GstSam3Provenance *provenance) {
  GEnumClass *klass = g_type_class_ref(GST_TYPE_SAM3_PROVENANCE);
  GEnumValue *value = g_enum_get_value_by_nick(klass, nick);
  if (value)
    *provenance = (GstSam3Provenance)value->value;
  g_type_class_unref(klass);
  return value != NULL;
}

/**
 * gst_sam3_meta_api_get_type:
 *
 * Returns: the #GType of the meta API, registered with the tags "video", "size" and
 *   "orientation" so that scaling elements call the SCALE transform instead of dropping it.
 */
GType gst_sam3_meta_api_get_type(void) {
  static gsize type = 0;
  static const gchar *tags[] = {GST_META_TAG_VIDEO_STR, GST_META_TAG_VIDEO_SIZE_STR,
                                GST_META_TAG_VIDEO_ORIENTATION_STR, NULL};

  if (g_once_init_enter(&type)) {
    GType t = gst_meta_api_type_register("GstSam3MetaAPI", tags);
    g_once_init_leave(&type, t);
  }
  return (GType)type;
}

static void instance_clear(gpointer data) {
  GstSam3Instance *instance = data;
  gst_clear_buffer(&instance->mask);
}

static gboolean sam3_meta_init(GstMeta *meta, gpointer params, GstBuffer *buffer) {
  GstSam3Meta *m = (GstSam3Meta *)meta;
  (void)params;
  (void)buffer;

  m->frame_width = 0;
  m->frame_height = 0;
  m->frame_number = 0;
  m->instances = g_array_new(FALSE, TRUE, sizeof(GstSam3Instance));
  g_array_set_clear_func(m->instances, instance_clear);
  m->prompts = g_ptr_array_new_with_free_func(g_free);
  m->handle = NULL;
  m->handle_ref = NULL;
  m->handle_unref = NULL;
  return TRUE;
}

static void sam3_meta_free(GstMeta *meta, GstBuffer *buffer) {
  GstSam3Meta *m = (GstSam3Meta *)meta;
  (void)buffer;

  g_clear_pointer(&m->instances, g_array_unref);
  g_clear_pointer(&m->prompts, g_ptr_array_unref);
  if (m->handle && m->handle_unref)
    m->handle_unref(m->handle);
  m->handle = NULL;
}

/* Scales the span [start, start + size) by edges, not by size, so adjacent rectangles stay
 * adjacent; a non-empty span never collapses to nothing, or its mask could not be drawn. */
static void scale_span(gint *start, gint *size, gdouble factor) {
  glong s = lround(*start * factor);
  glong e = lround(((gdouble)*start + *size) * factor);
  gboolean was_empty = *size <= 0;

  *start = (gint)s;
  *size = (gint)(e - s);
  if (!was_empty && *size < 1)
    *size = 1;
}

static GstSam3Meta *copy_scaled(GstBuffer *dest, const GstSam3Meta *src, gdouble sx, gdouble sy,
                                guint frame_width, guint frame_height) {
  GstSam3Meta *out = gst_buffer_add_sam3_meta(dest, frame_width, frame_height);
  guint i;

  if (!out)
    return NULL;
  out->frame_number = src->frame_number;
  for (i = 0; i < src->prompts->len; i++)
    g_ptr_array_add(out->prompts, g_strdup(g_ptr_array_index(src->prompts, i)));

  g_array_set_size(out->instances, src->instances->len);
  for (i = 0; i < src->instances->len; i++) {
    const GstSam3Instance *a = &g_array_index(src->instances, GstSam3Instance, i);
    GstSam3Instance *b = &g_array_index(out->instances, GstSam3Instance, i);

    *b = *a;
    if (a->mask)
      b->mask = gst_buffer_ref(a->mask);
    b->x = (gfloat)(a->x * sx);
    b->y = (gfloat)(a->y * sy);
    b->w = (gfloat)(a->w * sx);
    b->h = (gfloat)(a->h * sy);
    scale_span(&b->mask_rect.x, &b->mask_rect.w, sx);
    scale_span(&b->mask_rect.y, &b->mask_rect.h, sy);
  }

  if (src->handle) {
    out->handle = src->handle_ref ? src->handle_ref(src->handle) : src->handle;
    out->handle_ref = src->handle_ref;
    out->handle_unref = src->handle_unref;
  }
  return out;
}

static gboolean sam3_meta_transform(GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
                                    gpointer data) {
  GstSam3Meta *src = (GstSam3Meta *)meta;
  (void)buffer;

  if (GST_META_TRANSFORM_IS_COPY(type)) {
    /* Region copies keep everything too: boxes are in frame coordinates, not memory. */
    return copy_scaled(dest, src, 1.0, 1.0, src->frame_width, src->frame_height) != NULL;
  }

  if (GST_VIDEO_META_TRANSFORM_IS_SCALE(type)) {
    GstVideoMetaTransform *trans = data;
    gint in_w = GST_VIDEO_INFO_WIDTH(trans->in_info);
    gint in_h = GST_VIDEO_INFO_HEIGHT(trans->in_info);
    gint out_w = GST_VIDEO_INFO_WIDTH(trans->out_info);
    gint out_h = GST_VIDEO_INFO_HEIGHT(trans->out_info);
    gdouble sx, sy;

    if (in_w <= 0 || in_h <= 0 || out_w <= 0 || out_h <= 0)
      return FALSE;
    sx = (gdouble)out_w / in_w;
    sy = (gdouble)out_h / in_h;
    GST_LOG("scaling %ux%u meta by %f x %f", src->frame_width, src->frame_height, sx, sy);
    return copy_scaled(dest, src, sx, sy, (guint)lround(src->frame_width * sx),
                       (guint)lround(src->frame_height * sy)) != NULL;
  }

  GST_DEBUG("dropping meta on unsupported transform %s", g_quark_to_string(type));
  return FALSE;
}

/**
 * gst_sam3_meta_get_info:
 *
 * Returns: (transfer none): the #GstMetaInfo of #GstSam3Meta
 */
const GstMetaInfo *gst_sam3_meta_get_info(void) {
  static gsize info = 0;

  if (g_once_init_enter(&info)) {
    const GstMetaInfo *i;
    GST_DEBUG_CATEGORY_INIT(sam3meta_debug, "sam3meta", 0, "gst-sam3 metadata");
    i = gst_meta_register(GST_SAM3_META_API_TYPE, "GstSam3Meta", sizeof(GstSam3Meta),
                          sam3_meta_init, sam3_meta_free, sam3_meta_transform);
    g_once_init_leave(&info, (gsize)i);
  }
  return (const GstMetaInfo *)info;
}

/**
 * gst_buffer_add_sam3_meta:
 * @buffer: a writable #GstBuffer
 * @frame_width: width in pixels of the frame the boxes will refer to
 * @frame_height: height in pixels of the frame the boxes will refer to
 *
 * Adds an empty #GstSam3Meta to @buffer.
 *
 * Returns: (transfer none) (nullable): the new meta, owned by @buffer
 */
GstSam3Meta *gst_buffer_add_sam3_meta(GstBuffer *buffer, guint frame_width, guint frame_height) {
  GstSam3Meta *meta;

  g_return_val_if_fail(GST_IS_BUFFER(buffer), NULL);

  meta = (GstSam3Meta *)gst_buffer_add_meta(buffer, GST_SAM3_META_INFO, NULL);
  if (!meta)
    return NULL;
  meta->frame_width = frame_width;
  meta->frame_height = frame_height;
  return meta;
}

/**
 * gst_buffer_get_sam3_meta:
 * @buffer: a #GstBuffer
 *
 * Returns: (transfer none) (nullable): the first #GstSam3Meta on @buffer, or %NULL
 */
GstSam3Meta *gst_buffer_get_sam3_meta(GstBuffer *buffer) {
  g_return_val_if_fail(GST_IS_BUFFER(buffer), NULL);
  return (GstSam3Meta *)gst_buffer_get_meta(buffer, GST_SAM3_META_API_TYPE);
}

/**
 * gst_sam3_meta_add_prompt:
 * @meta: a #GstSam3Meta
 * @prompt: the concept text
 *
 * Appends a prompt (concept) to the frame's prompt list.
 *
 * Returns: the index of the new prompt, the value instances refer to as prompt_index
 */
guint gst_sam3_meta_add_prompt(GstSam3Meta *meta, const gchar *prompt) {
  g_return_val_if_fail(meta != NULL, 0);
  g_return_val_if_fail(prompt != NULL, 0);

  g_ptr_array_add(meta->prompts, g_strdup(prompt));
  return meta->prompts->len - 1;
}

/**
 * gst_sam3_meta_get_n_prompts:
 * @meta: a #GstSam3Meta
 *
 * Returns: the number of prompts on the frame
 */
guint gst_sam3_meta_get_n_prompts(GstSam3Meta *meta) {
  g_return_val_if_fail(meta != NULL, 0);
  return meta->prompts->len;
}

/**
 * gst_sam3_meta_get_prompt:
 * @meta: a #GstSam3Meta
 * @index: index of the prompt
 *
 * Returns: (transfer none) (nullable): the prompt text, or %NULL when @index is out of range
 */
const gchar *gst_sam3_meta_get_prompt(GstSam3Meta *meta, guint index) {
  g_return_val_if_fail(meta != NULL, NULL);
  if (index >= meta->prompts->len)
    return NULL;
  return g_ptr_array_index(meta->prompts, index);
}

/**
 * gst_sam3_meta_add_instance:
 * @meta: a #GstSam3Meta
 * @label: the concept (prompt text) the instance belongs to
 * @prompt_index: index of the concept in the frame's prompt list
 * @score: confidence in [0, 1]
 * @x: box left edge, frame pixels
 * @y: box top edge, frame pixels
 * @w: box width, frame pixels
 * @h: box height, frame pixels
 *
 * Appends an instance without a mask, with track id 0, provenance
 * %GST_SAM3_PROVENANCE_DETECTED and an instance id one above the largest on the frame.
 * The box is stored as given, even where it extends past the frame.
 *
 * Returns: (transfer none): the new instance; the pointer is valid until the next
 *   instance is added or removed
 */
GstSam3Instance *gst_sam3_meta_add_instance(GstSam3Meta *meta, const gchar *label,
                                            guint prompt_index, gfloat score, gfloat x, gfloat y,
                                            gfloat w, gfloat h) {
  GstSam3Instance instance;
  guint next_id = 0;
  guint i;

  g_return_val_if_fail(meta != NULL, NULL);
  g_return_val_if_fail(label != NULL, NULL);

  for (i = 0; i < meta->instances->len; i++) {
    guint id = g_array_index(meta->instances, GstSam3Instance, i).instance_id;
    if (id >= next_id)
      next_id = id + 1;
  }

  memset(&instance, 0, sizeof(instance));
  instance.instance_id = next_id;
  instance.label = g_quark_from_string(label);
  instance.prompt_index = prompt_index;
  instance.score = score;
  instance.x = x;
  instance.y = y;
  instance.w = w;
  instance.h = h;
  instance.provenance = GST_SAM3_PROVENANCE_DETECTED;
  g_array_append_val(meta->instances, instance);
  return &g_array_index(meta->instances, GstSam3Instance, meta->instances->len - 1);
}

/**
 * gst_sam3_meta_get_n_instances:
 * @meta: a #GstSam3Meta
 *
 * Returns: the number of instances on the frame
 */
guint gst_sam3_meta_get_n_instances(GstSam3Meta *meta) {
  g_return_val_if_fail(meta != NULL, 0);
  return meta->instances->len;
}

/**
 * gst_sam3_meta_get_instance:
 * @meta: a #GstSam3Meta
 * @index: position of the instance, 0 .. gst_sam3_meta_get_n_instances() - 1
 *
 * Returns: (transfer none) (nullable): the instance, or %NULL when @index is out of range
 */
GstSam3Instance *gst_sam3_meta_get_instance(GstSam3Meta *meta, guint index) {
  g_return_val_if_fail(meta != NULL, NULL);
  if (index >= meta->instances->len)
    return NULL;
  return &g_array_index(meta->instances, GstSam3Instance, index);
}

/**
 * gst_sam3_meta_remove_instance:
 * @meta: a #GstSam3Meta
 * @index: position of the instance
 *
 * Removes an instance (dropping its mask reference); later instances move down one
 * position and keep their instance ids.
 */
void gst_sam3_meta_remove_instance(GstSam3Meta *meta, guint index) {
  g_return_if_fail(meta != NULL);
  g_return_if_fail(index < meta->instances->len);
  g_array_remove_index(meta->instances, index);
}

/**
 * gst_sam3_meta_clear_instances:
 * @meta: a #GstSam3Meta
 *
 * Removes all instances; the prompts stay.
 */
void gst_sam3_meta_clear_instances(GstSam3Meta *meta) {
  g_return_if_fail(meta != NULL);
  g_array_set_size(meta->instances, 0);
}

/**
 * gst_sam3_instance_get_label:
 * @instance: a #GstSam3Instance
 *
 * Returns: (transfer none) (nullable): the label text, %NULL when the label quark is 0
 */
const gchar *gst_sam3_instance_get_label(const GstSam3Instance *instance) {
  g_return_val_if_fail(instance != NULL, NULL);
  return g_quark_to_string(instance->label);
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

static GstBuffer *new_gray8_buffer(guint width, guint height) {
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

  buffer = new_gray8_buffer(mask_width, mask_height);
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

  buffer = new_gray8_buffer(width, height);
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  ok = gst_sam3_instance_render_mask(instance, frame_width, frame_height, mode, map.data, width,
                                     height, (gint)width);
  gst_buffer_unmap(buffer, &map);
  if (!ok)
    gst_clear_buffer(&buffer);
  return buffer;
}

/**
 * gst_sam3_meta_attach_roi_metas:
 * @meta: a #GstSam3Meta
 * @buffer: the writable buffer to add the region-of-interest metas to (usually the
 *   buffer that carries @meta)
 *
 * Adds one #GstVideoRegionOfInterestMeta per instance, laid out as DL Streamer's legacy
 * metadata: roi_type = label quark, id = instance id, parent_id = -1, the box clipped to
 * the frame, and params "detection" (x_min, y_min, x_max, y_max normalised doubles,
 * confidence double, label_id int = prompt index) and, for tracked instances, "object_id"
 * (id int = track id). Masks are not carried there. Call once, after the instances are
 * final: each call adds a full set.
 */
void gst_sam3_meta_attach_roi_metas(GstSam3Meta *meta, GstBuffer *buffer) {
  guint i;

  g_return_if_fail(meta != NULL);
  g_return_if_fail(GST_IS_BUFFER(buffer));
  g_return_if_fail(gst_buffer_is_writable(buffer));
  g_return_if_fail(meta->frame_width > 0 && meta->frame_height > 0);

  for (i = 0; i < meta->instances->len; i++) {
    const GstSam3Instance *inst = &g_array_index(meta->instances, GstSam3Instance, i);
    gdouble fw = meta->frame_width, fh = meta->frame_height;
    /* ROI coordinates are unsigned and DL Streamer's normalised ones lie in [0, 1]. */
    gdouble x0 = CLAMP((gdouble)inst->x, 0.0, fw);
    gdouble y0 = CLAMP((gdouble)inst->y, 0.0, fh);
    gdouble x1 = CLAMP((gdouble)inst->x + inst->w, x0, fw);
    gdouble y1 = CLAMP((gdouble)inst->y + inst->h, y0, fh);
    glong px0 = lround(x0), py0 = lround(y0);
    GstVideoRegionOfInterestMeta *roi;
    GstStructure *detection;

    roi = gst_buffer_add_video_region_of_interest_meta_id(buffer, inst->label, (guint)px0,
                                                          (guint)py0, (guint)(lround(x1) - px0),
                                                          (guint)(lround(y1) - py0));
    roi->id = (gint)inst->instance_id;
    roi->parent_id = -1;

    detection = gst_structure_new(
        "detection", "x_min", G_TYPE_DOUBLE, x0 / fw, "y_min", G_TYPE_DOUBLE, y0 / fh, "x_max",
        G_TYPE_DOUBLE, x1 / fw, "y_max", G_TYPE_DOUBLE, y1 / fh, "confidence", G_TYPE_DOUBLE,
        (gdouble)inst->score, "label_id", G_TYPE_INT, (gint)inst->prompt_index, NULL);
    gst_video_region_of_interest_meta_add_param(roi, detection);

    if (inst->track_id != 0) {
      GstStructure *object_id;
      /* DL Streamer reads the id as a gint; ids beyond that range keep their value as a
       * guint64 rather than wrapping to a different id. */
      if (inst->track_id <= G_MAXINT)
        object_id = gst_structure_new("object_id", "id", G_TYPE_INT, (gint)inst->track_id, NULL);
      else
        object_id = gst_structure_new("object_id", "id", G_TYPE_UINT64, inst->track_id, NULL);
      gst_video_region_of_interest_meta_add_param(roi, object_id);
    }
  }
}

static void add_clock_time(JsonBuilder *b, const gchar *name, GstClockTime t) {
  json_builder_set_member_name(b, name);
  if (GST_CLOCK_TIME_IS_VALID(t))
    json_builder_add_int_value(b, (gint64)t);
  else
    json_builder_add_null_value(b);
}

/* Run lengths of the binarised mask, row-major, alternating off/on, starting with off. */
static void add_rle_counts(JsonBuilder *b, const guint8 *samples, gsize n) {
  gboolean on = FALSE;
  gint64 run = 0;
  gsize i;

  json_builder_begin_array(b);
  for (i = 0; i < n; i++) {
    gboolean s = samples[i] >= MASK_ON_THRESHOLD;
    if (s != on) {
      json_builder_add_int_value(b, run);
      on = s;
      run = 0;
    }
    run++;
  }
  json_builder_add_int_value(b, run);
  json_builder_end_array(b);
}

static void add_rect(JsonBuilder *b, gdouble x, gdouble y, gdouble w, gdouble h,
                     gboolean integral) {
  const gchar *names[] = {"x", "y", "w", "h"};
  gdouble values[] = {x, y, w, h};
  guint i;

  json_builder_begin_object(b);
  for (i = 0; i < G_N_ELEMENTS(names); i++) {
    json_builder_set_member_name(b, names[i]);
    if (integral)
      json_builder_add_int_value(b, (gint64)values[i]);
    else
      json_builder_add_double_value(b, values[i]);
  }
  json_builder_end_object(b);
}

static void add_mask(JsonBuilder *b, const GstSam3Instance *inst) {
  GstMapInfo map;
  gsize n = (gsize)inst->mask_width * inst->mask_height;

  if (!gst_buffer_map(inst->mask, &map, GST_MAP_READ))
    return;
  if (map.size >= n) {
    json_builder_set_member_name(b, "mask");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "width");
    json_builder_add_int_value(b, inst->mask_width);
    json_builder_set_member_name(b, "height");
    json_builder_add_int_value(b, inst->mask_height);
    json_builder_set_member_name(b, "rect");
    add_rect(b, inst->mask_rect.x, inst->mask_rect.y, inst->mask_rect.w, inst->mask_rect.h, TRUE);
    json_builder_set_member_name(b, "encoding");
    json_builder_add_string_value(b, RLE_ENCODING);
    json_builder_set_member_name(b, "counts");
    add_rle_counts(b, map.data, n);
    json_builder_end_object(b);
  }
  gst_buffer_unmap(inst->mask, &map);
}

/**
 * gst_sam3_meta_to_json:
 * @meta: a #GstSam3Meta
 * @buffer: (nullable): the buffer whose timestamps go into "frame"; %NULL: null times
 * @with_masks: whether to include the masks (run-length encoded, binarised)
 *
 * Serialises the frame's results as one line of JSON, schema #GST_SAM3_JSON_SCHEMA
 * (docs/metadata.md).
 *
 * Returns: (transfer full): the JSON text; free with g_free()
 */
gchar *gst_sam3_meta_to_json(GstSam3Meta *meta, GstBuffer *buffer, gboolean with_masks) {
  JsonBuilder *b;
  JsonGenerator *gen;
  JsonNode *root;
  gchar *text;
  guint i;

  g_return_val_if_fail(meta != NULL, NULL);
  g_return_val_if_fail(buffer == NULL || GST_IS_BUFFER(buffer), NULL);

  b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "schema");
  json_builder_add_string_value(b, GST_SAM3_JSON_SCHEMA);

  json_builder_set_member_name(b, "frame");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "width");
  json_builder_add_int_value(b, meta->frame_width);
  json_builder_set_member_name(b, "height");
  json_builder_add_int_value(b, meta->frame_height);
  json_builder_set_member_name(b, "number");
  json_builder_add_int_value(b, (gint64)meta->frame_number);
  add_clock_time(b, "pts", buffer ? GST_BUFFER_PTS(buffer) : GST_CLOCK_TIME_NONE);
  add_clock_time(b, "dts", buffer ? GST_BUFFER_DTS(buffer) : GST_CLOCK_TIME_NONE);
  add_clock_time(b, "duration", buffer ? GST_BUFFER_DURATION(buffer) : GST_CLOCK_TIME_NONE);
  json_builder_end_object(b);

  json_builder_set_member_name(b, "prompts");
  json_builder_begin_array(b);
  for (i = 0; i < meta->prompts->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(meta->prompts, i));
  json_builder_end_array(b);

  json_builder_set_member_name(b, "instances");
  json_builder_begin_array(b);
  for (i = 0; i < meta->instances->len; i++) {
    const GstSam3Instance *inst = &g_array_index(meta->instances, GstSam3Instance, i);
    const gchar *label = g_quark_to_string(inst->label);
    const gchar *provenance = provenance_to_nick(inst->provenance);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "instance_id");
    json_builder_add_int_value(b, inst->instance_id);
    json_builder_set_member_name(b, "track_id");
    json_builder_add_int_value(b, (gint64)inst->track_id);
    json_builder_set_member_name(b, "label");
    json_builder_add_string_value(b, label ? label : "");
    json_builder_set_member_name(b, "prompt_index");
    json_builder_add_int_value(b, inst->prompt_index);
    json_builder_set_member_name(b, "score");
    json_builder_add_double_value(b, inst->score);
    json_builder_set_member_name(b, "box");
    add_rect(b, inst->x, inst->y, inst->w, inst->h, FALSE);
    json_builder_set_member_name(b, "provenance");
    json_builder_add_string_value(b, provenance ? provenance : "detected");
    if (with_masks && inst->mask && inst->mask_width > 0 && inst->mask_height > 0)
      add_mask(b, inst);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);

  root = json_builder_get_root(b);
  gen = json_generator_new();
  json_generator_set_root(gen, root);
  text = json_generator_to_data(gen, NULL);
  g_object_unref(gen);
  json_node_unref(root);
  g_object_unref(b);
  return text;
}

/* Readers for from_json: each names the member by its path in the error message. */

static gboolean invalid(GError **error, const gchar *path, const gchar *name, const gchar *what) {
  g_set_error(error, GST_SAM3_META_ERROR, GST_SAM3_META_ERROR_INVALID, "%s%s%s: %s", path,
              *path && *name ? "." : "", name, what);
  return FALSE;
}

static JsonNode *member(JsonObject *obj, const gchar *path, const gchar *name, GError **error) {
  JsonNode *node = json_object_get_member(obj, name);
  if (!node)
    invalid(error, path, name, "missing");
  return node;
}

static gboolean is_integer(JsonNode *node) {
  return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_INT64;
}

static gboolean read_int(JsonObject *obj, const gchar *path, const gchar *name, gint64 min,
                         gint64 max, gint64 *out, GError **error) {
  JsonNode *node = member(obj, path, name, error);
  gint64 v;

  if (!node)
    return FALSE;
  if (!is_integer(node))
    return invalid(error, path, name, "expected an integer");
  v = json_node_get_int(node);
  if (v < min || v > max)
    return invalid(error, path, name, "out of range");
  *out = v;
  return TRUE;
}

static gboolean read_uint(JsonObject *obj, const gchar *path, const gchar *name, guint *out,
                          GError **error) {
  gint64 v;
  if (!read_int(obj, path, name, 0, G_MAXUINT, &v, error))
    return FALSE;
  *out = (guint)v;
  return TRUE;
}

static gboolean read_number(JsonObject *obj, const gchar *path, const gchar *name, gfloat *out,
                            GError **error) {
  JsonNode *node = member(obj, path, name, error);
  GType t;

  if (!node)
    return FALSE;
  t = JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node) : G_TYPE_INVALID;
  if (t == G_TYPE_INT64)
    *out = (gfloat)json_node_get_int(node);
  else if (t == G_TYPE_DOUBLE)
    *out = (gfloat)json_node_get_double(node);
  else
    return invalid(error, path, name, "expected a number");
  /* A value beyond float range would become infinite, which JSON cannot write back. */
  if (!isfinite(*out))
    return invalid(error, path, name, "is out of the range of a float");
  return TRUE;
}

static const gchar *read_string(JsonObject *obj, const gchar *path, const gchar *name,
                                GError **error) {
  JsonNode *node = member(obj, path, name, error);

  if (!node)
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
    invalid(error, path, name, "expected a string");
    return NULL;
  }
  return json_node_get_string(node);
}

static JsonObject *read_object(JsonObject *obj, const gchar *path, const gchar *name,
                               GError **error) {
  JsonNode *node = member(obj, path, name, error);

  if (!node)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT(node)) {
    invalid(error, path, name, "expected an object");
    return NULL;
  }
  return json_node_get_object(node);
}

static JsonArray *read_array(JsonObject *obj, const gchar *path, const gchar *name,
                             GError **error) {
  JsonNode *node = member(obj, path, name, error);

  if (!node)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY(node)) {
    invalid(error, path, name, "expected an array");
    return NULL;
  }
  return json_node_get_array(node);
}

/* Timestamps are informational: they must be well-formed but are not applied. */
static gboolean check_optional_time(JsonObject *obj, const gchar *name, GError **error) {
  JsonNode *node = json_object_get_member(obj, name);

  if (!node || JSON_NODE_HOLDS_NULL(node))
    return TRUE;
  if (!is_integer(node) || json_node_get_int(node) < 0)
    return invalid(error, "frame", name, "expected null or a non-negative integer");
  return TRUE;
}

static gboolean read_mask(JsonObject *obj, const gchar *path, GstSam3Instance *inst,
                          GError **error) {
  JsonObject *rect_obj;
  JsonArray *counts;
  const gchar *encoding;
  GstVideoRectangle rect;
  gint64 v[4];
  const gchar *rect_names[] = {"x", "y", "w", "h"};
  guint width, height, n_counts, i;
  gsize total, filled = 0;
  GstBuffer *buffer;
  GstMapInfo map;
  gboolean ok;
  gchar *rect_path;

  if (!read_uint(obj, path, "width", &width, error) ||
      !read_uint(obj, path, "height", &height, error))
    return FALSE;
  if ((guint64)width * height > MAX_JSON_MASK_SAMPLES)
    return invalid(error, path, "width", "mask larger than 2^24 samples");
  if (!(rect_obj = read_object(obj, path, "rect", error)))
    return FALSE;
  rect_path = g_strconcat(path, ".rect", NULL);
  for (i = 0; i < 4; i++) {
    if (!read_int(rect_obj, rect_path, rect_names[i], i < 2 ? G_MININT : 0, G_MAXINT, &v[i],
                  error)) {
      g_free(rect_path);
      return FALSE;
    }
  }
  g_free(rect_path);
  rect.x = (gint)v[0];
  rect.y = (gint)v[1];
  rect.w = (gint)v[2];
  rect.h = (gint)v[3];

  if (!(encoding = read_string(obj, path, "encoding", error)))
    return FALSE;
  if (strcmp(encoding, RLE_ENCODING) != 0)
    return invalid(error, path, "encoding", "unknown encoding (expected \"" RLE_ENCODING "\")");
  if (!(counts = read_array(obj, path, "counts", error)))
    return FALSE;

  total = (gsize)width * height;
  n_counts = json_array_get_length(counts);
  for (i = 0; i < n_counts; i++) {
    JsonNode *node = json_array_get_element(counts, i);
    if (!is_integer(node) || json_node_get_int(node) < 0)
      return invalid(error, path, "counts", "expected non-negative integers");
    if ((guint64)json_node_get_int(node) > total - filled)
      return invalid(error, path, "counts", "runs exceed width * height");
    filled += (gsize)json_node_get_int(node);
  }
  if (filled != total)
    return invalid(error, path, "counts", "runs do not add up to width * height");

  if (total == 0)
    return gst_sam3_instance_set_mask(inst, NULL, 0, 0, NULL);

  buffer = new_gray8_buffer(width, height);
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  filled = 0;
  for (i = 0; i < n_counts; i++) {
    gsize run = (gsize)json_array_get_int_element(counts, i);
    memset(map.data + filled, (i % 2) ? 255 : 0, run);
    filled += run;
  }
  gst_buffer_unmap(buffer, &map);
  ok = gst_sam3_instance_set_mask(inst, buffer, width, height, &rect);
  gst_buffer_unref(buffer);
  return ok;
}

static gboolean read_instance(JsonNode *node, const gchar *path, GstSam3Meta *meta,
                              GError **error) {
  JsonObject *obj, *box, *mask;
  GstSam3Instance *inst;
  gchar *box_path;
  const gchar *label, *provenance;
  guint instance_id, prompt_index;
  gint64 track_id;
  gfloat score, x, y, w, h;
  GstSam3Provenance prov;
  gboolean ok;

  if (!JSON_NODE_HOLDS_OBJECT(node))
    return invalid(error, path, "", "expected an object");
  obj = json_node_get_object(node);

  if (!read_uint(obj, path, "instance_id", &instance_id, error) ||
      !read_int(obj, path, "track_id", 0, G_MAXINT64, &track_id, error) ||
      !(label = read_string(obj, path, "label", error)) ||
      !read_uint(obj, path, "prompt_index", &prompt_index, error) ||
      !read_number(obj, path, "score", &score, error) ||
      !(box = read_object(obj, path, "box", error)) ||
      !(provenance = read_string(obj, path, "provenance", error)))
    return FALSE;
  if (!provenance_from_nick(provenance, &prov))
    return invalid(error, path, "provenance",
                   "expected \"detected\", \"propagated\" or \"prompted\"");

  box_path = g_strconcat(path, ".box", NULL);
  ok = read_number(box, box_path, "x", &x, error) && read_number(box, box_path, "y", &y, error) &&
       read_number(box, box_path, "w", &w, error) && read_number(box, box_path, "h", &h, error);
  g_free(box_path);
  if (!ok)
    return FALSE;

  inst = gst_sam3_meta_add_instance(meta, label, prompt_index, score, x, y, w, h);
  inst->instance_id = instance_id;
  inst->track_id = (guint64)track_id;
  inst->provenance = prov;

  if (!json_object_has_member(obj, "mask"))
    return TRUE;
  if (!(mask = read_object(obj, path, "mask", error)))
    return FALSE;
  {
    gchar *mask_path = g_strconcat(path, ".mask", NULL);
    ok = read_mask(mask, mask_path, inst, error);
    g_free(mask_path);
  }
  return ok;
}

static gboolean fill_from_json(GstSam3Meta *meta, JsonObject *root, GError **error) {
  JsonObject *frame;
  JsonArray *prompts, *instances;
  JsonNode *node;
  const gchar *schema;
  guint i;
  gint64 number;

  node = json_object_get_member(root, "schema");
  schema = node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING
               ? json_node_get_string(node)
               : NULL;
  if (!schema || strcmp(schema, GST_SAM3_JSON_SCHEMA) != 0) {
    g_set_error(error, GST_SAM3_META_ERROR, GST_SAM3_META_ERROR_SCHEMA,
                "schema: expected \"%s\", got %s%s%s", GST_SAM3_JSON_SCHEMA, schema ? "\"" : "",
                schema ? schema : "none", schema ? "\"" : "");
    return FALSE;
  }

  if (!(frame = read_object(root, "", "frame", error)) ||
      !read_uint(frame, "frame", "width", &meta->frame_width, error) ||
      !read_uint(frame, "frame", "height", &meta->frame_height, error) ||
      !read_int(frame, "frame", "number", 0, G_MAXINT64, &number, error) ||
      !check_optional_time(frame, "pts", error) || !check_optional_time(frame, "dts", error) ||
      !check_optional_time(frame, "duration", error))
    return FALSE;
  meta->frame_number = (guint64)number;

  if (!(prompts = read_array(root, "", "prompts", error)))
    return FALSE;
  for (i = 0; i < json_array_get_length(prompts); i++) {
    node = json_array_get_element(prompts, i);
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
      return invalid(error, "", "prompts", "expected an array of strings");
    gst_sam3_meta_add_prompt(meta, json_node_get_string(node));
  }

  if (!(instances = read_array(root, "", "instances", error)))
    return FALSE;
  for (i = 0; i < json_array_get_length(instances); i++) {
    gchar *path = g_strdup_printf("instances[%u]", i);
    gboolean ok = read_instance(json_array_get_element(instances, i), path, meta, error);
    g_free(path);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/**
 * gst_buffer_add_sam3_meta_from_json:
 * @buffer: a writable #GstBuffer
 * @json: a document of schema #GST_SAM3_JSON_SCHEMA, as written by gst_sam3_meta_to_json()
 * @error: return location for a #GError in the #GST_SAM3_META_ERROR domain, or %NULL
 *
 * Parses @json and adds the meta it describes to @buffer. Masks are restored binarised
 * (0 / 255). The frame timestamps are checked but not applied to @buffer. On error
 * nothing is added.
 *
 * Returns: (transfer none) (nullable): the new meta, or %NULL with @error set
 */
GstSam3Meta *gst_buffer_add_sam3_meta_from_json(GstBuffer *buffer, const gchar *json,
                                                GError **error) {
  JsonParser *parser;
  JsonNode *root;
  GstSam3Meta *meta = NULL;
  GError *parse_error = NULL;

  g_return_val_if_fail(GST_IS_BUFFER(buffer), NULL);
  g_return_val_if_fail(gst_buffer_is_writable(buffer), NULL);
  g_return_val_if_fail(json != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  parser = json_parser_new();
  if (!json_parser_load_from_data(parser, json, -1, &parse_error)) {
    g_set_error(error, GST_SAM3_META_ERROR, GST_SAM3_META_ERROR_PARSE, "not JSON: %s",
                parse_error->message);
    g_error_free(parse_error);
    goto done;
  }
  root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
    g_set_error(error, GST_SAM3_META_ERROR, GST_SAM3_META_ERROR_PARSE,
                "the document is not a JSON object");
    goto done;
  }

  meta = gst_buffer_add_sam3_meta(buffer, 0, 0);
  if (meta && !fill_from_json(meta, json_node_get_object(root), error)) {
    gst_buffer_remove_meta(buffer, (GstMeta *)meta);
    meta = NULL;
  }

done:
  g_object_unref(parser);
  return meta;
}

/**
 * gst_sam3_meta_set_handle: (skip)
 * @meta: a #GstSam3Meta
 * @handle: (nullable): the payload; the meta takes over one reference
 * @ref: (nullable): returns a new reference to a payload, called when the meta is copied
 *   or transformed (%NULL: the pointer is shared as is)
 * @unref: (nullable): drops a reference, called when the meta is freed or the handle
 *   replaced
 *
 * Attaches an opaque in-process payload (e.g. masks or features still on a GPU) that
 * the next sam3 element can use without a copy. Not serialised.
 */
void gst_sam3_meta_set_handle(GstSam3Meta *meta, gpointer handle, GBoxedCopyFunc ref,
                              GDestroyNotify unref) {
  gpointer old;
  GDestroyNotify old_unref;

  g_return_if_fail(meta != NULL);

  old = meta->handle;
  old_unref = meta->handle_unref;
  meta->handle = handle;
  meta->handle_ref = ref;
  meta->handle_unref = unref;
  if (old && old_unref)
    old_unref(old);
}

/**
 * gst_sam3_meta_get_handle: (skip)
 * @meta: a #GstSam3Meta
 *
 * Returns: (transfer none) (nullable): the payload set with gst_sam3_meta_set_handle()
 */
gpointer gst_sam3_meta_get_handle(GstSam3Meta *meta) {
  g_return_val_if_fail(meta != NULL, NULL);
  return meta->handle;
}
