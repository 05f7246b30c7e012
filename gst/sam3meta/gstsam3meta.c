/* gst-sam3: the metadata contract between sam3 elements and applications; this file holds
 * the meta itself (registration, copy and scale transforms) and its prompts and instances.
 * Masks, the ROI mirror, JSON and the in-process payload live beside it.
 *
 * The model, the transform rules and the JSON schema are documented in docs/metadata.md;
 * keep the two in step.
 */
#include "gstsam3meta-private.h"

#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY(gst_sam3_meta_debug);

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
  m->payload = NULL;
  return TRUE;
}

static void sam3_meta_free(GstMeta *meta, GstBuffer *buffer) {
  GstSam3Meta *m = (GstSam3Meta *)meta;
  (void)buffer;

  g_clear_pointer(&m->instances, g_array_unref);
  g_clear_pointer(&m->prompts, g_ptr_array_unref);
  g_clear_pointer(&m->payload, gst_sam3_payload_unref);
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

  if (src->payload)
    out->payload = gst_sam3_payload_ref(src->payload);
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
    GST_DEBUG_CATEGORY_INIT(gst_sam3_meta_debug, "sam3meta", 0, "gst-sam3 metadata");
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
