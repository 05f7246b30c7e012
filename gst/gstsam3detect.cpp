/* gst-sam3: sam3detect.
 *
 * A GstBaseTransform in place that maps frames read-only (a GstVideoFilter would map them
 * writable and force copies of shared memory) and only adds metadata.
 */
/**
 * SECTION:element-sam3detect
 * @title: sam3detect
 *
 * Finds and segments every instance of one or more text concepts ("person", "red car")
 * on each frame with Meta's SAM 3 detector, and attaches them as #GstSam3Meta (plus one
 * #GstVideoRegionOfInterestMeta per instance).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! sam3detect model=/models/sam3 \
 *     prompt="person;red car" ! sam3overlay ! videoconvert ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsam3detect.h"

#include "gstsam3features.h"
#include "gstsam3masks.h"
#include "gstsam3meta.h"
#include "gstsam3modelelement.h"
#include "gstsam3track.h"

#include "image/image_predictor.h"
#include "image/prompts.h"

#include <gst/video/video.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(gst_sam3_detect_debug);
#define GST_CAT_DEFAULT gst_sam3_detect_debug

#define DEFAULT_PROMPT ""
#define DEFAULT_EXEMPLAR_BOXES ""
#define DEFAULT_THRESHOLD 0.5
#define DEFAULT_MASK_THRESHOLD 0.5
#define DEFAULT_MAX_INSTANCES 0
#define DEFAULT_INTERVAL 1
#define DEFAULT_ATTACH_FEATURES TRUE
#define DEFAULT_INSTANCE_MASKS GST_SAM3_INSTANCE_MASKS_AUTO

enum {
  PROP_0,
  PROP_MODEL,
  PROP_PROMPT,
  PROP_EXEMPLAR_BOXES,
  PROP_DEVICE,
  PROP_PRECISION,
  PROP_THRESHOLD,
  PROP_MASK_THRESHOLD,
  PROP_MAX_INSTANCES,
  PROP_INTERVAL,
  PROP_QOS,
  PROP_ATTACH_FEATURES,
  PROP_FRAMES_PROCESSED,
  PROP_FRAMES_SKIPPED,
  PROP_INSTANCE_MASKS,
};

static const Sam3ModelProperties model_properties = {
    {PROP_MODEL, "SAM 3 model folder (config.json, model.safetensors, tokenizer files; "
                 "the Hugging Face facebook/sam3 release) or a file inside it"},
    {PROP_DEVICE, "Where the model runs: cpu, cuda or cuda:N"},
    {PROP_PRECISION, "Arithmetic the model runs in"},
    {PROP_QOS, "Skip inference on frames that downstream reports as already late "
               "(they pass on without results and are counted in frames-skipped)"},
    {PROP_FRAMES_PROCESSED, "Frames the detector ran on since the element started"},
    {PROP_FRAMES_SKIPPED, "Late frames passed on without inference (QoS) since the element "
                          "started"},
};

#define VIDEO_FORMATS                                                                              \
  "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, I420, YV12, NV12, NV21, Y42B, "     \
  "Y444, YUY2, UYVY, GRAY8 }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(VIDEO_FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(VIDEO_FORMATS)));

/* The C++ side: the model and its predictor. */
struct Sam3DetectState {
  std::shared_ptr<sam3::Model> model;
  std::unique_ptr<sam3::ImagePredictor> predictor;
};

struct _GstSam3Detect {
  GstBaseTransform parent;
  Sam3ModelElement *base;

  /* properties, under the object lock */
  gchar *prompt;
  std::vector<sam3::ExemplarBox> *boxes;
  gdouble threshold;
  gdouble mask_threshold;
  guint max_instances;
  guint interval;
  gboolean attach_features;
  GstSam3InstanceMasks instance_masks;
  /* the latency we report and the largest inference time seen (object lock) */
  GstClockTime reported_latency;
  GstClockTime max_inference_time;

  /* streaming thread only */
  guint64 frame_number;
  Sam3DetectState *state;
};

#define gst_sam3_detect_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE(GstSam3Detect, gst_sam3_detect, GST_TYPE_BASE_TRANSFORM,
                        GST_DEBUG_CATEGORY_INIT(gst_sam3_detect_debug, "sam3detect", 0,
                                                "SAM 3 concept detector"));
GST_ELEMENT_REGISTER_DEFINE(sam3detect, "sam3detect", GST_RANK_NONE, GST_TYPE_SAM3_DETECT);

static void gst_sam3_detect_set_property(GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec) {
  GstSam3Detect *self = GST_SAM3_DETECT(object);
  if (self->base->set_property(prop_id, value))
    return;
  switch (prop_id) {
  case PROP_PROMPT:
    GST_OBJECT_LOCK(self);
    g_free(self->prompt);
    self->prompt = g_strdup(g_value_get_string(value) ? g_value_get_string(value) : "");
    GST_OBJECT_UNLOCK(self);
    break;
  case PROP_EXEMPLAR_BOXES: {
    const gchar *text = g_value_get_string(value);
    try {
      auto boxes = sam3::parse_exemplar_boxes(text ? text : "");
      GST_OBJECT_LOCK(self);
      *self->boxes = std::move(boxes);
      GST_OBJECT_UNLOCK(self);
    } catch (const std::exception &e) {
      /* A property setter cannot fail: keep the previous boxes and say why loudly. */
      GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS,
                          ("Invalid exemplar-boxes, ignored: %s", e.what()),
                          ("exemplar-boxes=\"%s\"", text));
    }
    break;
  }
  case PROP_THRESHOLD:
    GST_OBJECT_LOCK(self);
    self->threshold = g_value_get_double(value);
    GST_OBJECT_UNLOCK(self);
    break;
  case PROP_MASK_THRESHOLD:
    GST_OBJECT_LOCK(self);
    self->mask_threshold = g_value_get_double(value);
    GST_OBJECT_UNLOCK(self);
    break;
  case PROP_MAX_INSTANCES:
    GST_OBJECT_LOCK(self);
    self->max_instances = g_value_get_uint(value);
    GST_OBJECT_UNLOCK(self);
    break;
  case PROP_INTERVAL:
    GST_OBJECT_LOCK(self);
    self->interval = g_value_get_uint(value);
    GST_OBJECT_UNLOCK(self);
    break;
  case PROP_ATTACH_FEATURES:
    GST_OBJECT_LOCK(self);
    self->attach_features = g_value_get_boolean(value);
    GST_OBJECT_UNLOCK(self);
    break;
  case PROP_INSTANCE_MASKS:
    GST_OBJECT_LOCK(self);
    self->instance_masks = (GstSam3InstanceMasks)g_value_get_enum(value);
    GST_OBJECT_UNLOCK(self);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
}

static void gst_sam3_detect_get_property(GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec) {
  GstSam3Detect *self = GST_SAM3_DETECT(object);
  if (self->base->get_property(prop_id, value))
    return;
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
  case PROP_PROMPT:
    g_value_set_string(value, self->prompt);
    break;
  case PROP_EXEMPLAR_BOXES:
    g_value_set_string(value, sam3::format_exemplar_boxes(*self->boxes).c_str());
    break;
  case PROP_THRESHOLD:
    g_value_set_double(value, self->threshold);
    break;
  case PROP_MASK_THRESHOLD:
    g_value_set_double(value, self->mask_threshold);
    break;
  case PROP_MAX_INSTANCES:
    g_value_set_uint(value, self->max_instances);
    break;
  case PROP_INTERVAL:
    g_value_set_uint(value, self->interval);
    break;
  case PROP_ATTACH_FEATURES:
    g_value_set_boolean(value, self->attach_features);
    break;
  case PROP_INSTANCE_MASKS:
    g_value_set_enum(value, self->instance_masks);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK(self);
}

static gboolean gst_sam3_detect_start(GstBaseTransform *trans) {
  GstSam3Detect *self = GST_SAM3_DETECT(trans);
  self->base->start();
  GST_OBJECT_LOCK(self);
  self->reported_latency = 0;
  self->max_inference_time = 0;
  GST_OBJECT_UNLOCK(self);
  self->frame_number = 0;

  std::shared_ptr<sam3::Model> model;
  if (!self->base->acquire_model(model))
    return FALSE;
  if (!model) {
    GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("No model set"),
                      ("Set the \"model\" property to a SAM 3 model folder (config.json + "
                       "model.safetensors, e.g. the Hugging Face facebook/sam3 release)."));
    return FALSE;
  }
  auto state = std::make_unique<Sam3DetectState>();
  state->predictor = std::make_unique<sam3::ImagePredictor>(model);
  state->model = std::move(model);
  self->state = state.release();
  return TRUE;
}

static gboolean gst_sam3_detect_stop(GstBaseTransform *trans) {
  GstSam3Detect *self = GST_SAM3_DETECT(trans);
  delete self->state;
  self->state = NULL;
  self->base->stop();
  return TRUE;
}

static gboolean gst_sam3_detect_set_caps(GstBaseTransform *trans, GstCaps *incaps,
                                         GstCaps *outcaps) {
  (void)outcaps;
  return GST_SAM3_DETECT(trans)->base->set_caps(incaps);
}

static gboolean gst_sam3_detect_src_event(GstBaseTransform *trans, GstEvent *event) {
  GST_SAM3_DETECT(trans)->base->src_event(event);
  return GST_BASE_TRANSFORM_CLASS(parent_class)->src_event(trans, event);
}

static gboolean gst_sam3_detect_sink_event(GstBaseTransform *trans, GstEvent *event) {
  if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP)
    GST_SAM3_DETECT(trans)->base->flush();
  return GST_BASE_TRANSFORM_CLASS(parent_class)->sink_event(trans, event);
}

static GstClockTime gst_sam3_detect_own_latency(GstBaseTransform *trans, gboolean live) {
  GstSam3Detect *self = GST_SAM3_DETECT(trans);
  (void)live;
  GST_OBJECT_LOCK(self);
  const GstClockTime ours = self->reported_latency;
  GST_OBJECT_UNLOCK(self);
  return ours;
}

static gboolean gst_sam3_detect_query(GstBaseTransform *trans, GstPadDirection direction,
                                      GstQuery *query) {
  gboolean ret = GST_BASE_TRANSFORM_CLASS(parent_class)->query(trans, direction, query);
  if (ret)
    GST_SAM3_DETECT(trans)->base->add_latency(direction, query, gst_sam3_detect_own_latency);
  return ret;
}

/* Records one inference time; when it outgrows the latency reported so far, posts a
 * latency message so that live sinks re-query and budget for it. */
static void gst_sam3_detect_update_latency(GstSam3Detect *self, GstClockTime elapsed) {
  gboolean post = FALSE;
  GST_OBJECT_LOCK(self);
  self->max_inference_time = MAX(self->max_inference_time, elapsed);
  if (self->max_inference_time > self->reported_latency + self->reported_latency / 5) {
    self->reported_latency = self->max_inference_time + self->max_inference_time / 5;
    post = TRUE;
  }
  GST_OBJECT_UNLOCK(self);
  if (post)
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_latency(GST_OBJECT(self)));
}

static void gst_sam3_detect_attach(GstSam3Detect *self, GstBuffer *buf, guint64 frame,
                                   const std::vector<std::string> &prompts,
                                   const sam3::EncodedImage &image,
                                   const std::vector<sam3::Instance> &instances,
                                   float mask_threshold, gboolean attach_features,
                                   gboolean instance_masks) {
  const GstVideoInfo &info = self->base->info();
  const gint W = GST_VIDEO_INFO_WIDTH(&info), H = GST_VIDEO_INFO_HEIGHT(&info);
  GstSam3Meta *meta = gst_buffer_add_sam3_meta(buf, W, H);
  meta->frame_number = frame;
  if (attach_features) {
    auto *features = new GstSam3Features();
    features->model = self->state->model;
    features->backbone = image.vision.backbone;
    features->frame_width = W;
    features->frame_height = H;
    std::vector<torch::Tensor> logits;
    for (const auto &inst : instances)
      logits.push_back(inst.mask_logits);
    if (!logits.empty())
      features->detection_logits = torch::stack(logits);
    else /* the detector's masks have the resolution of the finest neck level */
      features->detection_logits =
          torch::empty({0, image.vision.fpn[0].size(-2), image.vision.fpn[0].size(-1)});
    gst_sam3_features_attach(meta, features);
  }
  for (const auto &p : prompts)
    gst_sam3_meta_add_prompt(meta, p.c_str());
  for (const auto &inst : instances) {
    GstSam3Instance *out = gst_sam3_meta_add_instance(
        meta, prompts[inst.prompt_index].c_str(), inst.prompt_index, inst.score, inst.x0, inst.y0,
        inst.x1 - inst.x0, inst.y1 - inst.y0);
    out->provenance = GST_SAM3_PROVENANCE_DETECTED;
    if (instance_masks)
      gst_sam3_instance_set_mask_from_logits(out, inst.mask_logits, W, H, mask_threshold);
  }
  gst_sam3_meta_attach_roi_metas(meta, buf);
}

GType gst_sam3_instance_masks_get_type(void) {
  static gsize id = 0;
  static const GEnumValue values[] = {
      {GST_SAM3_INSTANCE_MASKS_AUTO,
       "Every frame, unless the buffers go straight (or through queues) to a sam3track that "
       "gets the features and replaces the instances",
       "auto"},
      {GST_SAM3_INSTANCE_MASKS_ALWAYS, "Every frame", "always"},
      {GST_SAM3_INSTANCE_MASKS_NEVER, "Boxes and scores only", "never"},
      {0, NULL, NULL},
  };
  if (g_once_init_enter(&id)) {
    GType t = g_enum_register_static("GstSam3InstanceMasks", values);
    g_once_init_leave(&id, t);
  }
  return (GType)id;
}

/* Whether every buffer we push reaches a sam3track and nothing else: our peer, seen through
 * queues (one sink, one source). A tee or any other element in between may have consumers
 * that read the masks. */
static gboolean gst_sam3_detect_feeds_tracker(GstSam3Detect *self) {
  GstPad *peer = gst_pad_get_peer(GST_BASE_TRANSFORM_SRC_PAD(self));
  gboolean tracker = FALSE;
  for (int hops = 0; peer && hops < 8; ++hops) {
    GstElement *next = gst_pad_get_parent_element(peer);
    gst_object_unref(peer);
    peer = NULL;
    if (!next)
      break;
    if (GST_IS_SAM3_TRACK(next)) {
      tracker = TRUE;
    } else if (g_str_equal(G_OBJECT_TYPE_NAME(next), "GstQueue") ||
               g_str_equal(G_OBJECT_TYPE_NAME(next), "GstQueue2")) {
      GstPad *src = gst_element_get_static_pad(next, "src");
      if (src) {
        peer = gst_pad_get_peer(src);
        gst_object_unref(src);
      }
    }
    gst_object_unref(next);
  }
  if (peer)
    gst_object_unref(peer);
  return tracker;
}

static GstFlowReturn gst_sam3_detect_transform_ip(GstBaseTransform *trans, GstBuffer *buf) {
  GstSam3Detect *self = GST_SAM3_DETECT(trans);

  GST_OBJECT_LOCK(self);
  const auto prompts = sam3::split_prompts(self->prompt ? self->prompt : "");
  const auto boxes = *self->boxes;
  sam3::DetectOptions options;
  options.threshold = (float)self->threshold;
  options.mask_threshold = (float)self->mask_threshold;
  options.max_instances = (int)self->max_instances;
  const guint interval = self->interval;
  const gboolean attach_features = self->attach_features;
  const GstSam3InstanceMasks instance_masks = self->instance_masks;
  GST_OBJECT_UNLOCK(self);

  const guint64 frame = self->frame_number++;
  /* An empty prompt means pass-through; frames between detection intervals carry no
   * results (see docs/elements.md). */
  if ((prompts.empty() && boxes.empty()) || frame % interval != 0)
    return GST_FLOW_OK;
  if (self->base->skip_late(buf)) {
    GST_DEBUG_OBJECT(self, "frame %" G_GUINT64_FORMAT " is late, passed without results", frame);
    return GST_FLOW_OK;
  }

  const torch::Tensor image = self->base->to_rgb(buf);
  if (!image.defined()) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Cannot map the video frame"), (NULL));
    return GST_FLOW_ERROR;
  }

  std::vector<sam3::ConceptPrompt> concepts;
  for (const auto &p : prompts)
    concepts.push_back({p, boxes});
  if (concepts.empty())
    concepts.push_back({"", boxes});
  std::vector<std::string> labels;
  for (const auto &c : concepts)
    labels.push_back(c.text.empty() ? "visual" : c.text);

  try {
    const auto start = std::chrono::steady_clock::now();
    auto encoded = self->state->predictor->encode(image);
    auto instances = self->state->predictor->detect(encoded, concepts, options);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const gboolean masks = instance_masks == GST_SAM3_INSTANCE_MASKS_ALWAYS ||
                           (instance_masks == GST_SAM3_INSTANCE_MASKS_AUTO &&
                            !(attach_features && gst_sam3_detect_feeds_tracker(self)));
    gst_sam3_detect_attach(self, buf, frame, labels, encoded, instances, options.mask_threshold,
                           attach_features, masks);
    self->base->count_processed();
    gst_sam3_detect_update_latency(
        self, std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
    GST_LOG_OBJECT(self, "frame %" G_GUINT64_FORMAT ": %zu instance(s)", frame, instances.size());
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("SAM 3 inference failed: %s", e.what()), (NULL));
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

static void gst_sam3_detect_finalize(GObject *object) {
  GstSam3Detect *self = GST_SAM3_DETECT(object);
  g_free(self->prompt);
  delete self->boxes;
  delete self->state;
  delete self->base;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_sam3_detect_class_init(GstSam3DetectClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);

  gobject_class->set_property = gst_sam3_detect_set_property;
  gobject_class->get_property = gst_sam3_detect_get_property;
  gobject_class->finalize = gst_sam3_detect_finalize;

  const GParamFlags rw = (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags playing = (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING);

  Sam3ModelElement::install_properties(gobject_class, model_properties);
  gst_type_mark_as_plugin_api(GST_TYPE_SAM3_INSTANCE_MASKS, (GstPluginAPIFlags)0);
  g_object_class_install_property(
      gobject_class, PROP_PROMPT,
      g_param_spec_string("prompt", "Prompt",
                          "Concepts to find, separated by ';' (e.g. \"person;red car\"); the "
                          "label of an instance is its concept. Empty: pass-through. Takes "
                          "effect on the next frame",
                          DEFAULT_PROMPT, playing));
  g_object_class_install_property(
      gobject_class, PROP_EXEMPLAR_BOXES,
      g_param_spec_string("exemplar-boxes", "Exemplar boxes",
                          "Example boxes of the concept in frame pixels, \"x,y,w,h[,pos|neg];"
                          "...\" (neg = a counter-example); used with every prompt, or alone",
                          DEFAULT_EXEMPLAR_BOXES, playing));
  g_object_class_install_property(
      gobject_class, PROP_THRESHOLD,
      g_param_spec_double("threshold", "Threshold",
                          "Minimum score (detection probability x presence) of an instance", 0.0,
                          1.0, DEFAULT_THRESHOLD, playing));
  g_object_class_install_property(
      gobject_class, PROP_MASK_THRESHOLD,
      g_param_spec_double("mask-threshold", "Mask threshold",
                          "Mask probability above which a pixel belongs to the instance", 0.0, 1.0,
                          DEFAULT_MASK_THRESHOLD, playing));
  g_object_class_install_property(
      gobject_class, PROP_MAX_INSTANCES,
      g_param_spec_uint("max-instances", "Max instances",
                        "Keep at most this many instances per frame, best first (0 = all)", 0,
                        G_MAXUINT16, DEFAULT_MAX_INSTANCES, playing));
  g_object_class_install_property(
      gobject_class, PROP_INTERVAL,
      g_param_spec_uint("interval", "Interval",
                        "Run the detector on every N-th frame; the frames between pass without "
                        "results",
                        1, G_MAXINT, DEFAULT_INTERVAL, playing));
  g_object_class_install_property(
      gobject_class, PROP_ATTACH_FEATURES,
      g_param_spec_boolean("attach-features", "Attach features",
                           "Leave the frame's backbone features on the metadata (in-process, on "
                           "the model's device) so a downstream sam3track does not run the "
                           "backbone again; costs memory per buffer in flight",
                           DEFAULT_ATTACH_FEATURES, playing));
  g_object_class_install_property(
      gobject_class, PROP_INSTANCE_MASKS,
      g_param_spec_enum("instance-masks", "Instance masks",
                        "When to sample each instance's mask at frame size into the metadata. "
                        "A sam3track that gets the features makes its own masks from them, so "
                        "auto skips the work when the buffers go only to one",
                        GST_TYPE_SAM3_INSTANCE_MASKS, DEFAULT_INSTANCE_MASKS, playing));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "SAM 3 concept detector", "Filter/Analyzer/Video",
      "Finds and segments every instance of text concepts with Meta's SAM 3 and attaches them "
      "as metadata",
      "gst-sam3 developers");

  trans_class->start = GST_DEBUG_FUNCPTR(gst_sam3_detect_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_sam3_detect_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR(gst_sam3_detect_set_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_sam3_detect_transform_ip);
  trans_class->src_event = GST_DEBUG_FUNCPTR(gst_sam3_detect_src_event);
  trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_sam3_detect_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR(gst_sam3_detect_query);
  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->transform_ip_on_passthrough = FALSE;
}

static void gst_sam3_detect_init(GstSam3Detect *self) {
  self->base = new Sam3ModelElement(GST_BASE_TRANSFORM(self), model_properties);
  self->prompt = g_strdup(DEFAULT_PROMPT);
  self->boxes = new std::vector<sam3::ExemplarBox>();
  self->threshold = DEFAULT_THRESHOLD;
  self->mask_threshold = DEFAULT_MASK_THRESHOLD;
  self->max_instances = DEFAULT_MAX_INSTANCES;
  self->interval = DEFAULT_INTERVAL;
  self->attach_features = DEFAULT_ATTACH_FEATURES;
  self->instance_masks = DEFAULT_INSTANCE_MASKS;
  self->state = NULL;
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), FALSE);
}
