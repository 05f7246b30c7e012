/* gst-sam3: GstSam3Meta as JSON and back, schema GST_SAM3_JSON_SCHEMA (docs/metadata.md).
 * The reader takes outside data, so it checks every member and names the bad one.
 */
#include "gstsam3meta-private.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* A JSON mask may not claim more samples than this: its counts are decoded into a buffer
 * of that size, so the limit is what keeps a hostile document from allocating gigabytes. */
#define MAX_JSON_MASK_SAMPLES (1u << 24)

#define RLE_ENCODING "rle-binary"

/**
 * gst_sam3_meta_error_quark:
 *
 * Returns: the #GST_SAM3_META_ERROR error domain
 */
GQuark gst_sam3_meta_error_quark(void) {
  return g_quark_from_static_string("gst-sam3-meta-error-quark");
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

  buffer = gst_sam3_new_gray8_buffer(width, height);
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
