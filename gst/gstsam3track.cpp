/* gst-sam3: sam3track.
 *
 * A GstBaseTransform that queues buffers itself (submit_input_buffer / generate_output):
 * with output-delay > 0 a frame leaves only once the video loop's young-object rules have
 * settled it. The model work lives in libsam3 (video/tracking_loop.h,
 * tracker/sam2_tracker.h); this file maps buffers, metadata and properties onto it.
 */
/**
 * SECTION:element-sam3track
 * @title: sam3track
 *
 * Keeps the identity of every instance across frames with SAM 3's memory-bank tracker:
 * objects found by an upstream sam3detect are tracked from frame to frame, associated with
 * new detections, born, retired, and reconditioned as SAM 3's video model does it. The
 * #GstSam3Meta of each frame then holds the tracked instances, each with a persistent
 * track id (and an "object_id" parameter on its region-of-interest meta).
 *
 * The backbone features come from sam3detect on the frames it analysed; on the others
 * (interval, QoS) sam3track runs the backbone itself with the same model. Objects can also
 * be added, refined and removed by the application through action signals.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! \
 *     sam3detect model=/models/sam3 prompt=person ! sam3track ! sam3overlay ! \
 *     videoconvert ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsam3track.h"

#include "gstsam3detect.h"
#include "gstsam3features.h"
#include "gstsam3masks.h"
#include "gstsam3meta.h"
#include "gstsam3qos.h"
#include "gstsam3rgb.h"

#include "image/image_predictor.h"
#include "image/prompts.h"
#include "model/registry.h"
#include "tracker/sam2_tracker.h"
#include "tracker/tracker_features.h"
#include "video/tracking_loop.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(gst_sam3_track_debug);
#define GST_CAT_DEFAULT gst_sam3_track_debug

/* The defaults are the reference video model's (sam3-reference.md section 8). */
#define DEFAULT_MODEL NULL
#define DEFAULT_DEVICE "cpu"
#define DEFAULT_PRECISION GST_SAM3_PRECISION_FP32
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
#define DEFAULT_QOS TRUE

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

enum {
  SIGNAL_ADD_BOX,
  SIGNAL_ADD_POINTS,
  SIGNAL_REFINE_OBJECT,
  SIGNAL_REMOVE_OBJECT,
  LAST_SIGNAL,
};
static guint gst_sam3_track_signals[LAST_SIGNAL] = {0};

#define VIDEO_FORMATS                                                                              \
  "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, I420, YV12, NV12, NV21, Y42B, "     \
  "Y444, YUY2, UYVY, GRAY8 }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(VIDEO_FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(VIDEO_FORMATS)));

/* An application request, applied on the next frame (the frame the user is looking at). */
struct Sam3TrackCommand {
  enum Kind { kAddBox, kAddPoints, kRefine, kRemove } kind;
  float x = 0, y = 0, w = 0, h = 0;
  std::vector<sam3::ClickPoint> points;
  std::string label;
  guint64 track_id = 0;
};

/* A buffer waiting for its results; frame < 0: it passes unchanged. */
struct Sam3HeldBuffer {
  GstBuffer *buffer;
  int64_t frame;
  bool done;
};

struct Sam3TrackState {
  std::shared_ptr<sam3::Model> own_model; /* from the model property, if set */
  std::shared_ptr<sam3::Model> model;     /* the model the tracker runs now */
  std::unique_ptr<sam3::ImagePredictor> encoder;
  std::unique_ptr<sam3::TrackingLoop> loop;
  sam3::TrackOptions options;
  bool memory_selection = true;
  std::vector<std::string> labels; /* label index -> concept text */
  std::set<int64_t> prompted;      /* objects the application added */
  std::deque<Sam3HeldBuffer> held;
  std::deque<GstBuffer *> ready;
  Sam3RgbConverter converter;
  int64_t next_frame = 0;
};

struct _GstSam3Track {
  GstBaseTransform parent;

  /* properties, under the object lock */
  gchar *model_path;
  gchar *device;
  GstSam3Precision precision;
  guint max_objects;
  gint output_delay; /* -1: auto (gst_sam3_track_output_delay) */
  gdouble detection_threshold;
  gdouble new_object_threshold;
  gdouble association_iou;
  gdouble match_iou;
  guint hotstart_frames;
  guint hotstart_unmatched;
  guint hotstart_duplicates;
  guint recondition_interval;
  gdouble occlusion_iou;
  guint fill_hole_area;
  guint max_lost_frames;
  gboolean memory_selection;
  gdouble mask_threshold;
  gboolean qos;
  guint objects;
  guint64 frames_processed;
  guint64 frames_skipped;
  GstClockTime earliest_time;
  std::vector<Sam3TrackCommand> *commands;

  /* streaming thread only */
  GstVideoInfo info;
  Sam3TrackState *state;
};

#define gst_sam3_track_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE(GstSam3Track, gst_sam3_track, GST_TYPE_BASE_TRANSFORM,
                        GST_DEBUG_CATEGORY_INIT(gst_sam3_track_debug, "sam3track", 0,
                                                "SAM 3 tracker"));
GST_ELEMENT_REGISTER_DEFINE(sam3track, "sam3track", GST_RANK_NONE, GST_TYPE_SAM3_TRACK);

/* The frames each frame is held back; output-delay=-1 is the official delay when the
 * pipeline is not live (nothing waits on it) and none when it is. The official loop releases
 * a frame once hotstart-frames frames are buffered, the frame itself included: frame k leaves
 * after frame k + hotstart-frames - 1. Call with the object lock held. */
static guint gst_sam3_track_output_delay(GstSam3Track *self, gboolean live) {
  if (self->output_delay >= 0)
    return (guint)self->output_delay;
  return live || self->hotstart_frames == 0 ? 0 : self->hotstart_frames - 1;
}

static void gst_sam3_track_set_property(GObject *object, guint prop_id, const GValue *value,
                                        GParamSpec *pspec) {
  GstSam3Track *self = GST_SAM3_TRACK(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
  case PROP_MODEL:
    g_free(self->model_path);
    self->model_path = g_value_dup_string(value);
    break;
  case PROP_DEVICE:
    g_free(self->device);
    self->device = g_value_dup_string(value);
    break;
  case PROP_PRECISION:
    self->precision = (GstSam3Precision)g_value_get_enum(value);
    break;
  case PROP_MAX_OBJECTS:
    self->max_objects = g_value_get_uint(value);
    break;
  case PROP_OUTPUT_DELAY:
    self->output_delay = g_value_get_int(value);
    break;
  case PROP_DETECTION_THRESHOLD:
    self->detection_threshold = g_value_get_double(value);
    break;
  case PROP_NEW_OBJECT_THRESHOLD:
    self->new_object_threshold = g_value_get_double(value);
    break;
  case PROP_ASSOCIATION_IOU:
    self->association_iou = g_value_get_double(value);
    break;
  case PROP_MATCH_IOU:
    self->match_iou = g_value_get_double(value);
    break;
  case PROP_HOTSTART_FRAMES:
    self->hotstart_frames = g_value_get_uint(value);
    break;
  case PROP_HOTSTART_UNMATCHED:
    self->hotstart_unmatched = g_value_get_uint(value);
    break;
  case PROP_HOTSTART_DUPLICATES:
    self->hotstart_duplicates = g_value_get_uint(value);
    break;
  case PROP_RECONDITION_INTERVAL:
    self->recondition_interval = g_value_get_uint(value);
    break;
  case PROP_OCCLUSION_IOU:
    self->occlusion_iou = g_value_get_double(value);
    break;
  case PROP_FILL_HOLE_AREA:
    self->fill_hole_area = g_value_get_uint(value);
    break;
  case PROP_MAX_LOST_FRAMES:
    self->max_lost_frames = g_value_get_uint(value);
    break;
  case PROP_MEMORY_SELECTION:
    self->memory_selection = g_value_get_boolean(value);
    break;
  case PROP_MASK_THRESHOLD:
    self->mask_threshold = g_value_get_double(value);
    break;
  case PROP_QOS:
    self->qos = g_value_get_boolean(value);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_sam3_track_get_property(GObject *object, guint prop_id, GValue *value,
                                        GParamSpec *pspec) {
  GstSam3Track *self = GST_SAM3_TRACK(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
  case PROP_MODEL:
    g_value_set_string(value, self->model_path);
    break;
  case PROP_DEVICE:
    g_value_set_string(value, self->device);
    break;
  case PROP_PRECISION:
    g_value_set_enum(value, self->precision);
    break;
  case PROP_MAX_OBJECTS:
    g_value_set_uint(value, self->max_objects);
    break;
  case PROP_OUTPUT_DELAY:
    g_value_set_int(value, self->output_delay);
    break;
  case PROP_DETECTION_THRESHOLD:
    g_value_set_double(value, self->detection_threshold);
    break;
  case PROP_NEW_OBJECT_THRESHOLD:
    g_value_set_double(value, self->new_object_threshold);
    break;
  case PROP_ASSOCIATION_IOU:
    g_value_set_double(value, self->association_iou);
    break;
  case PROP_MATCH_IOU:
    g_value_set_double(value, self->match_iou);
    break;
  case PROP_HOTSTART_FRAMES:
    g_value_set_uint(value, self->hotstart_frames);
    break;
  case PROP_HOTSTART_UNMATCHED:
    g_value_set_uint(value, self->hotstart_unmatched);
    break;
  case PROP_HOTSTART_DUPLICATES:
    g_value_set_uint(value, self->hotstart_duplicates);
    break;
  case PROP_RECONDITION_INTERVAL:
    g_value_set_uint(value, self->recondition_interval);
    break;
  case PROP_OCCLUSION_IOU:
    g_value_set_double(value, self->occlusion_iou);
    break;
  case PROP_FILL_HOLE_AREA:
    g_value_set_uint(value, self->fill_hole_area);
    break;
  case PROP_MAX_LOST_FRAMES:
    g_value_set_uint(value, self->max_lost_frames);
    break;
  case PROP_MEMORY_SELECTION:
    g_value_set_boolean(value, self->memory_selection);
    break;
  case PROP_MASK_THRESHOLD:
    g_value_set_double(value, self->mask_threshold);
    break;
  case PROP_QOS:
    g_value_set_boolean(value, self->qos);
    break;
  case PROP_OBJECTS:
    g_value_set_uint(value, self->objects);
    break;
  case PROP_FRAMES_PROCESSED:
    g_value_set_uint64(value, self->frames_processed);
    break;
  case PROP_FRAMES_SKIPPED:
    g_value_set_uint64(value, self->frames_skipped);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_sam3_track_queue_command(GstSam3Track *self, Sam3TrackCommand command) {
  GST_OBJECT_LOCK(self);
  self->commands->push_back(std::move(command));
  GST_OBJECT_UNLOCK(self);
}

static void gst_sam3_track_add_box(GstSam3Track *self, gfloat x, gfloat y, gfloat w, gfloat h,
                                   const gchar *label) {
  if (!(w > 0 && h > 0)) {
    GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS, ("add-box ignored: the box %gx%g is empty", w, h),
                        (NULL));
    return;
  }
  Sam3TrackCommand c{Sam3TrackCommand::kAddBox};
  c.x = x;
  c.y = y;
  c.w = w;
  c.h = h;
  c.label = label && *label ? label : "object";
  gst_sam3_track_queue_command(self, std::move(c));
}

static void gst_sam3_track_add_points(GstSam3Track *self, const gchar *points, const gchar *label) {
  Sam3TrackCommand c{Sam3TrackCommand::kAddPoints};
  try {
    c.points = sam3::parse_points(points ? points : "");
  } catch (const std::exception &e) {
    GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS, ("add-points ignored: %s", e.what()), (NULL));
    return;
  }
  c.label = label && *label ? label : "object";
  gst_sam3_track_queue_command(self, std::move(c));
}

static void gst_sam3_track_refine_object(GstSam3Track *self, guint64 track_id,
                                         const gchar *points) {
  Sam3TrackCommand c{Sam3TrackCommand::kRefine};
  try {
    c.points = sam3::parse_points(points ? points : "");
  } catch (const std::exception &e) {
    GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS, ("refine-object ignored: %s", e.what()), (NULL));
    return;
  }
  c.track_id = track_id;
  gst_sam3_track_queue_command(self, std::move(c));
}

static void gst_sam3_track_remove_object(GstSam3Track *self, guint64 track_id) {
  Sam3TrackCommand c{Sam3TrackCommand::kRemove};
  c.track_id = track_id;
  gst_sam3_track_queue_command(self, std::move(c));
}

static void gst_sam3_track_clear_buffers(Sam3TrackState *state) {
  for (auto &h : state->held)
    gst_buffer_unref(h.buffer);
  state->held.clear();
  for (GstBuffer *b : state->ready)
    gst_buffer_unref(b);
  state->ready.clear();
}

static gboolean gst_sam3_track_start(GstBaseTransform *trans) {
  GstSam3Track *self = GST_SAM3_TRACK(trans);
  auto state = std::make_unique<Sam3TrackState>();
  GST_OBJECT_LOCK(self);
  const std::string path = self->model_path ? self->model_path : "";
  const std::string device = self->device ? self->device : DEFAULT_DEVICE;
  const std::string precision =
      g_enum_get_value((GEnumClass *)g_type_class_peek(GST_TYPE_SAM3_PRECISION), self->precision)
          ->value_nick;
  sam3::VideoConfig &v = state->options.video;
  v.score_threshold_detection = self->detection_threshold;
  v.new_det_thresh = self->new_object_threshold;
  v.assoc_iou_thresh = self->association_iou;
  v.trk_assoc_iou_thresh = self->match_iou;
  v.hotstart_delay = self->hotstart_frames;
  v.hotstart_unmatch_thresh = std::min(self->hotstart_unmatched, self->hotstart_frames);
  v.hotstart_dup_thresh = std::min(self->hotstart_duplicates, self->hotstart_frames);
  v.recondition_every_nth_frame = self->recondition_interval;
  v.suppress_overlapping_based_on_recent_occlusion_threshold = self->occlusion_iou;
  v.fill_hole_area = self->fill_hole_area;
  state->options.output_delay = self->output_delay;
  state->options.max_objects = self->max_objects > 0 ? (int64_t)self->max_objects : -1;
  state->options.max_lost_frames = self->max_lost_frames;
  state->memory_selection = self->memory_selection;
  self->objects = 0;
  self->frames_processed = 0;
  self->frames_skipped = 0;
  self->earliest_time = GST_CLOCK_TIME_NONE;
  self->commands->clear();
  GST_OBJECT_UNLOCK(self);

  if (!path.empty()) {
    try {
      state->own_model = sam3::acquire_model(path, device, sam3::parse_precision(precision));
    } catch (const std::invalid_argument &e) {
      GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Invalid setting: %s", e.what()), (NULL));
      return FALSE;
    } catch (const std::exception &e) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Cannot load the SAM 3 model: %s", e.what()),
                        ("model=\"%s\" device=\"%s\"", path.c_str(), device.c_str()));
      return FALSE;
    }
    if (!state->own_model->has_tracker()) {
      GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("The model \"%s\" has no tracker", path.c_str()),
                        ("It is an image-only SAM 3 model (model_type \"%s\"); sam3track needs "
                         "a sam3_video release such as facebook/sam3.",
                         state->own_model->config().model_type.c_str()));
      return FALSE;
    }
  }
  self->state = state.release();
  return TRUE;
}

static gboolean gst_sam3_track_stop(GstBaseTransform *trans) {
  GstSam3Track *self = GST_SAM3_TRACK(trans);
  if (self->state)
    gst_sam3_track_clear_buffers(self->state);
  delete self->state;
  self->state = NULL;
  return TRUE;
}

static gboolean gst_sam3_track_set_caps(GstBaseTransform *trans, GstCaps *incaps,
                                        GstCaps *outcaps) {
  GstSam3Track *self = GST_SAM3_TRACK(trans);
  GstVideoInfo info;
  (void)outcaps;
  if (!gst_video_info_from_caps(&info, incaps)) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("Unsupported caps"),
                      ("cannot parse %" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  self->info = info;
  /* Tracks are kept across caps changes: the tracker works on the model's square input,
   * whatever the frame size. */
  if (self->state && !self->state->converter.configure(info)) {
    GST_ELEMENT_ERROR(
        self, CORE, NEGOTIATION,
        ("Cannot convert %s to RGB", gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info))),
        (NULL));
    return FALSE;
  }
  return TRUE;
}

/* Makes @model the one the tracker runs; a new model starts a new tracking session. */
/* Whether upstream is live, from a LATENCY query (a source that cannot answer is not live). */
static gboolean gst_sam3_track_upstream_is_live(GstSam3Track *self) {
  GstQuery *query = gst_query_new_latency();
  gboolean live = FALSE;
  if (gst_pad_peer_query(GST_BASE_TRANSFORM_SINK_PAD(self), query))
    gst_query_parse_latency(query, &live, NULL, NULL);
  gst_query_unref(query);
  return live;
}

static void gst_sam3_track_use_model(GstSam3Track *self,
                                     const std::shared_ptr<sam3::Model> &model) {
  Sam3TrackState *state = self->state;
  if (state->model == model)
    return;
  if (!model->has_tracker())
    throw std::invalid_argument("the upstream sam3detect runs an image-only SAM 3 model "
                                "(model_type \"" +
                                model->config().model_type +
                                "\"); sam3track needs a sam3_video release such as "
                                "facebook/sam3");
  sam3::Sam2TrackerOptions tracker_options;
  tracker_options.use_memory_selection = state->memory_selection;
  auto tracker = std::make_shared<sam3::Sam2Tracker>(model->tracker(), tracker_options);
  sam3::TrackOptions options = state->options;
  if (options.output_delay < 0) {
    const gboolean live = gst_sam3_track_upstream_is_live(self);
    GST_OBJECT_LOCK(self);
    options.output_delay = gst_sam3_track_output_delay(self, live);
    GST_OBJECT_UNLOCK(self);
    GST_INFO_OBJECT(self, "output-delay auto: %s pipeline, %" G_GINT64_FORMAT " frames",
                    live ? "live" : "non-live", options.output_delay);
  }
  /* Thresholds come from the element; the model's file supplies only its object limit. */
  options.video.max_num_objects = model->config().video.max_num_objects;
  state->loop = std::make_unique<sam3::TrackingLoop>(options, tracker);
  state->encoder = std::make_unique<sam3::ImagePredictor>(model);
  state->model = model;
  state->labels.clear();
  state->prompted.clear();
  GST_INFO_OBJECT(self, "tracking with the model in %s", model->files().dir.c_str());
}

static int64_t gst_sam3_track_label_index(Sam3TrackState *state, const std::string &text) {
  auto it = std::find(state->labels.begin(), state->labels.end(), text);
  if (it != state->labels.end())
    return it - state->labels.begin();
  state->labels.push_back(text);
  return (int64_t)state->labels.size() - 1;
}

static gboolean gst_sam3_track_is_late(GstSam3Track *self, GstBuffer *buf) {
  GST_OBJECT_LOCK(self);
  const gboolean qos = self->qos;
  const GstClockTime earliest = self->earliest_time;
  GST_OBJECT_UNLOCK(self);
  return qos && gst_sam3_qos_is_late(GST_BASE_TRANSFORM(self), buf, earliest);
}

/* Removes the region-of-interest metas an upstream element made from the instances about
 * to be replaced, so every instance is mirrored exactly once. */
static gboolean gst_sam3_track_drop_roi(GstBuffer *buffer, GstMeta **meta, gpointer user_data) {
  (void)buffer;
  const auto *labels = static_cast<const std::set<GQuark> *>(user_data);
  if ((*meta)->info->api != GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)
    return TRUE;
  auto *roi = (GstVideoRegionOfInterestMeta *)*meta;
  if (labels->count(roi->roi_type) &&
      gst_video_region_of_interest_meta_get_param(roi, "detection") != NULL) {
    *meta = NULL;
  }
  return TRUE;
}

static GstBuffer *gst_sam3_track_annotate(GstSam3Track *self, GstBuffer *buf,
                                          const sam3::FrameTracks &tracks, float mask_threshold) {
  Sam3TrackState *state = self->state;
  const gint W = GST_VIDEO_INFO_WIDTH(&self->info), H = GST_VIDEO_INFO_HEIGHT(&self->info);
  buf = gst_buffer_make_writable(buf);
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  if (!meta) {
    meta = gst_buffer_add_sam3_meta(buf, W, H);
    meta->frame_number = (guint64)tracks.frame_index;
  }
  std::set<GQuark> labels;
  for (guint i = 0; i < gst_sam3_meta_get_n_instances(meta); i++)
    labels.insert(gst_sam3_meta_get_instance(meta, i)->label);
  if (!labels.empty())
    gst_buffer_foreach_meta(buf, gst_sam3_track_drop_roi, &labels);
  gst_sam3_meta_clear_instances(meta);

  const float fw = (float)meta->frame_width, fh = (float)meta->frame_height;
  /* One device-to-host copy per frame, not one per object. */
  std::vector<torch::Tensor> device_masks;
  for (const auto &obj : tracks.objects)
    device_masks.push_back(obj.mask_logits);
  const torch::Tensor masks = device_masks.empty()
                                  ? torch::Tensor()
                                  : torch::stack(device_masks).to(torch::kCPU, torch::kFloat);
  for (size_t k = 0; k < tracks.objects.size(); k++) {
    const auto &obj = tracks.objects[k];
    const std::string &text = state->labels.at((size_t)obj.label);
    guint prompt_index = 0;
    while (prompt_index < gst_sam3_meta_get_n_prompts(meta) &&
           text != gst_sam3_meta_get_prompt(meta, prompt_index))
      prompt_index++;
    if (prompt_index == gst_sam3_meta_get_n_prompts(meta))
      prompt_index = gst_sam3_meta_add_prompt(meta, text.c_str());
    const float x0 = obj.box[0] * fw, y0 = obj.box[1] * fh;
    GstSam3Instance *inst =
        gst_sam3_meta_add_instance(meta, text.c_str(), prompt_index, obj.score, x0, y0,
                                   obj.box[2] * fw - x0, obj.box[3] * fh - y0);
    inst->track_id = (guint64)obj.object_id + 1;
    inst->provenance = state->prompted.count(obj.object_id) ? GST_SAM3_PROVENANCE_PROMPTED
                       : obj.is_new                         ? GST_SAM3_PROVENANCE_DETECTED
                                                            : GST_SAM3_PROVENANCE_PROPAGATED;
    gst_sam3_instance_set_mask_from_logits(inst, masks[(int64_t)k], (gint)fw, (gint)fh,
                                           mask_threshold);
  }
  gst_sam3_meta_attach_roi_metas(meta, buf);
  return buf;
}

/* Hands settled frames to the output queue, in stream order. */
static void gst_sam3_track_settle(GstSam3Track *self, const std::vector<sam3::FrameTracks> &results,
                                  float mask_threshold) {
  Sam3TrackState *state = self->state;
  for (const auto &r : results) {
    for (auto &h : state->held) {
      if (h.frame == r.frame_index) {
        h.buffer = gst_sam3_track_annotate(self, h.buffer, r, mask_threshold);
        h.done = true;
        break;
      }
    }
  }
  while (!state->held.empty() && state->held.front().done) {
    state->ready.push_back(state->held.front().buffer);
    state->held.pop_front();
  }
}

static void gst_sam3_track_apply_commands(GstSam3Track *self, const sam3::TrackerFrame &frame) {
  Sam3TrackState *state = self->state;
  std::vector<Sam3TrackCommand> commands;
  GST_OBJECT_LOCK(self);
  commands.swap(*self->commands);
  GST_OBJECT_UNLOCK(self);
  const float W = (float)GST_VIDEO_INFO_WIDTH(&self->info);
  const float H = (float)GST_VIDEO_INFO_HEIGHT(&self->info);
  const auto device = state->model->device();
  for (const auto &c : commands) {
    auto points = [&]() {
      auto xy = torch::empty({(int64_t)c.points.size(), 2});
      auto labels = torch::empty({(int64_t)c.points.size()}, torch::kInt64);
      for (size_t i = 0; i < c.points.size(); i++) {
        xy[i][0] = c.points[i].x / W;
        xy[i][1] = c.points[i].y / H;
        labels[i] = c.points[i].positive ? 1 : 0;
      }
      return std::make_pair(xy.to(device), labels.to(device));
    };
    try {
      switch (c.kind) {
      case Sam3TrackCommand::kAddBox: {
        auto box = torch::tensor({c.x / W, c.y / H, (c.x + c.w) / W, (c.y + c.h) / H}).to(device);
        const int64_t id =
            state->loop->add_object(frame, {}, {}, box, gst_sam3_track_label_index(state, c.label));
        state->prompted.insert(id);
        GST_INFO_OBJECT(self, "added object %" G_GINT64_FORMAT " from a box", id + 1);
        break;
      }
      case Sam3TrackCommand::kAddPoints: {
        auto [xy, labels] = points();
        const int64_t id = state->loop->add_object(frame, xy, labels, {},
                                                   gst_sam3_track_label_index(state, c.label));
        state->prompted.insert(id);
        GST_INFO_OBJECT(self, "added object %" G_GINT64_FORMAT " from points", id + 1);
        break;
      }
      case Sam3TrackCommand::kRefine: {
        auto [xy, labels] = points();
        state->loop->refine_object((int64_t)c.track_id - 1, frame, xy, labels);
        break;
      }
      case Sam3TrackCommand::kRemove:
        state->loop->remove_object((int64_t)c.track_id - 1);
        break;
      }
    } catch (const std::invalid_argument &e) {
      GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS, ("Tracker request ignored: %s", e.what()),
                          (NULL));
    }
  }
}

/* Runs the tracker on @buf. Returns the frame index given to the loop, or -1 when the frame
 * passes unchanged (no model known yet, or late). */
static int64_t gst_sam3_track_process(GstSam3Track *self, GstBuffer *buf,
                                      std::vector<sam3::FrameTracks> &results) {
  Sam3TrackState *state = self->state;
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  GstSam3Features *features = meta ? gst_sam3_features_get(meta) : NULL;

  std::shared_ptr<sam3::Model> model = features && features->model
                                           ? features->model
                                           : (state->model ? state->model : state->own_model);
  if (!model)
    return -1; /* nothing upstream analysed yet and no model of our own: nothing to track */
  gst_sam3_track_use_model(self, model);

  const bool have_backbone = features && features->model == model && features->backbone.defined();
  if (!have_backbone && gst_sam3_track_is_late(self, buf)) {
    GST_OBJECT_LOCK(self);
    self->frames_skipped++;
    GST_OBJECT_UNLOCK(self);
    return -1;
  }

  std::lock_guard<std::recursive_mutex> lock(model->run_mutex());
  torch::NoGradGuard no_grad;
  torch::Tensor backbone;
  if (have_backbone) {
    backbone = features->backbone;
  } else {
    const torch::Tensor rgb = state->converter.convert(buf);
    if (!rgb.defined())
      throw std::runtime_error("cannot map the video frame");
    backbone = state->encoder->encode(rgb).vision.backbone;
  }
  const int64_t index = state->next_frame++;
  const sam3::TrackerFrame frame =
      sam3::make_tracker_frame(index, backbone, model->tracker_neck(), model->tracker());

  sam3::FrameDetections detections;
  const guint n = meta ? gst_sam3_meta_get_n_instances(meta) : 0;
  if (have_backbone && features->detection_logits.defined() &&
      features->detection_logits.size(0) == (int64_t)n) {
    std::vector<float> scores;
    for (guint i = 0; i < n; i++) {
      const GstSam3Instance *inst = gst_sam3_meta_get_instance(meta, i);
      scores.push_back(inst->score);
      detections.labels.push_back(
          gst_sam3_track_label_index(state, gst_sam3_instance_get_label(inst)));
    }
    detections.mask_logits = features->detection_logits.to(model->device(), torch::kFloat);
    detections.scores = torch::tensor(scores).to(model->device());
  } else {
    /* The detector did not run on this frame (interval, QoS): propagate only. */
    detections.detector_ran = false;
  }
  results = state->loop->process(frame, detections);
  gst_sam3_track_apply_commands(self, frame);

  GST_OBJECT_LOCK(self);
  self->frames_processed++;
  self->objects = (guint)state->loop->num_objects();
  GST_OBJECT_UNLOCK(self);
  return index;
}

static GstFlowReturn gst_sam3_track_submit_input_buffer(GstBaseTransform *trans,
                                                        gboolean is_discont, GstBuffer *buf) {
  GstSam3Track *self = GST_SAM3_TRACK(trans);
  (void)is_discont;
  GST_OBJECT_LOCK(self);
  const float mask_threshold = (float)self->mask_threshold;
  GST_OBJECT_UNLOCK(self);
  std::vector<sam3::FrameTracks> results;
  int64_t index;
  try {
    index = gst_sam3_track_process(self, buf, results);
  } catch (const std::invalid_argument &e) {
    gst_buffer_unref(buf);
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Cannot track: %s", e.what()), (NULL));
    return GST_FLOW_ERROR;
  } catch (const std::exception &e) {
    gst_buffer_unref(buf);
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("SAM 3 tracking failed: %s", e.what()), (NULL));
    return GST_FLOW_ERROR;
  }
  self->state->held.push_back({buf, index, index < 0});
  try {
    gst_sam3_track_settle(self, results, mask_threshold);
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Cannot write the tracks: %s", e.what()), (NULL));
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

static GstFlowReturn gst_sam3_track_generate_output(GstBaseTransform *trans, GstBuffer **outbuf) {
  GstSam3Track *self = GST_SAM3_TRACK(trans);
  *outbuf = NULL;
  if (self->state && !self->state->ready.empty()) {
    *outbuf = self->state->ready.front();
    self->state->ready.pop_front();
  }
  return GST_FLOW_OK;
}

/* End of stream: the frames held back for output-delay get their results and leave. */
static GstFlowReturn gst_sam3_track_drain(GstSam3Track *self) {
  Sam3TrackState *state = self->state;
  if (!state)
    return GST_FLOW_OK;
  GST_OBJECT_LOCK(self);
  const float mask_threshold = (float)self->mask_threshold;
  GST_OBJECT_UNLOCK(self);
  try {
    if (state->loop)
      gst_sam3_track_settle(self, state->loop->flush(), mask_threshold);
  } catch (const std::exception &e) {
    GST_ELEMENT_WARNING(self, STREAM, FAILED, ("Cannot finish the held-back frames: %s", e.what()),
                        (NULL));
  }
  for (auto &h : state->held)
    state->ready.push_back(h.buffer);
  state->held.clear();
  GstFlowReturn ret = GST_FLOW_OK;
  while (!state->ready.empty()) {
    GstBuffer *b = state->ready.front();
    state->ready.pop_front();
    if (ret == GST_FLOW_OK)
      ret = gst_pad_push(GST_BASE_TRANSFORM_SRC_PAD(self), b);
    else
      gst_buffer_unref(b);
  }
  return ret;
}

static gboolean gst_sam3_track_sink_event(GstBaseTransform *trans, GstEvent *event) {
  GstSam3Track *self = GST_SAM3_TRACK(trans);
  switch (GST_EVENT_TYPE(event)) {
  case GST_EVENT_EOS:
    gst_sam3_track_drain(self);
    break;
  case GST_EVENT_CAPS: {
    /* Frames held back for output-delay must leave under the caps they were made with:
     * pushed after the new caps, downstream would read them in the new size or format. */
    GstCaps *caps = NULL, *current = gst_pad_get_current_caps(GST_BASE_TRANSFORM_SINK_PAD(trans));
    gst_event_parse_caps(event, &caps);
    if (current && !gst_caps_is_equal(caps, current))
      gst_sam3_track_drain(self);
    if (current)
      gst_caps_unref(current);
    break;
  }
  case GST_EVENT_FLUSH_STOP:
    /* A seek or flush starts a new scene: the memory of the old one would mislead. */
    if (self->state) {
      gst_sam3_track_clear_buffers(self->state);
      if (self->state->loop)
        self->state->loop->reset();
    }
    GST_OBJECT_LOCK(self);
    self->earliest_time = GST_CLOCK_TIME_NONE;
    self->objects = 0;
    GST_OBJECT_UNLOCK(self);
    break;
  default:
    break;
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->sink_event(trans, event);
}

static gboolean gst_sam3_track_src_event(GstBaseTransform *trans, GstEvent *event) {
  GstSam3Track *self = GST_SAM3_TRACK(trans);
  if (GST_EVENT_TYPE(event) == GST_EVENT_QOS) {
    GST_OBJECT_LOCK(self);
    self->earliest_time = gst_sam3_qos_earliest_time(event, self->earliest_time);
    GST_OBJECT_UNLOCK(self);
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->src_event(trans, event);
}

/* Held-back frames add output-delay frame durations to the latency. */
static gboolean gst_sam3_track_query(GstBaseTransform *trans, GstPadDirection direction,
                                     GstQuery *query) {
  GstSam3Track *self = GST_SAM3_TRACK(trans);
  gboolean ret = GST_BASE_TRANSFORM_CLASS(parent_class)->query(trans, direction, query);
  if (ret && direction == GST_PAD_SRC && GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
    gboolean live;
    GstClockTime min, max;
    gst_query_parse_latency(query, &live, &min, &max);
    GST_OBJECT_LOCK(self);
    const guint delay = gst_sam3_track_output_delay(self, live);
    GST_OBJECT_UNLOCK(self);
    const gint fps_n = GST_VIDEO_INFO_FPS_N(&self->info), fps_d = GST_VIDEO_INFO_FPS_D(&self->info);
    if (delay > 0 && fps_n > 0) {
      const GstClockTime ours = gst_util_uint64_scale(delay * GST_SECOND, fps_d, fps_n);
      min += ours;
      if (GST_CLOCK_TIME_IS_VALID(max))
        max += ours;
      gst_query_set_latency(query, live, min, max);
    }
  }
  return ret;
}

static void gst_sam3_track_finalize(GObject *object) {
  GstSam3Track *self = GST_SAM3_TRACK(object);
  g_free(self->model_path);
  g_free(self->device);
  if (self->state)
    gst_sam3_track_clear_buffers(self->state);
  delete self->state;
  delete self->commands;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_sam3_track_class_init(GstSam3TrackClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);

  gobject_class->set_property = gst_sam3_track_set_property;
  gobject_class->get_property = gst_sam3_track_get_property;
  gobject_class->finalize = gst_sam3_track_finalize;

  const GParamFlags rw = (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags ready = (GParamFlags)(rw | GST_PARAM_MUTABLE_READY);
  const GParamFlags playing = (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING);
  const GParamFlags readable = (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Model",
                          "SAM 3 video model folder (sam3_video, e.g. facebook/sam3) for frames "
                          "that arrive without sam3detect's features; unset: the upstream "
                          "sam3detect's model",
                          DEFAULT_MODEL, ready));
  g_object_class_install_property(
      gobject_class, PROP_DEVICE,
      g_param_spec_string("device", "Device",
                          "Where the model property's model runs: cpu, cuda or cuda:N",
                          DEFAULT_DEVICE, ready));
  g_object_class_install_property(
      gobject_class, PROP_PRECISION,
      g_param_spec_enum("precision", "Precision", "Arithmetic the model property's model runs in",
                        GST_TYPE_SAM3_PRECISION, DEFAULT_PRECISION, ready));
  g_object_class_install_property(
      gobject_class, PROP_MAX_OBJECTS,
      g_param_spec_uint("max-objects", "Max objects",
                        "Most objects tracked at once; beyond it the best-scoring new "
                        "detections win (0 = the model's limit)",
                        0, G_MAXUINT16, DEFAULT_MAX_OBJECTS, ready));
  g_object_class_install_property(
      gobject_class, PROP_OUTPUT_DELAY,
      g_param_spec_int("output-delay", "Output delay",
                       "Frames to hold each frame back so that young objects the loop "
                       "retracts never appear; adds to the latency. -1 = auto: "
                       "hotstart-frames - 1 when the pipeline is not live (the official "
                       "behaviour), 0 when it is",
                       -1, 120, DEFAULT_OUTPUT_DELAY, ready));
  g_object_class_install_property(
      gobject_class, PROP_DETECTION_THRESHOLD,
      g_param_spec_double("detection-threshold", "Detection threshold",
                          "Detections below this score are not used for tracking", 0.0, 1.0,
                          DEFAULT_DETECTION_THRESHOLD, ready));
  g_object_class_install_property(
      gobject_class, PROP_NEW_OBJECT_THRESHOLD,
      g_param_spec_double("new-object-threshold", "New object threshold",
                          "Score a detection that matches no track needs to start a new object",
                          0.0, 1.0, DEFAULT_NEW_OBJECT_THRESHOLD, ready));
  g_object_class_install_property(
      gobject_class, PROP_ASSOCIATION_IOU,
      g_param_spec_double("association-iou", "Association IoU",
                          "Mask IoU with a track above which a detection is not a new object", 0.0,
                          1.0, DEFAULT_ASSOCIATION_IOU, ready));
  g_object_class_install_property(
      gobject_class, PROP_MATCH_IOU,
      g_param_spec_double("match-iou", "Match IoU",
                          "Mask IoU with a detection a track needs to count as seen on a frame",
                          0.0, 1.0, DEFAULT_MATCH_IOU, ready));
  g_object_class_install_property(
      gobject_class, PROP_HOTSTART_FRAMES,
      g_param_spec_uint(
          "hotstart-frames", "Hotstart frames",
          "Probation of a new object, in frames: within it, an object often unmatched "
          "or duplicating an older one is removed (0 = no probation)",
          0, 1000, DEFAULT_HOTSTART_FRAMES, ready));
  g_object_class_install_property(
      gobject_class, PROP_HOTSTART_UNMATCHED,
      g_param_spec_uint("hotstart-unmatched", "Hotstart unmatched",
                        "Frames without a matching detection that remove an object on probation", 0,
                        1000, DEFAULT_HOTSTART_UNMATCHED, ready));
  g_object_class_install_property(
      gobject_class, PROP_HOTSTART_DUPLICATES,
      g_param_spec_uint("hotstart-duplicates", "Hotstart duplicates",
                        "Frames sharing a detection with an older object that remove an object "
                        "on probation",
                        0, 1000, DEFAULT_HOTSTART_DUPLICATES, ready));
  g_object_class_install_property(
      gobject_class, PROP_RECONDITION_INTERVAL,
      g_param_spec_uint("recondition-interval", "Recondition interval",
                        "Every N-th frame, confident detections re-anchor the tracks they match "
                        "(0 = never)",
                        0, 10000, DEFAULT_RECONDITION_INTERVAL, ready));
  g_object_class_install_property(
      gobject_class, PROP_OCCLUSION_IOU,
      g_param_spec_double("occlusion-iou", "Occlusion IoU",
                          "Of two tracks overlapping at least this much, the one occluded more "
                          "recently is hidden",
                          0.0, 1.0, DEFAULT_OCCLUSION_IOU, ready));
  g_object_class_install_property(
      gobject_class, PROP_FILL_HOLE_AREA,
      g_param_spec_uint("fill-hole-area", "Fill hole area",
                        "Holes and specks of at most this many low-resolution mask pixels are "
                        "filled / removed (0 = off)",
                        0, 100000, DEFAULT_FILL_HOLE_AREA, ready));
  g_object_class_install_property(
      gobject_class, PROP_MAX_LOST_FRAMES,
      g_param_spec_uint("max-lost-frames", "Max lost frames",
                        "Remove a detected object after this many frames in a row without a "
                        "matching detection, so endless streams drop objects that left; by then "
                        "the reference's keep-alive rule already hides it (0 = keep them, as "
                        "the reference)",
                        0, G_MAXINT, DEFAULT_MAX_LOST_FRAMES, ready));
  g_object_class_install_property(
      gobject_class, PROP_MEMORY_SELECTION,
      g_param_spec_boolean("memory-selection", "Memory selection",
                           "Read only past frames where the object was confidently seen (SAM 3's "
                           "temporal disambiguation); off: the latest frames",
                           DEFAULT_MEMORY_SELECTION, ready));
  g_object_class_install_property(
      gobject_class, PROP_MASK_THRESHOLD,
      g_param_spec_double("mask-threshold", "Mask threshold",
                          "Mask probability above which a pixel belongs to the object", 0.0, 1.0,
                          DEFAULT_MASK_THRESHOLD, playing));
  g_object_class_install_property(
      gobject_class, PROP_QOS,
      g_param_spec_boolean("qos", "QoS",
                           "Skip frames that downstream reports as already late when the "
                           "backbone would have to run here (they pass without tracks and are "
                           "counted in frames-skipped)",
                           DEFAULT_QOS, playing));
  g_object_class_install_property(
      gobject_class, PROP_OBJECTS,
      g_param_spec_uint("objects", "Objects", "Objects tracked now", 0, G_MAXUINT, 0, readable));
  g_object_class_install_property(
      gobject_class, PROP_FRAMES_PROCESSED,
      g_param_spec_uint64("frames-processed", "Frames processed",
                          "Frames the tracker ran on since the element started", 0, G_MAXUINT64, 0,
                          readable));
  g_object_class_install_property(
      gobject_class, PROP_FRAMES_SKIPPED,
      g_param_spec_uint64("frames-skipped", "Frames skipped",
                          "Late frames passed on without tracking (QoS) since the element started",
                          0, G_MAXUINT64, 0, readable));

  /**
   * GstSam3Track::add-box:
   * @track: the element
   * @x: left edge, frame pixels
   * @y: top edge, frame pixels
   * @width: box width, frame pixels
   * @height: box height, frame pixels
   * @label: the object's label (NULL: "object")
   *
   * Starts tracking the object in the box on the next frame. Its instances carry
   * provenance "prompted".
   */
  gst_sam3_track_signals[SIGNAL_ADD_BOX] = g_signal_new_class_handler(
      "add-box", G_TYPE_FROM_CLASS(klass), (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(gst_sam3_track_add_box), NULL, NULL, NULL, G_TYPE_NONE, 5, G_TYPE_FLOAT,
      G_TYPE_FLOAT, G_TYPE_FLOAT, G_TYPE_FLOAT, G_TYPE_STRING);
  /**
   * GstSam3Track::add-points:
   * @track: the element
   * @points: clicks "x,y[,pos|neg];..." in frame pixels
   * @label: the object's label (NULL: "object")
   *
   * Starts tracking the object under the clicks on the next frame.
   */
  gst_sam3_track_signals[SIGNAL_ADD_POINTS] = g_signal_new_class_handler(
      "add-points", G_TYPE_FROM_CLASS(klass), (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(gst_sam3_track_add_points), NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING,
      G_TYPE_STRING);
  /**
   * GstSam3Track::refine-object:
   * @track: the element
   * @track_id: the object's track id
   * @points: clicks "x,y[,pos|neg];..." in frame pixels
   *
   * Corrects a tracked object with clicks on the next frame.
   */
  gst_sam3_track_signals[SIGNAL_REFINE_OBJECT] = g_signal_new_class_handler(
      "refine-object", G_TYPE_FROM_CLASS(klass),
      (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION), G_CALLBACK(gst_sam3_track_refine_object),
      NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_STRING);
  /**
   * GstSam3Track::remove-object:
   * @track: the element
   * @track_id: the object's track id
   *
   * Stops tracking an object from the next frame on.
   */
  gst_sam3_track_signals[SIGNAL_REMOVE_OBJECT] = g_signal_new_class_handler(
      "remove-object", G_TYPE_FROM_CLASS(klass),
      (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION), G_CALLBACK(gst_sam3_track_remove_object),
      NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "SAM 3 tracker", "Filter/Analyzer/Video",
      "Keeps the identity of SAM 3 instances across frames with SAM 3's memory-bank tracker "
      "and writes track ids and tracked masks into the metadata",
      "gst-sam3 developers");

  trans_class->start = GST_DEBUG_FUNCPTR(gst_sam3_track_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_sam3_track_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR(gst_sam3_track_set_caps);
  trans_class->submit_input_buffer = GST_DEBUG_FUNCPTR(gst_sam3_track_submit_input_buffer);
  trans_class->generate_output = GST_DEBUG_FUNCPTR(gst_sam3_track_generate_output);
  trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_sam3_track_sink_event);
  trans_class->src_event = GST_DEBUG_FUNCPTR(gst_sam3_track_src_event);
  trans_class->query = GST_DEBUG_FUNCPTR(gst_sam3_track_query);
  trans_class->passthrough_on_same_caps = FALSE;
}

static void gst_sam3_track_init(GstSam3Track *self) {
  self->model_path = NULL;
  self->device = g_strdup(DEFAULT_DEVICE);
  self->precision = DEFAULT_PRECISION;
  self->max_objects = DEFAULT_MAX_OBJECTS;
  self->output_delay = DEFAULT_OUTPUT_DELAY;
  self->detection_threshold = DEFAULT_DETECTION_THRESHOLD;
  self->new_object_threshold = DEFAULT_NEW_OBJECT_THRESHOLD;
  self->association_iou = DEFAULT_ASSOCIATION_IOU;
  self->match_iou = DEFAULT_MATCH_IOU;
  self->hotstart_frames = DEFAULT_HOTSTART_FRAMES;
  self->hotstart_unmatched = DEFAULT_HOTSTART_UNMATCHED;
  self->hotstart_duplicates = DEFAULT_HOTSTART_DUPLICATES;
  self->recondition_interval = DEFAULT_RECONDITION_INTERVAL;
  self->occlusion_iou = DEFAULT_OCCLUSION_IOU;
  self->fill_hole_area = DEFAULT_FILL_HOLE_AREA;
  self->max_lost_frames = DEFAULT_MAX_LOST_FRAMES;
  self->memory_selection = DEFAULT_MEMORY_SELECTION;
  self->mask_threshold = DEFAULT_MASK_THRESHOLD;
  self->qos = DEFAULT_QOS;
  self->earliest_time = GST_CLOCK_TIME_NONE;
  self->commands = new std::vector<Sam3TrackCommand>();
  self->state = NULL;
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), FALSE);
}
