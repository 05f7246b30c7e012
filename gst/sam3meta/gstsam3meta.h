/* gst-sam3: the metadata contract between sam3 elements and applications.
 *
 * Plain C, GObject-introspectable, no C++ or LibTorch. One GstSam3Meta per buffer holds
 * the frame's instances; see docs/metadata.md for the model and the JSON schema.
 */
#ifndef __GST_SAM3_META_H__
#define __GST_SAM3_META_H__

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#ifndef GST_SAM3_META_API
#  ifdef BUILDING_GST_SAM3_META
#    include <gmodule.h>
#    define GST_SAM3_META_API G_MODULE_EXPORT
#  else
#    define GST_SAM3_META_API extern
#  endif
#endif

/**
 * GST_SAM3_JSON_SCHEMA:
 *
 * The value of the "schema" member of every JSON document written by
 * gst_sam3_meta_to_json(). Bumped on incompatible changes.
 */
#define GST_SAM3_JSON_SCHEMA "gst-sam3/1"

/**
 * GstSam3Provenance:
 * @GST_SAM3_PROVENANCE_DETECTED: found by the detector on this frame
 * @GST_SAM3_PROVENANCE_PROPAGATED: carried from earlier frames by the tracker
 * @GST_SAM3_PROVENANCE_PROMPTED: added by a user prompt (box or points)
 *
 * Where an instance on a frame came from.
 */
typedef enum {
  GST_SAM3_PROVENANCE_DETECTED = 0,
  GST_SAM3_PROVENANCE_PROPAGATED = 1,
  GST_SAM3_PROVENANCE_PROMPTED = 2,
} GstSam3Provenance;

GST_SAM3_META_API GType gst_sam3_provenance_get_type (void);
#define GST_TYPE_SAM3_PROVENANCE (gst_sam3_provenance_get_type ())

/**
 * GstSam3MaskMode:
 * @GST_SAM3_MASK_BINARY: 255 inside the mask (stored value >= 128), 0 outside
 * @GST_SAM3_MASK_ALPHA: the stored mask probability, 0..255
 *
 * How gst_sam3_instance_render_mask() writes a mask.
 */
typedef enum {
  GST_SAM3_MASK_BINARY = 0,
  GST_SAM3_MASK_ALPHA = 1,
} GstSam3MaskMode;

GST_SAM3_META_API GType gst_sam3_mask_mode_get_type (void);
#define GST_TYPE_SAM3_MASK_MODE (gst_sam3_mask_mode_get_type ())

/**
 * GstSam3MetaError:
 * @GST_SAM3_META_ERROR_PARSE: the text is not well-formed JSON, or its root is not an object
 * @GST_SAM3_META_ERROR_SCHEMA: the "schema" member is missing or names another schema
 * @GST_SAM3_META_ERROR_INVALID: a required member is missing, has the wrong type or an
 *   out-of-range value
 *
 * Errors of gst_buffer_add_sam3_meta_from_json(), in the #GST_SAM3_META_ERROR domain.
 */
typedef enum {
  GST_SAM3_META_ERROR_PARSE = 0,
  GST_SAM3_META_ERROR_SCHEMA = 1,
  GST_SAM3_META_ERROR_INVALID = 2,
} GstSam3MetaError;

GST_SAM3_META_API GType gst_sam3_meta_error_get_type (void);
#define GST_TYPE_SAM3_META_ERROR (gst_sam3_meta_error_get_type ())

/**
 * GST_SAM3_META_ERROR:
 *
 * The error domain of gst_buffer_add_sam3_meta_from_json().
 */
#define GST_SAM3_META_ERROR (gst_sam3_meta_error_quark ())
GST_SAM3_META_API GQuark gst_sam3_meta_error_quark (void);

/**
 * GstSam3Instance:
 * @instance_id: id of the instance within its frame (0, 1, 2, ...)
 * @track_id: persistent id given by a tracker; 0 while untracked
 * @label: the concept (prompt text) as a quark
 * @prompt_index: index of the concept in the frame's prompt list
 * @score: confidence in [0, 1]
 * @x: box left edge, frame pixels
 * @y: box top edge, frame pixels
 * @w: box width, frame pixels
 * @h: box height, frame pixels
 * @provenance: where the instance came from
 * @mask: (nullable): GRAY8 mask, @mask_width x @mask_height bytes, rows packed
 *   (stride = @mask_width); values are probabilities scaled to 0..255
 * @mask_width: width of @mask in samples
 * @mask_height: height of @mask in samples
 * @mask_rect: where @mask lies on the frame, in frame pixels (the mask is stretched
 *   over this rectangle); usually the box
 *
 * One segmented instance. Owned by its #GstSam3Meta; change it only through the
 * functions below so the mask buffer stays consistent.
 */
typedef struct {
  guint instance_id;
  guint64 track_id;
  GQuark label;
  guint prompt_index;
  gfloat score;
  gfloat x, y, w, h;
  GstSam3Provenance provenance;
  GstBuffer *mask;
  guint mask_width;
  guint mask_height;
  GstVideoRectangle mask_rect;

  /*< private >*/
  gpointer _gst_reserved[GST_PADDING];
} GstSam3Instance;

typedef struct _GstSam3Payload GstSam3Payload;

/**
 * GstSam3Payload:
 * @mini_object: the parent
 *
 * A reference-counted in-process payload (e.g. the frame's backbone features, still on
 * the model's device) that one sam3 element leaves on a #GstSam3Meta for the next to use
 * without a copy. Its kind names what it holds; its data is the producer's and is never
 * serialised.
 */
struct _GstSam3Payload {
  GstMiniObject mini_object;

  /*< private >*/
  GQuark kind;
  gpointer data;
  GDestroyNotify free_data;
  gpointer _gst_reserved[GST_PADDING];
};

GST_SAM3_META_API GType gst_sam3_payload_get_type (void);
#define GST_TYPE_SAM3_PAYLOAD (gst_sam3_payload_get_type ())

typedef struct _GstSam3Meta GstSam3Meta;

/**
 * GstSam3Meta:
 * @meta: parent #GstMeta
 * @frame_width: width in pixels of the frame the boxes refer to
 * @frame_height: height in pixels of the frame the boxes refer to
 * @frame_number: index of the frame in the stream as counted by the producer
 *
 * Per-buffer SAM 3 results. Read with gst_buffer_get_sam3_meta().
 */
struct _GstSam3Meta {
  GstMeta meta;

  guint frame_width;
  guint frame_height;
  guint64 frame_number;

  /*< private >*/
  GArray *instances;       /* of GstSam3Instance */
  GPtrArray *prompts;      /* of gchar* */
  GstSam3Payload *payload; /* see gst_sam3_meta_set_payload() */
  gpointer _gst_reserved[GST_PADDING];
};

GST_SAM3_META_API GType gst_sam3_meta_api_get_type (void);
#define GST_SAM3_META_API_TYPE (gst_sam3_meta_api_get_type ())

GST_SAM3_META_API const GstMetaInfo *gst_sam3_meta_get_info (void);
#define GST_SAM3_META_INFO (gst_sam3_meta_get_info ())

GST_SAM3_META_API
GstSam3Meta *gst_buffer_add_sam3_meta (GstBuffer *buffer, guint frame_width,
    guint frame_height);

GST_SAM3_META_API
GstSam3Meta *gst_buffer_get_sam3_meta (GstBuffer *buffer);

/* prompts (the concepts active on this frame) */
GST_SAM3_META_API
guint gst_sam3_meta_add_prompt (GstSam3Meta *meta, const gchar *prompt);
GST_SAM3_META_API
guint gst_sam3_meta_get_n_prompts (GstSam3Meta *meta);
GST_SAM3_META_API
const gchar *gst_sam3_meta_get_prompt (GstSam3Meta *meta, guint index);

/* instances */
GST_SAM3_META_API
GstSam3Instance *gst_sam3_meta_add_instance (GstSam3Meta *meta, const gchar *label,
    guint prompt_index, gfloat score, gfloat x, gfloat y, gfloat w, gfloat h);
GST_SAM3_META_API
guint gst_sam3_meta_get_n_instances (GstSam3Meta *meta);
GST_SAM3_META_API
GstSam3Instance *gst_sam3_meta_get_instance (GstSam3Meta *meta, guint index);
GST_SAM3_META_API
void gst_sam3_meta_remove_instance (GstSam3Meta *meta, guint index);
GST_SAM3_META_API
void gst_sam3_meta_clear_instances (GstSam3Meta *meta);

GST_SAM3_META_API
const gchar *gst_sam3_instance_get_label (const GstSam3Instance *instance);

/* Takes a ref on @mask (GRAY8, packed rows, at least width * height bytes); NULL or a zero
 * size removes the mask; NULL @mask_rect means the box rounded outwards. */
GST_SAM3_META_API
gboolean gst_sam3_instance_set_mask (GstSam3Instance *instance, GstBuffer *mask,
    guint mask_width, guint mask_height, const GstVideoRectangle *mask_rect);

/* Copies @data (GRAY8, rows @stride bytes apart) into a new mask buffer. */
GST_SAM3_META_API
gboolean gst_sam3_instance_set_mask_data (GstSam3Instance *instance,
    const guint8 *data, guint mask_width, guint mask_height, gint stride,
    const GstVideoRectangle *mask_rect);

/* Renders the instance's mask as it falls on a @frame_width x @frame_height frame,
 * scaled to @width x @height, into @dest (rows @stride bytes apart; pixels outside the
 * mask rect are 0). Returns FALSE (and writes zeros) when the instance has no mask. */
GST_SAM3_META_API
gboolean gst_sam3_instance_render_mask (const GstSam3Instance *instance,
    guint frame_width, guint frame_height, GstSam3MaskMode mode, guint8 *dest,
    guint width, guint height, gint stride);

/* Same as gst_sam3_instance_render_mask() into a new GRAY8 buffer, rows packed; NULL when
 * there is nothing to render (no mask, or a zero frame or output size). */
GST_SAM3_META_API
GstBuffer *gst_sam3_instance_render_mask_buffer (const GstSam3Instance *instance,
    guint frame_width, guint frame_height, GstSam3MaskMode mode, guint width,
    guint height);

/* Interop: adds one GstVideoRegionOfInterestMeta per instance to @buffer (type = label,
 * id = instance id) with DL-Streamer-compatible "detection" and "object_id" params.
 * Call once after the instances are final. */
GST_SAM3_META_API
void gst_sam3_meta_attach_roi_metas (GstSam3Meta *meta, GstBuffer *buffer);

/* JSON (schema in docs/metadata.md). @buffer gives the timestamps and may be NULL. */
GST_SAM3_META_API
gchar *gst_sam3_meta_to_json (GstSam3Meta *meta, GstBuffer *buffer,
    gboolean with_masks);
GST_SAM3_META_API
GstSam3Meta *gst_buffer_add_sam3_meta_from_json (GstBuffer *buffer,
    const gchar *json, GError **error);

/* In-process payload (e.g. features that stay on a GPU) passed between sam3 elements
 * without a copy. A new payload owns @data and calls @free_data when its last reference
 * goes; get_data returns the data only to a caller naming the payload's @kind. */
GST_SAM3_META_API
GstSam3Payload *gst_sam3_payload_new (const gchar *kind, gpointer data,
    GDestroyNotify free_data);
GST_SAM3_META_API
GstSam3Payload *gst_sam3_payload_ref (GstSam3Payload *payload);
GST_SAM3_META_API
void gst_sam3_payload_unref (GstSam3Payload *payload);
GST_SAM3_META_API
const gchar *gst_sam3_payload_get_kind (GstSam3Payload *payload);
GST_SAM3_META_API
gpointer gst_sam3_payload_get_data (GstSam3Payload *payload, const gchar *kind);

/* The meta takes its own reference on @payload (NULL removes it); copies share it. */
GST_SAM3_META_API
void gst_sam3_meta_set_payload (GstSam3Meta *meta, GstSam3Payload *payload);
GST_SAM3_META_API
GstSam3Payload *gst_sam3_meta_get_payload (GstSam3Meta *meta);

G_END_DECLS

#endif /* __GST_SAM3_META_H__ */
