/* gst-sam3: sam3track.
 *
 * A GstBaseTransform that queues buffers itself (submit_input_buffer / generate_output):
 * with output-delay > 0 a frame leaves only once the video loop's young-object rules have
 * settled it. The tracking lives in libsam3's video session (video/video_session.h); this
 * file maps buffers, metadata, properties and signals onto it and holds each buffer until
 * the session releases its frame.
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

#include "gstsam3features.h"
#include "gstsam3masks.h"
#include "gstsam3meta.h"
#include "gstsam3modelelement.h"
#include "gstsam3tracksettings.h"

#include "image/prompts.h"
#include "video/video_session.h"

#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(gst_sam3_track_debug);
#define GST_CAT_DEFAULT gst_sam3_track_debug

static const Sam3ModelProperties model_properties = {
    {PROP_MODEL, "SAM 3 video model folder (sam3_video, e.g. facebook/sam3) for frames "
                 "that arrive without sam3detect's features; unset: the upstream "
                 "sam3detect's model"},
    {PROP_DEVICE, "Where the model property's model runs: cpu, cuda or cuda:N"},
    {PROP_PRECISION, "Arithmetic the model property's model runs in"},
    {PROP_QOS, "Skip frames that downstream reports as already late when the "
               "backbone would have to run here (they pass without tracks and are "
               "counted in frames-skipped)"},
    {PROP_FRAMES_PROCESSED, "Frames the tracker ran on since the element started"},
    {PROP_FRAMES_SKIPPED, "Late frames passed on without tracking (QoS) since the element started"},
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

/* A buffer waiting for its results; frame < 0: it passes unchanged. */
struct Sam3HeldBuffer {
  GstBuffer *buffer;
  int64_t frame;
  bool done;
};

struct Sam3TrackState {
  std::shared_ptr<sam3::Model> own_model; /* from the model property, if set */
  sam3::VideoSessionOptions options;      /* output_delay < 0: auto, resolved per model */
  std::deque<Sam3HeldBuffer> held;
  std::deque<GstBuffer *> ready;
};

struct _GstSam3Track {
  GstBaseTransform parent;
  Sam3ModelElement *base;
  Sam3TrackSettings *settings;

  guint objects; /* under the object lock */
  /* Never NULL; start and stop each put a fresh one in place, so requests from before a
   * start are dropped and a stopped element holds no model. The pointer is under the object
   * lock: action signals queue requests from application threads. */
  sam3::VideoSession *session;

  /* streaming thread only */
  Sam3TrackState *state;
};

#define gst_sam3_track_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE(GstSam3Track, gst_sam3_track, GST_TYPE_BASE_TRANSFORM,
                        GST_DEBUG_CATEGORY_INIT(gst_sam3_track_debug, "sam3track", 0,
                                                "SAM 3 tracker"));
GST_ELEMENT_REGISTER_DEFINE(sam3track, "sam3track", GST_RANK_NONE, GST_TYPE_SAM3_TRACK);

static void gst_sam3_track_set_property(GObject *object, guint prop_id, const GValue *value,
                                        GParamSpec *pspec) {
  GstSam3Track *self = GST_SAM3_TRACK(object);
  if (!self->base->set_property(prop_id, value) && !self->settings->set_property(prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static void gst_sam3_track_get_property(GObject *object, guint prop_id, GValue *value,
                                        GParamSpec *pspec) {
  GstSam3Track *self = GST_SAM3_TRACK(object);
  if (self->base->get_property(prop_id, value) || self->settings->get_property(prop_id, value))
    return;
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
  case PROP_OBJECTS:
    g_value_set_uint(value, self->objects);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_sam3_track_add_box(GstSam3Track *self, gfloat x, gfloat y, gfloat w, gfloat h,
                                   const gchar *label) {
  std::string error;
  GST_OBJECT_LOCK(self);
  try {
    self->session->add_box(x, y, w, h, label ? label : "");
  } catch (const std::invalid_argument &e) {
    error = e.what();
  }
  GST_OBJECT_UNLOCK(self);
  if (!error.empty())
    GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS, ("add-box ignored: %s", error.c_str()), (NULL));
}

static void gst_sam3_track_add_points(GstSam3Track *self, const gchar *points, const gchar *label) {
  std::vector<sam3::ClickPoint> clicks;
  try {
    clicks = sam3::parse_points(points ? points : "");
  } catch (const std::exception &e) {
    GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS, ("add-points ignored: %s", e.what()), (NULL));
    return;
  }
  GST_OBJECT_LOCK(self);
  self->session->add_points(std::move(clicks), label ? label : "");
  GST_OBJECT_UNLOCK(self);
}

static void gst_sam3_track_refine_object(GstSam3Track *self, guint64 track_id,
                                         const gchar *points) {
  std::vector<sam3::ClickPoint> clicks;
  try {
    clicks = sam3::parse_points(points ? points : "");
  } catch (const std::exception &e) {
    GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS, ("refine-object ignored: %s", e.what()), (NULL));
    return;
  }
  GST_OBJECT_LOCK(self);
  self->session->refine_object((int64_t)track_id - 1, std::move(clicks));
  GST_OBJECT_UNLOCK(self);
}

static void gst_sam3_track_remove_object(GstSam3Track *self, guint64 track_id) {
  GST_OBJECT_LOCK(self);
  self->session->remove_object((int64_t)track_id - 1);
  GST_OBJECT_UNLOCK(self);
}

static void gst_sam3_track_renew_session(GstSam3Track *self) {
  auto *fresh = new sam3::VideoSession();
  GST_OBJECT_LOCK(self);
  sam3::VideoSession *old = self->session;
  self->session = fresh;
  GST_OBJECT_UNLOCK(self);
  delete old;
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
  state->options = self->settings->session_options();
  GST_OBJECT_LOCK(self);
  self->objects = 0;
  GST_OBJECT_UNLOCK(self);
  gst_sam3_track_renew_session(self);
  self->base->start();

  if (!self->base->acquire_model(state->own_model))
    return FALSE;
  if (state->own_model && !state->own_model->has_tracker()) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                      ("The model \"%s\" has no tracker", self->base->model_path().c_str()),
                      ("It is an image-only SAM 3 model (model_type \"%s\"); sam3track needs "
                       "a sam3_video release such as facebook/sam3.",
                       state->own_model->config().model_type.c_str()));
    return FALSE;
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
  gst_sam3_track_renew_session(self);
  self->base->stop();
  return TRUE;
}

/* Tracks are kept across caps changes: the tracker works on the model's square input,
 * whatever the frame size. */
static gboolean gst_sam3_track_set_caps(GstBaseTransform *trans, GstCaps *incaps,
                                        GstCaps *outcaps) {
  (void)outcaps;
  return GST_SAM3_TRACK(trans)->base->set_caps(incaps);
}

/* Whether upstream is live, from a LATENCY query (a source that cannot answer is not live). */
static gboolean gst_sam3_track_upstream_is_live(GstSam3Track *self) {
  GstQuery *query = gst_query_new_latency();
  gboolean live = FALSE;
  if (gst_pad_peer_query(GST_BASE_TRANSFORM_SINK_PAD(self), query))
    gst_query_parse_latency(query, &live, NULL, NULL);
  gst_query_unref(query);
  return live;
}

/* The stream's length in frames when upstream knows it (a file), 0 when it does not (a live
 * source, a stream of unknown length). */
static gint64 gst_sam3_track_upstream_frames(GstSam3Track *self) {
  GstPad *sink = GST_BASE_TRANSFORM_SINK_PAD(self);
  gint64 frames = 0, duration = 0;
  if (gst_pad_peer_query_duration(sink, GST_FORMAT_DEFAULT, &frames) && frames > 0)
    return frames;
  const GstVideoInfo &info = self->base->info();
  if (gst_pad_peer_query_duration(sink, GST_FORMAT_TIME, &duration) && duration > 0 &&
      GST_VIDEO_INFO_FPS_N(&info) > 0 && GST_VIDEO_INFO_FPS_D(&info) > 0)
    return (gint64)gst_util_uint64_scale_round((guint64)duration, GST_VIDEO_INFO_FPS_N(&info),
                                               (guint64)GST_VIDEO_INFO_FPS_D(&info) * GST_SECOND);
  return 0;
}

/* Makes @model the one the session tracks with; a new model starts a new tracking session. */
static void gst_sam3_track_use_model(GstSam3Track *self,
                                     const std::shared_ptr<sam3::Model> &model) {
  if (self->session->model() == model)
    return;
  if (!model->has_tracker())
    throw std::invalid_argument("the upstream sam3detect runs an image-only SAM 3 model "
                                "(model_type \"" +
                                model->config().model_type +
                                "\"); sam3track needs a sam3_video release such as "
                                "facebook/sam3");
  sam3::VideoSessionOptions options = self->state->options;
  const gboolean live = gst_sam3_track_upstream_is_live(self);
  if (options.track.output_delay < 0) {
    options.track.output_delay = self->settings->output_delay(live);
    GST_INFO_OBJECT(self, "output-delay auto: %s pipeline, %" G_GINT64_FORMAT " frames",
                    live ? "live" : "non-live", options.track.output_delay);
  }
  /* A file's length sets the official tracker's pointer cap for clips shorter than it. */
  options.num_frames = live ? 0 : gst_sam3_track_upstream_frames(self);
  GST_INFO_OBJECT(self, "video length: %" G_GINT64_FORMAT " frames (0: a stream)",
                  options.num_frames);
  self->session->set_model(model, options);
  GST_INFO_OBJECT(self, "tracking with the model in %s", model->files().dir.c_str());
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
                                          const sam3::SessionFrame &tracks, float mask_threshold) {
  const GstVideoInfo &info = self->base->info();
  const gint W = GST_VIDEO_INFO_WIDTH(&info), H = GST_VIDEO_INFO_HEIGHT(&info);
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

  for (size_t k = 0; k < tracks.objects.size(); k++) {
    const sam3::TrackedObject &obj = tracks.objects[k].track;
    const std::string &text = tracks.objects[k].label;
    guint prompt_index = 0;
    while (prompt_index < gst_sam3_meta_get_n_prompts(meta) &&
           text != gst_sam3_meta_get_prompt(meta, prompt_index))
      prompt_index++;
    if (prompt_index == gst_sam3_meta_get_n_prompts(meta))
      prompt_index = gst_sam3_meta_add_prompt(meta, text.c_str());
    /* The session reports at the frame's size, the official loop's output resolution: the box
     * is the mask's, in whole pixels. */
    const sam3::FrameMask &mask = obj.frame_mask;
    GstSam3Instance *inst =
        gst_sam3_meta_add_instance(meta, text.c_str(), prompt_index, obj.score, (float)mask.x,
                                   (float)mask.y, (float)mask.width, (float)mask.height);
    inst->track_id = (guint64)obj.object_id + 1;
    inst->provenance = tracks.objects[k].prompted ? GST_SAM3_PROVENANCE_PROMPTED
                       : obj.is_new               ? GST_SAM3_PROVENANCE_DETECTED
                                                  : GST_SAM3_PROVENANCE_PROPAGATED;
    gst_sam3_instance_set_mask_from_frame_logits(inst, mask.logits, (gint)mask.x, (gint)mask.y,
                                                 mask_threshold);
  }
  gst_sam3_meta_attach_roi_metas(meta, buf);
  return buf;
}

/* Hands settled frames to the output queue, in stream order. */
static void gst_sam3_track_settle(GstSam3Track *self, const std::vector<sam3::SessionFrame> &frames,
                                  float mask_threshold) {
  Sam3TrackState *state = self->state;
  for (const auto &r : frames) {
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

static void gst_sam3_track_report(GstSam3Track *self, const sam3::RequestOutcome &outcome) {
  if (!outcome.error.empty()) {
    GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS,
                        ("Tracker request ignored: %s", outcome.error.c_str()), (NULL));
  } else if (outcome.kind == sam3::RequestOutcome::kAddBox ||
             outcome.kind == sam3::RequestOutcome::kAddPoints) {
    GST_INFO_OBJECT(self, "added object %" G_GINT64_FORMAT " from %s", outcome.object_id + 1,
                    outcome.kind == sam3::RequestOutcome::kAddBox ? "a box" : "points");
  }
}

/* Hands @buf to the session. Returns its frame index, or -1 when the frame passes unchanged
 * (no model known yet, or late). */
static int64_t gst_sam3_track_process(GstSam3Track *self, GstBuffer *buf) {
  sam3::VideoSession *session = self->session;
  GstSam3Meta *meta = gst_buffer_get_sam3_meta(buf);
  GstSam3Features *features = meta ? gst_sam3_features_get(meta) : NULL;

  std::shared_ptr<sam3::Model> model =
      features && features->model ? features->model
                                  : (session->model() ? session->model() : self->state->own_model);
  if (!model)
    return -1; /* nothing upstream analysed yet and no model of our own: nothing to track */
  gst_sam3_track_use_model(self, model);

  const bool have_backbone = features && features->model == model && features->backbone.defined();
  if (!have_backbone && self->base->skip_late(buf))
    return -1;

  const GstVideoInfo &info = self->base->info();
  sam3::VideoFrame frame;
  frame.width = GST_VIDEO_INFO_WIDTH(&info);
  frame.height = GST_VIDEO_INFO_HEIGHT(&info);
  if (have_backbone) {
    frame.backbone = features->backbone;
  } else {
    frame.rgb = self->base->to_rgb(buf);
    if (!frame.rgb.defined())
      throw std::runtime_error("cannot map the video frame");
  }
  const guint n = meta ? gst_sam3_meta_get_n_instances(meta) : 0;
  /* Without the detector's logits on this frame (interval, QoS), the frame only propagates. */
  if (have_backbone && features->detection_logits.defined() &&
      features->detection_logits.size(0) == (int64_t)n) {
    sam3::VideoDetections detections;
    for (guint i = 0; i < n; i++) {
      const GstSam3Instance *inst = gst_sam3_meta_get_instance(meta, i);
      detections.scores.push_back(inst->score);
      detections.labels.push_back(gst_sam3_instance_get_label(inst));
    }
    detections.mask_logits = features->detection_logits;
    frame.detections = std::move(detections);
  }
  const sam3::SubmitResult result = session->submit(frame);
  for (const auto &outcome : result.requests)
    gst_sam3_track_report(self, outcome);

  self->base->count_processed();
  GST_OBJECT_LOCK(self);
  self->objects = (guint)session->num_objects();
  GST_OBJECT_UNLOCK(self);
  return result.frame_index;
}

static GstFlowReturn gst_sam3_track_submit_input_buffer(GstBaseTransform *trans,
                                                        gboolean is_discont, GstBuffer *buf) {
  GstSam3Track *self = GST_SAM3_TRACK(trans);
  (void)is_discont;
  const float mask_threshold = self->settings->mask_threshold();
  int64_t index;
  try {
    index = gst_sam3_track_process(self, buf);
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
    gst_sam3_track_settle(self, self->session->take_ready(), mask_threshold);
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
  const float mask_threshold = self->settings->mask_threshold();
  try {
    gst_sam3_track_settle(self, self->session->drain(), mask_threshold);
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
      self->session->reset();
    }
    self->base->flush();
    GST_OBJECT_LOCK(self);
    self->objects = 0;
    GST_OBJECT_UNLOCK(self);
    break;
  default:
    break;
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->sink_event(trans, event);
}

static gboolean gst_sam3_track_src_event(GstBaseTransform *trans, GstEvent *event) {
  GST_SAM3_TRACK(trans)->base->src_event(event);
  return GST_BASE_TRANSFORM_CLASS(parent_class)->src_event(trans, event);
}

/* Held-back frames add output-delay frame durations to the latency. */
static GstClockTime gst_sam3_track_own_latency(GstBaseTransform *trans, gboolean live) {
  GstSam3Track *self = GST_SAM3_TRACK(trans);
  const guint delay = self->settings->output_delay(live);
  const GstVideoInfo &info = self->base->info();
  const gint fps_n = GST_VIDEO_INFO_FPS_N(&info), fps_d = GST_VIDEO_INFO_FPS_D(&info);
  if (delay == 0 || fps_n <= 0)
    return 0;
  return gst_util_uint64_scale(delay * GST_SECOND, fps_d, fps_n);
}

static gboolean gst_sam3_track_query(GstBaseTransform *trans, GstPadDirection direction,
                                     GstQuery *query) {
  gboolean ret = GST_BASE_TRANSFORM_CLASS(parent_class)->query(trans, direction, query);
  if (ret)
    GST_SAM3_TRACK(trans)->base->add_latency(direction, query, gst_sam3_track_own_latency);
  return ret;
}

static void gst_sam3_track_finalize(GObject *object) {
  GstSam3Track *self = GST_SAM3_TRACK(object);
  if (self->state)
    gst_sam3_track_clear_buffers(self->state);
  delete self->state;
  delete self->session;
  delete self->settings;
  delete self->base;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_sam3_track_class_init(GstSam3TrackClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);

  gobject_class->set_property = gst_sam3_track_set_property;
  gobject_class->get_property = gst_sam3_track_get_property;
  gobject_class->finalize = gst_sam3_track_finalize;

  Sam3ModelElement::install_properties(gobject_class, model_properties);
  Sam3TrackSettings::install_properties(gobject_class);
  g_object_class_install_property(
      gobject_class, PROP_OBJECTS,
      g_param_spec_uint("objects", "Objects", "Objects tracked now", 0, G_MAXUINT, 0,
                        (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

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
   * Corrects a tracked object with clicks on the next frame. Clicks on the id of an object
   * removed since the last flush (hot-start, max-lost-frames or remove-object) bring it back
   * under that id.
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
  self->base = new Sam3ModelElement(GST_BASE_TRANSFORM(self), model_properties);
  self->settings = new Sam3TrackSettings(GST_OBJECT(self));
  self->session = new sam3::VideoSession();
  self->state = NULL;
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), FALSE);
}
