/* gst-sam3: sam3export.
 *
 * A pass-through GstBaseTransform: it only reads metadata, so the buffer is never made
 * writable or copied.
 */
/**
 * SECTION:element-sam3export
 * @title: sam3export
 *
 * Writes the #GstSam3Meta of every frame as one JSON object per line (JSON Lines; schema
 * in docs/metadata.md) to a file or standard output, and optionally posts it on the bus
 * as an element message named "sam3-results" with a "json" string field.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 ... ! sam3detect model=/models/sam3 prompt=person ! \
 *     sam3export location=results.jsonl ! fakesink
 * ]|
 */
#include "gstsam3export.h"

#include "gstsam3meta.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

GST_DEBUG_CATEGORY_STATIC(gst_sam3_export_debug);
#define GST_CAT_DEFAULT gst_sam3_export_debug

#define DEFAULT_LOCATION NULL
#define DEFAULT_MASKS FALSE
#define DEFAULT_POST_MESSAGES FALSE
#define DEFAULT_EMPTY_FRAMES TRUE

enum { PROP_0, PROP_LOCATION, PROP_MASKS, PROP_POST_MESSAGES, PROP_EMPTY_FRAMES };

struct _GstSam3Export {
  GstBaseTransform parent;

  /* properties (object lock) */
  gchar *location;
  gboolean masks;
  gboolean post_messages;
  gboolean empty_frames;

  /* streaming thread */
  FILE *file;
  gboolean owns_file;
  guint64 frames;
};

#define gst_sam3_export_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE(GstSam3Export, gst_sam3_export, GST_TYPE_BASE_TRANSFORM,
                        GST_DEBUG_CATEGORY_INIT(gst_sam3_export_debug, "sam3export", 0,
                                                "SAM 3 results to JSON"));
GST_ELEMENT_REGISTER_DEFINE(sam3export, "sam3export", GST_RANK_NONE, GST_TYPE_SAM3_EXPORT);

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static void gst_sam3_export_set_property(GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec) {
  GstSam3Export *self = GST_SAM3_EXPORT(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
  case PROP_LOCATION:
    g_free(self->location);
    self->location = g_value_dup_string(value);
    break;
  case PROP_MASKS:
    self->masks = g_value_get_boolean(value);
    break;
  case PROP_POST_MESSAGES:
    self->post_messages = g_value_get_boolean(value);
    break;
  case PROP_EMPTY_FRAMES:
    self->empty_frames = g_value_get_boolean(value);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_sam3_export_get_property(GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec) {
  GstSam3Export *self = GST_SAM3_EXPORT(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
  case PROP_LOCATION:
    g_value_set_string(value, self->location);
    break;
  case PROP_MASKS:
    g_value_set_boolean(value, self->masks);
    break;
  case PROP_POST_MESSAGES:
    g_value_set_boolean(value, self->post_messages);
    break;
  case PROP_EMPTY_FRAMES:
    g_value_set_boolean(value, self->empty_frames);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK(self);
}

static gboolean gst_sam3_export_start(GstBaseTransform *trans) {
  GstSam3Export *self = GST_SAM3_EXPORT(trans);
  GST_OBJECT_LOCK(self);
  gchar *location = g_strdup(self->location);
  GST_OBJECT_UNLOCK(self);
  self->frames = 0;
  if (location == NULL || location[0] == '\0') {
    g_free(location);
    return TRUE;
  }
  if (strcmp(location, "-") == 0) {
    self->file = stdout;
    self->owns_file = FALSE;
  } else {
    self->file = fopen(location, "w");
    self->owns_file = TRUE;
    if (self->file == NULL) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE,
                        ("Cannot open \"%s\" for writing: %s", location, g_strerror(errno)),
                        (NULL));
      g_free(location);
      return FALSE;
    }
  }
  g_free(location);
  return TRUE;
}

static gboolean gst_sam3_export_stop(GstBaseTransform *trans) {
  GstSam3Export *self = GST_SAM3_EXPORT(trans);
  if (self->file) {
    if (self->owns_file)
      fclose(self->file);
    else
      fflush(self->file);
  }
  self->file = NULL;
  return TRUE;
}

static GstFlowReturn gst_sam3_export_transform_ip(GstBaseTransform *trans, GstBuffer *buf) {
  GstSam3Export *self = GST_SAM3_EXPORT(trans);
  GST_OBJECT_LOCK(self);
  const gboolean masks = self->masks, post = self->post_messages, empty = self->empty_frames;
  GST_OBJECT_UNLOCK(self);

  const guint64 frame = self->frames++;
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  gchar *json = NULL;
  if (meta) {
    json = gst_sam3_meta_to_json(meta, buf, masks);
  } else if (empty) {
    /* A frame without results still gets its line, so consumers can count frames. */
    GstBuffer *scratch = gst_buffer_new();
    GstSam3Meta *blank = gst_buffer_add_sam3_meta(scratch, 0, 0);
    blank->frame_number = frame;
    GST_BUFFER_PTS(scratch) = GST_BUFFER_PTS(buf);
    GST_BUFFER_DTS(scratch) = GST_BUFFER_DTS(buf);
    GST_BUFFER_DURATION(scratch) = GST_BUFFER_DURATION(buf);
    json = gst_sam3_meta_to_json(blank, scratch, FALSE);
    gst_buffer_unref(scratch);
  }
  if (json == NULL)
    return GST_FLOW_OK;

  if (self->file) {
    if (fputs(json, self->file) < 0 || fputc('\n', self->file) < 0) {
      GST_ELEMENT_ERROR(self, RESOURCE, WRITE, ("Cannot write the results: %s", g_strerror(errno)),
                        (NULL));
      g_free(json);
      return GST_FLOW_ERROR;
    }
  }
  if (post) {
    GstStructure *s = gst_structure_new("sam3-results", "json", G_TYPE_STRING, json, "frame",
                                        G_TYPE_UINT64, frame, NULL);
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
  }
  g_free(json);
  return GST_FLOW_OK;
}

static void gst_sam3_export_finalize(GObject *object) {
  GstSam3Export *self = GST_SAM3_EXPORT(object);
  g_free(self->location);
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_sam3_export_class_init(GstSam3ExportClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);

  gobject_class->set_property = gst_sam3_export_set_property;
  gobject_class->get_property = gst_sam3_export_get_property;
  gobject_class->finalize = gst_sam3_export_finalize;

  const GParamFlags rw = (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      gobject_class, PROP_LOCATION,
      g_param_spec_string("location", "Location",
                          "File to write JSON Lines to ('-' = standard output; empty = no file)",
                          DEFAULT_LOCATION, (GParamFlags)(rw | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property(
      gobject_class, PROP_MASKS,
      g_param_spec_boolean("masks", "Masks",
                           "Include the run-length-encoded binary masks of the instances",
                           DEFAULT_MASKS, (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property(
      gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean("post-messages", "Post messages",
                           "Also post each frame's JSON on the bus as a \"sam3-results\" "
                           "element message (fields: json, frame)",
                           DEFAULT_POST_MESSAGES, (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property(
      gobject_class, PROP_EMPTY_FRAMES,
      g_param_spec_boolean("empty-frames", "Empty frames",
                           "Also write a line (with no instances) for frames without SAM 3 "
                           "metadata",
                           DEFAULT_EMPTY_FRAMES, (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING)));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "SAM 3 results exporter", "Filter/Analyzer/Video",
      "Writes SAM 3 instances as JSON Lines and bus messages", "gst-sam3 developers");

  trans_class->start = GST_DEBUG_FUNCPTR(gst_sam3_export_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_sam3_export_stop);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_sam3_export_transform_ip);
  trans_class->transform_ip_on_passthrough = TRUE;
}

static void gst_sam3_export_init(GstSam3Export *self) {
  self->location = g_strdup(DEFAULT_LOCATION);
  self->masks = DEFAULT_MASKS;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->empty_frames = DEFAULT_EMPTY_FRAMES;
  self->file = NULL;
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
}
