/* gst-sam3: the mirror of a GstSam3Meta as GstVideoRegionOfInterestMeta, for consumers
 * that know DL Streamer's metadata rather than ours (docs/metadata.md, "Interop").
 */
#include "gstsam3meta-private.h"

#include <math.h>

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
