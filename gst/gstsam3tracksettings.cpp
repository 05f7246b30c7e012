#include "gstsam3tracksettings.h"

#include <algorithm>

/* The defaults are the reference video model's (sam3-reference.md section 8). */
#define DEFAULT_MAX_OBJECTS 0
#define DEFAULT_OUTPUT_DELAY -1 /* auto */
#define DEFAULT_DETECTION_THRESHOLD 0.5
#define DEFAULT_NEW_OBJECT_THRESHOLD 0.7
#define DEFAULT_ASSOCIATION_IOU 0.1
#define DEFAULT_MATCH_IOU 0.5
#define DEFAULT_HOTSTART_FRAMES 15
#define DEFAULT_HOTSTART_UNMATCHED 8
#define DEFAULT_HOTSTART_DUPLICATES 8
#define DEFAULT_RECONDITION_INTERVAL 16
#define DEFAULT_OCCLUSION_IOU 0.7
#define DEFAULT_FILL_HOLE_AREA 16
#define DEFAULT_MAX_LOST_FRAMES ((guint)sam3::kDefaultMaxLostFrames)
#define DEFAULT_MEMORY_SELECTION TRUE
#define DEFAULT_MASK_THRESHOLD 0.5

void Sam3TrackSettings::install_properties(GObjectClass *klass) {
  const GParamFlags rw = (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags ready = (GParamFlags)(rw | GST_PARAM_MUTABLE_READY);
  const GParamFlags playing = (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING);

  g_object_class_install_property(
      klass, PROP_MAX_OBJECTS,
      g_param_spec_uint("max-objects", "Max objects",
                        "Most objects tracked at once; beyond it the best-scoring new "
                        "detections win (0 = the model's limit)",
                        0, G_MAXUINT16, DEFAULT_MAX_OBJECTS, ready));
  g_object_class_install_property(
      klass, PROP_OUTPUT_DELAY,
      g_param_spec_int("output-delay", "Output delay",
                       "Frames to hold each frame back so that young objects the loop "
                       "retracts never appear; adds to the latency. -1 = auto: "
                       "hotstart-frames - 1 when the pipeline is not live (the official "
                       "behaviour), 0 when it is",
                       -1, 120, DEFAULT_OUTPUT_DELAY, ready));
  g_object_class_install_property(
      klass, PROP_DETECTION_THRESHOLD,
      g_param_spec_double("detection-threshold", "Detection threshold",
                          "Detections below this score are not used for tracking", 0.0, 1.0,
                          DEFAULT_DETECTION_THRESHOLD, ready));
  g_object_class_install_property(
      klass, PROP_NEW_OBJECT_THRESHOLD,
      g_param_spec_double("new-object-threshold", "New object threshold",
                          "Score a detection that matches no track needs to start a new object",
                          0.0, 1.0, DEFAULT_NEW_OBJECT_THRESHOLD, ready));
  g_object_class_install_property(
      klass, PROP_ASSOCIATION_IOU,
      g_param_spec_double("association-iou", "Association IoU",
                          "Mask IoU with a track above which a detection is not a new object", 0.0,
                          1.0, DEFAULT_ASSOCIATION_IOU, ready));
  g_object_class_install_property(
      klass, PROP_MATCH_IOU,
      g_param_spec_double("match-iou", "Match IoU",
                          "Mask IoU with a detection a track needs to count as seen on a frame",
                          0.0, 1.0, DEFAULT_MATCH_IOU, ready));
  g_object_class_install_property(
      klass, PROP_HOTSTART_FRAMES,
      g_param_spec_uint(
          "hotstart-frames", "Hotstart frames",
          "Probation of a new object, in frames: within it, an object often unmatched "
          "or duplicating an older one is removed (0 = no probation)",
          0, 1000, DEFAULT_HOTSTART_FRAMES, ready));
  g_object_class_install_property(
      klass, PROP_HOTSTART_UNMATCHED,
      g_param_spec_uint("hotstart-unmatched", "Hotstart unmatched",
                        "Frames without a matching detection that remove an object on probation", 0,
                        1000, DEFAULT_HOTSTART_UNMATCHED, ready));
  g_object_class_install_property(
      klass, PROP_HOTSTART_DUPLICATES,
      g_param_spec_uint("hotstart-duplicates", "Hotstart duplicates",
                        "Frames sharing a detection with an older object that remove an object "
                        "on probation",
                        0, 1000, DEFAULT_HOTSTART_DUPLICATES, ready));
  g_object_class_install_property(
      klass, PROP_RECONDITION_INTERVAL,
      g_param_spec_uint("recondition-interval", "Recondition interval",
                        "Every N-th frame, confident detections re-anchor the tracks they match "
                        "(0 = never)",
                        0, 10000, DEFAULT_RECONDITION_INTERVAL, ready));
  g_object_class_install_property(
      klass, PROP_OCCLUSION_IOU,
      g_param_spec_double("occlusion-iou", "Occlusion IoU",
                          "Of two tracks overlapping at least this much, the one occluded more "
                          "recently is hidden",
                          0.0, 1.0, DEFAULT_OCCLUSION_IOU, ready));
  g_object_class_install_property(
      klass, PROP_FILL_HOLE_AREA,
      g_param_spec_uint("fill-hole-area", "Fill hole area",
                        "Holes and specks of at most this many low-resolution mask pixels are "
                        "filled / removed (0 = off)",
                        0, 100000, DEFAULT_FILL_HOLE_AREA, ready));
  g_object_class_install_property(
      klass, PROP_MAX_LOST_FRAMES,
      g_param_spec_uint("max-lost-frames", "Max lost frames",
                        "Remove a detected object after this many frames in a row without a "
                        "matching detection, so endless streams drop objects that left; by then "
                        "the reference's keep-alive rule already hides it (0 = keep them, as "
                        "the reference)",
                        0, G_MAXINT, DEFAULT_MAX_LOST_FRAMES, ready));
  g_object_class_install_property(
      klass, PROP_MEMORY_SELECTION,
      g_param_spec_boolean("memory-selection", "Memory selection",
                           "Read only past frames where the object was confidently seen (SAM 3's "
                           "temporal disambiguation); off: the latest frames",
                           DEFAULT_MEMORY_SELECTION, ready));
  g_object_class_install_property(
      klass, PROP_MASK_THRESHOLD,
      g_param_spec_double("mask-threshold", "Mask threshold",
                          "Mask probability above which a pixel belongs to the object", 0.0, 1.0,
                          DEFAULT_MASK_THRESHOLD, playing));
}

Sam3TrackSettings::Sam3TrackSettings(GstObject *element)
    : element_(element), max_objects_(DEFAULT_MAX_OBJECTS), output_delay_(DEFAULT_OUTPUT_DELAY),
      detection_threshold_(DEFAULT_DETECTION_THRESHOLD),
      new_object_threshold_(DEFAULT_NEW_OBJECT_THRESHOLD),
      association_iou_(DEFAULT_ASSOCIATION_IOU), match_iou_(DEFAULT_MATCH_IOU),
      hotstart_frames_(DEFAULT_HOTSTART_FRAMES), hotstart_unmatched_(DEFAULT_HOTSTART_UNMATCHED),
      hotstart_duplicates_(DEFAULT_HOTSTART_DUPLICATES),
      recondition_interval_(DEFAULT_RECONDITION_INTERVAL), occlusion_iou_(DEFAULT_OCCLUSION_IOU),
      fill_hole_area_(DEFAULT_FILL_HOLE_AREA), max_lost_frames_(DEFAULT_MAX_LOST_FRAMES),
      memory_selection_(DEFAULT_MEMORY_SELECTION), mask_threshold_(DEFAULT_MASK_THRESHOLD) {}

bool Sam3TrackSettings::set_property(guint prop_id, const GValue *value) {
  bool ours = true;
  GST_OBJECT_LOCK(element_);
  switch (prop_id) {
  case PROP_MAX_OBJECTS:
    max_objects_ = g_value_get_uint(value);
    break;
  case PROP_OUTPUT_DELAY:
    output_delay_ = g_value_get_int(value);
    break;
  case PROP_DETECTION_THRESHOLD:
    detection_threshold_ = g_value_get_double(value);
    break;
  case PROP_NEW_OBJECT_THRESHOLD:
    new_object_threshold_ = g_value_get_double(value);
    break;
  case PROP_ASSOCIATION_IOU:
    association_iou_ = g_value_get_double(value);
    break;
  case PROP_MATCH_IOU:
    match_iou_ = g_value_get_double(value);
    break;
  case PROP_HOTSTART_FRAMES:
    hotstart_frames_ = g_value_get_uint(value);
    break;
  case PROP_HOTSTART_UNMATCHED:
    hotstart_unmatched_ = g_value_get_uint(value);
    break;
  case PROP_HOTSTART_DUPLICATES:
    hotstart_duplicates_ = g_value_get_uint(value);
    break;
  case PROP_RECONDITION_INTERVAL:
    recondition_interval_ = g_value_get_uint(value);
    break;
  case PROP_OCCLUSION_IOU:
    occlusion_iou_ = g_value_get_double(value);
    break;
  case PROP_FILL_HOLE_AREA:
    fill_hole_area_ = g_value_get_uint(value);
    break;
  case PROP_MAX_LOST_FRAMES:
    max_lost_frames_ = g_value_get_uint(value);
    break;
  case PROP_MEMORY_SELECTION:
    memory_selection_ = g_value_get_boolean(value);
    break;
  case PROP_MASK_THRESHOLD:
    mask_threshold_ = g_value_get_double(value);
    break;
  default:
    ours = false;
    break;
  }
  GST_OBJECT_UNLOCK(element_);
  return ours;
}

bool Sam3TrackSettings::get_property(guint prop_id, GValue *value) {
  bool ours = true;
  GST_OBJECT_LOCK(element_);
  switch (prop_id) {
  case PROP_MAX_OBJECTS:
    g_value_set_uint(value, max_objects_);
    break;
  case PROP_OUTPUT_DELAY:
    g_value_set_int(value, output_delay_);
    break;
  case PROP_DETECTION_THRESHOLD:
    g_value_set_double(value, detection_threshold_);
    break;
  case PROP_NEW_OBJECT_THRESHOLD:
    g_value_set_double(value, new_object_threshold_);
    break;
  case PROP_ASSOCIATION_IOU:
    g_value_set_double(value, association_iou_);
    break;
  case PROP_MATCH_IOU:
    g_value_set_double(value, match_iou_);
    break;
  case PROP_HOTSTART_FRAMES:
    g_value_set_uint(value, hotstart_frames_);
    break;
  case PROP_HOTSTART_UNMATCHED:
    g_value_set_uint(value, hotstart_unmatched_);
    break;
  case PROP_HOTSTART_DUPLICATES:
    g_value_set_uint(value, hotstart_duplicates_);
    break;
  case PROP_RECONDITION_INTERVAL:
    g_value_set_uint(value, recondition_interval_);
    break;
  case PROP_OCCLUSION_IOU:
    g_value_set_double(value, occlusion_iou_);
    break;
  case PROP_FILL_HOLE_AREA:
    g_value_set_uint(value, fill_hole_area_);
    break;
  case PROP_MAX_LOST_FRAMES:
    g_value_set_uint(value, max_lost_frames_);
    break;
  case PROP_MEMORY_SELECTION:
    g_value_set_boolean(value, memory_selection_);
    break;
  case PROP_MASK_THRESHOLD:
    g_value_set_double(value, mask_threshold_);
    break;
  default:
    ours = false;
    break;
  }
  GST_OBJECT_UNLOCK(element_);
  return ours;
}

sam3::VideoSessionOptions Sam3TrackSettings::session_options() {
  sam3::VideoSessionOptions session;
  GST_OBJECT_LOCK(element_);
  sam3::TrackOptions &options = session.track;
  sam3::VideoConfig &v = options.video;
  v.score_threshold_detection = detection_threshold_;
  v.new_det_thresh = new_object_threshold_;
  v.assoc_iou_thresh = association_iou_;
  v.trk_assoc_iou_thresh = match_iou_;
  v.hotstart_delay = hotstart_frames_;
  v.hotstart_unmatch_thresh = std::min(hotstart_unmatched_, hotstart_frames_);
  v.hotstart_dup_thresh = std::min(hotstart_duplicates_, hotstart_frames_);
  v.recondition_every_nth_frame = recondition_interval_;
  v.suppress_overlapping_based_on_recent_occlusion_threshold = occlusion_iou_;
  v.fill_hole_area = fill_hole_area_;
  options.output_delay = output_delay_;
  options.max_objects = max_objects_ > 0 ? (int64_t)max_objects_ : -1;
  options.max_lost_frames = max_lost_frames_;
  session.memory_selection = memory_selection_;
  GST_OBJECT_UNLOCK(element_);
  return session;
}

/* output-delay=-1 is the official delay when the pipeline is not live (nothing waits on it)
 * and none when it is. The official loop releases a frame once hotstart-frames frames are
 * buffered, the frame itself included: frame k leaves after frame k + hotstart-frames - 1. */
guint Sam3TrackSettings::output_delay(gboolean live) {
  GST_OBJECT_LOCK(element_);
  const guint delay = output_delay_ >= 0              ? (guint)output_delay_
                      : live || hotstart_frames_ == 0 ? 0
                                                      : hotstart_frames_ - 1;
  GST_OBJECT_UNLOCK(element_);
  return delay;
}

float Sam3TrackSettings::mask_threshold() {
  GST_OBJECT_LOCK(element_);
  const float threshold = (float)mask_threshold_;
  GST_OBJECT_UNLOCK(element_);
  return threshold;
}
