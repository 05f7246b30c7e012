/* gst-sam3: sam3track's tuning: the video loop's thresholds, windows and limits, the output
 * delay and the mask threshold, kept as properties under the element's object lock and turned
 * into the video session's options (video/video_session.h) when the element starts.
 */
#ifndef __GST_SAM3_TRACK_SETTINGS_H__
#define __GST_SAM3_TRACK_SETTINGS_H__

#include "video/video_session.h"

#include <gst/gst.h>

/* sam3track's property ids, in the order the reference pages list them. */
enum {
  PROP_0,
  PROP_MODEL,
  PROP_DEVICE,
  PROP_PRECISION,
  PROP_MAX_OBJECTS,
  PROP_OUTPUT_DELAY,
  PROP_DETECTION_THRESHOLD,
  PROP_NEW_OBJECT_THRESHOLD,
  PROP_ASSOCIATION_IOU,
  PROP_MATCH_IOU,
  PROP_HOTSTART_FRAMES,
  PROP_HOTSTART_UNMATCHED,
  PROP_HOTSTART_DUPLICATES,
  PROP_RECONDITION_INTERVAL,
  PROP_OCCLUSION_IOU,
  PROP_FILL_HOLE_AREA,
  PROP_MAX_LOST_FRAMES,
  PROP_MEMORY_SELECTION,
  PROP_MASK_THRESHOLD,
  PROP_QOS,
  PROP_OBJECTS,
  PROP_FRAMES_PROCESSED,
  PROP_FRAMES_SKIPPED,
};

class Sam3TrackSettings {
public:
  static void install_properties(GObjectClass *klass);

  explicit Sam3TrackSettings(GstObject *element);

  /* Each takes the object lock; FALSE when @prop_id is not a tuning property. */
  bool set_property(guint prop_id, const GValue *value);
  bool get_property(guint prop_id, GValue *value);

  /* The options for a session; track.output_delay < 0 stands for auto (output_delay()). */
  sam3::VideoSessionOptions session_options();
  /* The frames each frame is held back in a pipeline that is @live or not. */
  guint output_delay(gboolean live);
  float mask_threshold();

private:
  GstObject *element_;
  guint max_objects_;
  gint output_delay_; /* -1: auto */
  gdouble detection_threshold_;
  gdouble new_object_threshold_;
  gdouble association_iou_;
  gdouble match_iou_;
  guint hotstart_frames_;
  guint hotstart_unmatched_;
  guint hotstart_duplicates_;
  guint recondition_interval_;
  gdouble occlusion_iou_;
  guint fill_hole_area_;
  guint max_lost_frames_;
  gboolean memory_selection_;
  gdouble mask_threshold_;
};

#endif /* __GST_SAM3_TRACK_SETTINGS_H__ */
