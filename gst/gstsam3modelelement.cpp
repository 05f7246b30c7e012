#include "gstsam3modelelement.h"

#include "model/registry.h"

#include <stdexcept>

GST_DEBUG_CATEGORY_STATIC(gst_sam3_model_element_debug);
#define GST_CAT_DEFAULT gst_sam3_model_element_debug

#define DEFAULT_MODEL NULL
#define DEFAULT_DEVICE "cpu"
#define DEFAULT_PRECISION GST_SAM3_PRECISION_FP32
#define DEFAULT_QOS TRUE

GType gst_sam3_precision_get_type(void) {
  static gsize id = 0;
  static const GEnumValue values[] = {
      {GST_SAM3_PRECISION_FP32, "32-bit float", "fp32"},
      {GST_SAM3_PRECISION_BF16, "bfloat16", "bf16"},
      {GST_SAM3_PRECISION_FP16, "IEEE half", "fp16"},
      {GST_SAM3_PRECISION_AUTOCAST_BF16,
       "fp32 weights under bfloat16 autocast (the official SAM 3's precision)", "autocast-bf16"},
      {0, NULL, NULL},
  };
  if (g_once_init_enter(&id)) {
    GType t = g_enum_register_static("GstSam3Precision", values);
    g_once_init_leave(&id, t);
  }
  return (GType)id;
}

/* The running time before which frames are late, from a QOS event; @current when the event
 * says nothing about lateness (throttling, no timestamp). */
static GstClockTime gst_sam3_qos_earliest_time(GstEvent *qos_event, GstClockTime current) {
  GstQOSType type;
  gdouble proportion;
  GstClockTimeDiff diff;
  GstClockTime timestamp;
  gst_event_parse_qos(qos_event, &type, &proportion, &diff, &timestamp);
  if (type == GST_QOS_TYPE_THROTTLE || !GST_CLOCK_TIME_IS_VALID(timestamp))
    return current;
  /* A late frame: everything up to (timestamp + lateness) is already too late, and the
   * doubled lateness gives the element room to catch up. */
  return diff > 0 ? timestamp + 2 * diff : timestamp + diff;
}

/* Whether @buf's running time in @trans's segment lies before @earliest_time. */
static gboolean gst_sam3_qos_is_late(GstBaseTransform *trans, GstBuffer *buf,
                                     GstClockTime earliest_time) {
  const GstClockTime ts = GST_BUFFER_PTS(buf);
  if (!GST_CLOCK_TIME_IS_VALID(ts) || !GST_CLOCK_TIME_IS_VALID(earliest_time))
    return FALSE;
  const GstClockTime running = gst_segment_to_running_time(&trans->segment, GST_FORMAT_TIME, ts);
  return GST_CLOCK_TIME_IS_VALID(running) && running < earliest_time;
}

static sam3::Precision to_precision(GstSam3Precision p) {
  switch (p) {
  case GST_SAM3_PRECISION_BF16:
    return sam3::Precision::kBFloat16;
  case GST_SAM3_PRECISION_FP16:
    return sam3::Precision::kFloat16;
  case GST_SAM3_PRECISION_AUTOCAST_BF16:
    return sam3::Precision::kAutocastBFloat16;
  default:
    return sam3::Precision::kFloat32;
  }
}

void Sam3ModelElement::install_properties(GObjectClass *klass,
                                          const Sam3ModelProperties &properties) {
  static gsize debug_once = 0;
  if (g_once_init_enter(&debug_once)) {
    GST_DEBUG_CATEGORY_INIT(gst_sam3_model_element_debug, "sam3model", 0,
                            "SAM 3 model elements: model loading, QoS, latency");
    g_once_init_leave(&debug_once, 1);
  }
  const GParamFlags rw = (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags ready = (GParamFlags)(rw | GST_PARAM_MUTABLE_READY);
  const GParamFlags playing = (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING);
  const GParamFlags readable = (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_property(
      klass, properties.model.id,
      g_param_spec_string("model", "Model", properties.model.blurb, DEFAULT_MODEL, ready));
  g_object_class_install_property(
      klass, properties.device.id,
      g_param_spec_string("device", "Device", properties.device.blurb, DEFAULT_DEVICE, ready));
  g_object_class_install_property(
      klass, properties.precision.id,
      g_param_spec_enum("precision", "Precision", properties.precision.blurb,
                        GST_TYPE_SAM3_PRECISION, DEFAULT_PRECISION, ready));
  g_object_class_install_property(
      klass, properties.qos.id,
      g_param_spec_boolean("qos", "QoS", properties.qos.blurb, DEFAULT_QOS, playing));
  g_object_class_install_property(klass, properties.frames_processed.id,
                                  g_param_spec_uint64("frames-processed", "Frames processed",
                                                      properties.frames_processed.blurb, 0,
                                                      G_MAXUINT64, 0, readable));
  g_object_class_install_property(klass, properties.frames_skipped.id,
                                  g_param_spec_uint64("frames-skipped", "Frames skipped",
                                                      properties.frames_skipped.blurb, 0,
                                                      G_MAXUINT64, 0, readable));
  gst_type_mark_as_plugin_api(GST_TYPE_SAM3_PRECISION, (GstPluginAPIFlags)0);
}

Sam3ModelElement::Sam3ModelElement(GstBaseTransform *element, const Sam3ModelProperties &properties)
    : element_(element), properties_(properties), device_(g_strdup(DEFAULT_DEVICE)) {
  gst_video_info_init(&info_);
}

Sam3ModelElement::~Sam3ModelElement() {
  g_free(model_path_);
  g_free(device_);
}

bool Sam3ModelElement::set_property(guint prop_id, const GValue *value) {
  bool ours = true;
  GST_OBJECT_LOCK(element_);
  if (prop_id == properties_.model.id) {
    g_free(model_path_);
    model_path_ = g_value_dup_string(value);
  } else if (prop_id == properties_.device.id) {
    g_free(device_);
    device_ = g_value_dup_string(value);
  } else if (prop_id == properties_.precision.id) {
    precision_ = (GstSam3Precision)g_value_get_enum(value);
  } else if (prop_id == properties_.qos.id) {
    qos_ = g_value_get_boolean(value);
  } else {
    ours = false;
  }
  GST_OBJECT_UNLOCK(element_);
  return ours;
}

bool Sam3ModelElement::get_property(guint prop_id, GValue *value) {
  bool ours = true;
  GST_OBJECT_LOCK(element_);
  if (prop_id == properties_.model.id)
    g_value_set_string(value, model_path_);
  else if (prop_id == properties_.device.id)
    g_value_set_string(value, device_);
  else if (prop_id == properties_.precision.id)
    g_value_set_enum(value, precision_);
  else if (prop_id == properties_.qos.id)
    g_value_set_boolean(value, qos_);
  else if (prop_id == properties_.frames_processed.id)
    g_value_set_uint64(value, frames_processed_);
  else if (prop_id == properties_.frames_skipped.id)
    g_value_set_uint64(value, frames_skipped_);
  else
    ours = false;
  GST_OBJECT_UNLOCK(element_);
  return ours;
}

void Sam3ModelElement::start() {
  GST_OBJECT_LOCK(element_);
  earliest_time_ = GST_CLOCK_TIME_NONE;
  frames_processed_ = 0;
  frames_skipped_ = 0;
  GST_OBJECT_UNLOCK(element_);
}

void Sam3ModelElement::stop() {
  converter_.reset();
}

std::string Sam3ModelElement::model_path() {
  GST_OBJECT_LOCK(element_);
  const std::string path = model_path_ ? model_path_ : "";
  GST_OBJECT_UNLOCK(element_);
  return path;
}

gboolean Sam3ModelElement::acquire_model(std::shared_ptr<sam3::Model> &model) {
  GST_OBJECT_LOCK(element_);
  const std::string path = model_path_ ? model_path_ : "";
  const std::string device = device_ ? device_ : DEFAULT_DEVICE;
  const GstSam3Precision precision = precision_;
  GST_OBJECT_UNLOCK(element_);
  model.reset();
  if (path.empty())
    return TRUE;
  try {
    model = sam3::acquire_model(path, device, to_precision(precision));
  } catch (const std::invalid_argument &e) {
    GST_ELEMENT_ERROR(element_, RESOURCE, SETTINGS, ("Invalid setting: %s", e.what()), (NULL));
    return FALSE;
  } catch (const std::exception &e) {
    GST_ELEMENT_ERROR(element_, RESOURCE, OPEN_READ, ("Cannot load the SAM 3 model: %s", e.what()),
                      ("model=\"%s\" device=\"%s\"", path.c_str(), device.c_str()));
    return FALSE;
  }
  GST_INFO_OBJECT(element_, "model %s loaded on %s", path.c_str(), device.c_str());
  return TRUE;
}

gboolean Sam3ModelElement::set_caps(GstCaps *caps) {
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, caps)) {
    GST_ELEMENT_ERROR(element_, CORE, NEGOTIATION, ("Unsupported caps"),
                      ("cannot parse %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  info_ = info;
  if (!converter_.configure(info)) {
    GST_ELEMENT_ERROR(
        element_, CORE, NEGOTIATION,
        ("Cannot convert %s to RGB", gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info))),
        (NULL));
    return FALSE;
  }
  return TRUE;
}

void Sam3ModelElement::src_event(GstEvent *event) {
  if (GST_EVENT_TYPE(event) != GST_EVENT_QOS)
    return;
  GST_OBJECT_LOCK(element_);
  earliest_time_ = gst_sam3_qos_earliest_time(event, earliest_time_);
  GST_OBJECT_UNLOCK(element_);
}

void Sam3ModelElement::flush() {
  GST_OBJECT_LOCK(element_);
  earliest_time_ = GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK(element_);
}

bool Sam3ModelElement::skip_late(GstBuffer *buf) {
  GST_OBJECT_LOCK(element_);
  const gboolean qos = qos_;
  const GstClockTime earliest = earliest_time_;
  GST_OBJECT_UNLOCK(element_);
  if (!qos || !gst_sam3_qos_is_late(element_, buf, earliest))
    return false;
  GST_OBJECT_LOCK(element_);
  frames_skipped_++;
  GST_OBJECT_UNLOCK(element_);
  return true;
}

void Sam3ModelElement::count_processed() {
  GST_OBJECT_LOCK(element_);
  frames_processed_++;
  GST_OBJECT_UNLOCK(element_);
}

void Sam3ModelElement::add_latency(GstPadDirection direction, GstQuery *query,
                                   GstClockTime (*own)(GstBaseTransform *element, gboolean live)) {
  if (direction != GST_PAD_SRC || GST_QUERY_TYPE(query) != GST_QUERY_LATENCY)
    return;
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency(query, &live, &min, &max);
  const GstClockTime ours = own(element_, live);
  min += ours;
  if (GST_CLOCK_TIME_IS_VALID(max))
    max += ours;
  GST_DEBUG_OBJECT(element_, "latency: adding %" GST_TIME_FORMAT, GST_TIME_ARGS(ours));
  gst_query_set_latency(query, live, min, max);
}
