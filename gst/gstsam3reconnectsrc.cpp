/* gst-sam3: sam3reconnectsrc.
 *
 * A bin around one uridecodebin that it throws away and rebuilds whenever the source fails,
 * ends or stalls, so that a camera going away never ends the pipeline downstream. Nothing
 * in it is SAM-specific; it lives in this plugin because Debian 12 has no equivalent
 * (gst-plugins-rs' fallbacksrc is not packaged) and the sam3 pipelines need one.
 *
 * Why a bin and not an application-level watchdog: the RTSP server owns the bus of the
 * pipelines it serves, so a launch line run by it cannot be repaired from outside; the
 * bin's handle_message sees its children's errors before they reach any bus.
 */
/**
 * SECTION:element-sam3reconnectsrc
 * @title: sam3reconnectsrc
 *
 * Decodes the video of @uri (typically rtsp://) and exposes it on one "src" pad. An ERROR
 * from the source, an EOS, or no decoded frame for @timeout milliseconds makes the element
 * post a WARNING and an element message "sam3reconnectsrc" (fields "event" =
 * "disconnected", "reason", "retry-in-ms"), drop the source and build a new one after an
 * exponentially growing delay (@retry-delay doubling up to @max-retry-delay, reset once
 * frames flow). When frames flow again it posts the message with "event" = "reconnected"
 * and "reconnections". Downstream sees a new stream-start, caps and segment, never EOS.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 sam3reconnectsrc uri=rtsp://camera/stream ! videoconvert ! \
 *     queue leaky=downstream max-size-buffers=1 ! sam3detect model=/models/sam3 prompt=person ! \
 *     sam3overlay ! videoconvert ! autovideosink
 * ]|
 */
#include "gstsam3reconnectsrc.h"

#include <algorithm>

GST_DEBUG_CATEGORY_STATIC(gst_sam3_reconnect_src_debug);
#define GST_CAT_DEFAULT gst_sam3_reconnect_src_debug

#define DEFAULT_URI NULL
#define DEFAULT_LATENCY 200
#define DEFAULT_TIMEOUT 5000
#define DEFAULT_RETRY_DELAY 500
#define DEFAULT_MAX_RETRY_DELAY 16000

/* How often the watchdog looks at the stream when nothing wakes it. */
#define WATCHDOG_PERIOD_US (100 * G_TIME_SPAN_MILLISECOND)

enum {
  PROP_0,
  PROP_URI,
  PROP_LATENCY,
  PROP_TIMEOUT,
  PROP_RETRY_DELAY,
  PROP_MAX_RETRY_DELAY,
  PROP_RECONNECTIONS,
};

struct _GstSam3ReconnectSrc {
  GstBin parent;

  GstPad *srcpad; /* ghost pad, retargeted at every rebuild */

  /* properties (object lock) */
  gchar *uri;
  guint latency;
  guint timeout;
  guint retry_delay;
  guint max_retry_delay;

  /* connection state (lock + cond) */
  GMutex lock;
  GCond cond;
  GstElement *source;    /* current uridecodebin, NULL while rebuilding */
  gint64 source_start;   /* monotonic us when the source started or the bin went PLAYING */
  gint64 last_frame;     /* monotonic us of the last frame from the current source, 0 = none */
  gboolean rebuild;      /* the current source is dead; build another at rebuild_at */
  gint64 rebuild_at;     /* monotonic us */
  guint next_delay;      /* back-off for the next failure, ms */
  gboolean disconnected; /* failed since the last frame; the next frame is a reconnection */
  guint64 reconnections;
  gchar *last_reason;     /* why the source was last lost, for a failed start */
  gboolean running;       /* the watchdog thread should keep going */
  gboolean eos_requested; /* an application EOS: let it through, stop reconnecting */
  GThread *watchdog;
};

#define gst_sam3_reconnect_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE(GstSam3ReconnectSrc, gst_sam3_reconnect_src, GST_TYPE_BIN,
                        GST_DEBUG_CATEGORY_INIT(gst_sam3_reconnect_src_debug, "sam3reconnectsrc", 0,
                                                "reconnecting live source"));
GST_ELEMENT_REGISTER_DEFINE(sam3reconnectsrc, "sam3reconnectsrc", GST_RANK_NONE,
                            GST_TYPE_SAM3_RECONNECT_SRC);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw(ANY)"));

static void post_event(GstSam3ReconnectSrc *self, GstStructure *s) {
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

/* Marks the current source dead. Called from streaming threads and the watchdog; the
 * rebuild itself happens on the watchdog thread, never in a streaming thread. */
static void schedule_rebuild(GstSam3ReconnectSrc *self, GstElement *source, const gchar *reason) {
  g_mutex_lock(&self->lock);
  if (source != self->source || self->rebuild || self->eos_requested || !self->running) {
    g_mutex_unlock(&self->lock);
    return;
  }
  guint delay = self->next_delay;
  GST_OBJECT_LOCK(self);
  self->next_delay = (guint)std::min<guint64>((guint64)std::max(delay, 1u) * 2,
                                              std::max(self->max_retry_delay, 1u));
  gchar *uri = g_strdup(self->uri);
  GST_OBJECT_UNLOCK(self);
  self->rebuild = TRUE;
  self->disconnected = TRUE;
  g_free(self->last_reason);
  self->last_reason = g_strdup(reason);
  self->rebuild_at = g_get_monotonic_time() + delay * G_TIME_SPAN_MILLISECOND;
  g_cond_signal(&self->cond);
  g_mutex_unlock(&self->lock);

  GST_ELEMENT_WARNING(self, RESOURCE, READ,
                      ("Lost %s: %s; reconnecting in %u ms", uri, reason, delay), (NULL));
  post_event(self,
             gst_structure_new("sam3reconnectsrc", "event", G_TYPE_STRING, "disconnected", "reason",
                               G_TYPE_STRING, reason, "retry-in-ms", G_TYPE_UINT, delay, NULL));
  g_free(uri);
}

static GstPadProbeReturn on_frame(GstPad *pad, GstPadProbeInfo *info, gpointer user_data) {
  (void)pad;
  (void)info;
  GstSam3ReconnectSrc *self = GST_SAM3_RECONNECT_SRC(user_data);
  gboolean reconnected = FALSE;
  guint64 count = 0;
  g_mutex_lock(&self->lock);
  self->last_frame = g_get_monotonic_time();
  if (self->disconnected && !self->rebuild) {
    self->disconnected = FALSE;
    self->reconnections++;
    count = self->reconnections;
    reconnected = TRUE;
  }
  if (!self->rebuild) {
    GST_OBJECT_LOCK(self);
    self->next_delay = self->retry_delay;
    GST_OBJECT_UNLOCK(self);
  }
  g_mutex_unlock(&self->lock);
  if (reconnected) {
    GST_INFO_OBJECT(self, "reconnected (%" G_GUINT64_FORMAT " reconnections)", count);
    post_event(self, gst_structure_new("sam3reconnectsrc", "event", G_TYPE_STRING, "reconnected",
                                       "reconnections", G_TYPE_UINT64, count, NULL));
  }
  return GST_PAD_PROBE_OK;
}

/* A live camera does not end: an EOS from the source is a disconnect, and must not reach
 * downstream, where it would finalise encoders and muxers for good. */
static GstPadProbeReturn on_event(GstPad *pad, GstPadProbeInfo *info, gpointer user_data) {
  (void)pad;
  GstSam3ReconnectSrc *self = GST_SAM3_RECONNECT_SRC(user_data);
  if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) != GST_EVENT_EOS)
    return GST_PAD_PROBE_OK;
  g_mutex_lock(&self->lock);
  gboolean pass = self->eos_requested;
  GstElement *source = self->source;
  g_mutex_unlock(&self->lock);
  if (pass)
    return GST_PAD_PROBE_OK;
  schedule_rebuild(self, source, "end of stream");
  return GST_PAD_PROBE_DROP;
}

static void on_pad_added(GstElement *source, GstPad *pad, gpointer user_data) {
  GstSam3ReconnectSrc *self = GST_SAM3_RECONNECT_SRC(user_data);
  GstCaps *caps = gst_pad_get_current_caps(pad);
  if (!caps)
    caps = gst_pad_query_caps(pad, NULL);
  gboolean video =
      !gst_caps_is_empty(caps) &&
      g_str_has_prefix(gst_structure_get_name(gst_caps_get_structure(caps, 0)), "video/");
  gst_caps_unref(caps);
  if (!video)
    return;

  g_mutex_lock(&self->lock);
  gboolean current = source == self->source;
  g_mutex_unlock(&self->lock);
  if (!current)
    return;
  GstPad *target = gst_ghost_pad_get_target(GST_GHOST_PAD(self->srcpad));
  if (target) {
    GST_DEBUG_OBJECT(self, "ignoring second video pad %s", GST_PAD_NAME(pad));
    gst_object_unref(target);
    return;
  }
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_frame, self, NULL);
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_event, self, NULL);
  gst_ghost_pad_set_target(GST_GHOST_PAD(self->srcpad), pad);
}

/* Only the video of a camera is wanted; not setting up its audio saves the bandwidth. */
static gboolean on_select_stream(GstElement *rtspsrc, guint num, GstCaps *caps, gpointer unused) {
  (void)rtspsrc;
  (void)num;
  (void)unused;
  const gchar *media = gst_structure_get_string(gst_caps_get_structure(caps, 0), "media");
  return media == NULL || g_strcmp0(media, "video") == 0;
}

static void on_source_setup(GstElement *uridecodebin, GstElement *source, gpointer user_data) {
  (void)uridecodebin;
  GstSam3ReconnectSrc *self = GST_SAM3_RECONNECT_SRC(user_data);
  GObjectClass *klass = G_OBJECT_GET_CLASS(source);
  if (g_object_class_find_property(klass, "latency")) {
    GST_OBJECT_LOCK(self);
    guint latency = self->latency;
    GST_OBJECT_UNLOCK(self);
    g_object_set(source, "latency", latency, NULL);
  }
  if (g_signal_lookup("select-stream", G_OBJECT_TYPE(source)))
    g_signal_connect(source, "select-stream", G_CALLBACK(on_select_stream), NULL);
}

static GstElement *make_source(GstSam3ReconnectSrc *self) {
  GstElement *source = gst_element_factory_make("uridecodebin", NULL);
  if (!source)
    return NULL;
  GST_OBJECT_LOCK(self);
  g_object_set(source, "uri", self->uri, NULL);
  GST_OBJECT_UNLOCK(self);
  g_signal_connect(source, "source-setup", G_CALLBACK(on_source_setup), self);
  g_signal_connect(source, "pad-added", G_CALLBACK(on_pad_added), self);
  return source;
}

/* Replaces the dead source: detach and stop it, then add a fresh one in the bin's state.
 * Runs on the watchdog thread only, so rebuilds never overlap. */
static void rebuild(GstSam3ReconnectSrc *self) {
  g_mutex_lock(&self->lock);
  GstElement *old = self->source;
  self->source = NULL;
  g_mutex_unlock(&self->lock);

  gst_ghost_pad_set_target(GST_GHOST_PAD(self->srcpad), NULL);
  if (old) {
    gst_element_set_locked_state(old, TRUE);
    gst_element_set_state(old, GST_STATE_NULL);
    gst_bin_remove(GST_BIN(self), old);
  }

  GstElement *source = make_source(self);
  if (!source) {
    GST_ELEMENT_ERROR(self, CORE, MISSING_PLUGIN, ("uridecodebin can no longer be created"),
                      (NULL));
    return;
  }
  g_mutex_lock(&self->lock);
  self->source = source;
  self->source_start = g_get_monotonic_time();
  self->last_frame = 0;
  self->rebuild = FALSE;
  g_mutex_unlock(&self->lock);
  GST_INFO_OBJECT(self, "starting a new source");
  gst_bin_add(GST_BIN(self), source);
  if (!gst_element_sync_state_with_parent(source))
    schedule_rebuild(self, source, "the new source failed to start");
}

static gpointer watchdog_loop(gpointer data) {
  GstSam3ReconnectSrc *self = GST_SAM3_RECONNECT_SRC(data);
  g_mutex_lock(&self->lock);
  while (self->running) {
    gint64 now = g_get_monotonic_time();
    if (self->rebuild && !self->eos_requested) {
      if (now >= self->rebuild_at) {
        g_mutex_unlock(&self->lock);
        rebuild(self);
        g_mutex_lock(&self->lock);
        continue;
      }
      g_cond_wait_until(&self->cond, &self->lock, self->rebuild_at);
      continue;
    }
    /* A live source sends nothing while PAUSED: silence counts only while PLAYING. */
    GST_OBJECT_LOCK(self);
    gint64 timeout = (gint64)self->timeout * G_TIME_SPAN_MILLISECOND;
    gboolean playing = GST_STATE(self) == GST_STATE_PLAYING;
    GST_OBJECT_UNLOCK(self);
    gint64 since = MAX(self->last_frame, self->source_start);
    if (playing && timeout > 0 && self->source && !self->eos_requested && now - since > timeout) {
      GstElement *source = self->source;
      g_mutex_unlock(&self->lock);
      gchar *reason = g_strdup_printf("no frame for %" G_GINT64_FORMAT " ms",
                                      (now - since) / G_TIME_SPAN_MILLISECOND);
      schedule_rebuild(self, source, reason);
      g_free(reason);
      g_mutex_lock(&self->lock);
      continue;
    }
    g_cond_wait_until(&self->cond, &self->lock, now + WATCHDOG_PERIOD_US);
  }
  g_mutex_unlock(&self->lock);
  return NULL;
}

static void stop_watchdog(GstSam3ReconnectSrc *self) {
  g_mutex_lock(&self->lock);
  self->running = FALSE;
  g_cond_signal(&self->cond);
  GThread *thread = self->watchdog;
  self->watchdog = NULL;
  g_mutex_unlock(&self->lock);
  if (thread)
    g_thread_join(thread);
}

/* While reconnecting, every error from inside the bin is a source failing: the current
 * source's errors become a rebuild (schedule_rebuild posts a WARNING with the text), and
 * those a dying source posts while it is being torn down are dropped. Nothing of either
 * reaches the bus, where it would stop the pipeline. */
static void gst_sam3_reconnect_src_handle_message(GstBin *bin, GstMessage *msg) {
  GstSam3ReconnectSrc *self = GST_SAM3_RECONNECT_SRC(bin);
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR && GST_MESSAGE_SRC(msg) != GST_OBJECT(self)) {
    g_mutex_lock(&self->lock);
    GstElement *source = self->source ? GST_ELEMENT(gst_object_ref(self->source)) : NULL;
    gboolean reconnecting = self->running && !self->eos_requested;
    g_mutex_unlock(&self->lock);
    if (reconnecting) {
      GError *err = NULL;
      gst_message_parse_error(msg, &err, NULL);
      if (source && (GST_MESSAGE_SRC(msg) == GST_OBJECT(source) ||
                     gst_object_has_as_ancestor(GST_MESSAGE_SRC(msg), GST_OBJECT(source))))
        schedule_rebuild(self, source, err->message);
      else
        GST_DEBUG_OBJECT(self, "dropping error of a retired source: %s", err->message);
      g_clear_error(&err);
      if (source)
        gst_object_unref(source);
      gst_message_unref(msg);
      return;
    }
    if (source)
      gst_object_unref(source);
  }
  GST_BIN_CLASS(parent_class)->handle_message(bin, msg);
}

/* An application EOS (gst-launch -e, a server shutting down) must end the stream even
 * though source EOS is otherwise swallowed: push it ourselves and stop reconnecting. */
static gboolean gst_sam3_reconnect_src_send_event(GstElement *element, GstEvent *event) {
  GstSam3ReconnectSrc *self = GST_SAM3_RECONNECT_SRC(element);
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS) {
    g_mutex_lock(&self->lock);
    self->eos_requested = TRUE;
    g_cond_signal(&self->cond);
    g_mutex_unlock(&self->lock);
    return gst_pad_push_event(self->srcpad, event);
  }
  return GST_ELEMENT_CLASS(parent_class)->send_event(element, event);
}

static GstStateChangeReturn gst_sam3_reconnect_src_change_state(GstElement *element,
                                                                GstStateChange transition) {
  GstSam3ReconnectSrc *self = GST_SAM3_RECONNECT_SRC(element);
  switch (transition) {
  case GST_STATE_CHANGE_NULL_TO_READY: {
    GST_OBJECT_LOCK(self);
    gboolean has_uri = self->uri && *self->uri;
    gboolean valid = has_uri && gst_uri_is_valid(self->uri);
    GST_OBJECT_UNLOCK(self);
    if (!has_uri) {
      GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("No uri set"),
                        ("set the uri property, e.g. rtsp://camera/stream"));
      return GST_STATE_CHANGE_FAILURE;
    }
    if (!valid) {
      GST_OBJECT_LOCK(self);
      GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("Invalid uri \"%s\"", self->uri), (NULL));
      GST_OBJECT_UNLOCK(self);
      return GST_STATE_CHANGE_FAILURE;
    }
    GstElement *source = make_source(self);
    if (!source) {
      GST_ELEMENT_ERROR(self, CORE, MISSING_PLUGIN, ("uridecodebin is not installed"),
                        ("install gstreamer1.0-plugins-base"));
      return GST_STATE_CHANGE_FAILURE;
    }
    g_mutex_lock(&self->lock);
    self->source = source;
    self->rebuild = FALSE;
    self->disconnected = FALSE;
    self->eos_requested = FALSE;
    self->reconnections = 0;
    GST_OBJECT_LOCK(self);
    self->next_delay = self->retry_delay;
    GST_OBJECT_UNLOCK(self);
    g_mutex_unlock(&self->lock);
    gst_bin_add(GST_BIN(self), source);
    break;
  }
  case GST_STATE_CHANGE_READY_TO_PAUSED:
    g_mutex_lock(&self->lock);
    self->running = TRUE;
    self->source_start = g_get_monotonic_time();
    self->last_frame = 0;
    self->watchdog = g_thread_new("sam3reconnectsrc", watchdog_loop, self);
    g_mutex_unlock(&self->lock);
    break;
  case GST_STATE_CHANGE_PAUSED_TO_PLAYING:
    g_mutex_lock(&self->lock);
    self->source_start = g_get_monotonic_time();
    g_mutex_unlock(&self->lock);
    break;
  case GST_STATE_CHANGE_PAUSED_TO_READY:
    stop_watchdog(self);
    break;
  default:
    break;
  }

  GstStateChangeReturn ret = GST_ELEMENT_CLASS(parent_class)->change_state(element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    /* The source's error was taken for a disconnect; a source that cannot even start
     * (a missing file, an unknown protocol) is a configuration error: say so. */
    if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
      stop_watchdog(self);
      g_mutex_lock(&self->lock);
      gchar *reason = g_strdup(self->last_reason ? self->last_reason : "the source failed");
      g_mutex_unlock(&self->lock);
      GST_OBJECT_LOCK(self);
      gchar *uri = g_strdup(self->uri);
      GST_OBJECT_UNLOCK(self);
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Could not start %s: %s", uri, reason), (NULL));
      g_free(uri);
      g_free(reason);
    }
    return ret;
  }

  switch (transition) {
  case GST_STATE_CHANGE_READY_TO_PAUSED:
  case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
    /* Live whatever the (possibly absent, mid-rebuild) source says. */
    ret = GST_STATE_CHANGE_NO_PREROLL;
    break;
  case GST_STATE_CHANGE_READY_TO_NULL: {
    gst_ghost_pad_set_target(GST_GHOST_PAD(self->srcpad), NULL);
    g_mutex_lock(&self->lock);
    GstElement *source = self->source;
    self->source = NULL;
    g_mutex_unlock(&self->lock);
    if (source) {
      gst_element_set_state(source, GST_STATE_NULL);
      gst_bin_remove(GST_BIN(self), source);
    }
    break;
  }
  default:
    break;
  }
  return ret;
}

static void gst_sam3_reconnect_src_set_property(GObject *object, guint prop_id, const GValue *value,
                                                GParamSpec *pspec) {
  GstSam3ReconnectSrc *self = GST_SAM3_RECONNECT_SRC(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
  case PROP_URI:
    g_free(self->uri);
    self->uri = g_value_dup_string(value);
    break;
  case PROP_LATENCY:
    self->latency = g_value_get_uint(value);
    break;
  case PROP_TIMEOUT:
    self->timeout = g_value_get_uint(value);
    break;
  case PROP_RETRY_DELAY:
    self->retry_delay = g_value_get_uint(value);
    break;
  case PROP_MAX_RETRY_DELAY:
    self->max_retry_delay = g_value_get_uint(value);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_sam3_reconnect_src_get_property(GObject *object, guint prop_id, GValue *value,
                                                GParamSpec *pspec) {
  GstSam3ReconnectSrc *self = GST_SAM3_RECONNECT_SRC(object);
  if (prop_id == PROP_RECONNECTIONS) {
    g_mutex_lock(&self->lock);
    g_value_set_uint64(value, self->reconnections);
    g_mutex_unlock(&self->lock);
    return;
  }
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
  case PROP_URI:
    g_value_set_string(value, self->uri);
    break;
  case PROP_LATENCY:
    g_value_set_uint(value, self->latency);
    break;
  case PROP_TIMEOUT:
    g_value_set_uint(value, self->timeout);
    break;
  case PROP_RETRY_DELAY:
    g_value_set_uint(value, self->retry_delay);
    break;
  case PROP_MAX_RETRY_DELAY:
    g_value_set_uint(value, self->max_retry_delay);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_sam3_reconnect_src_finalize(GObject *object) {
  GstSam3ReconnectSrc *self = GST_SAM3_RECONNECT_SRC(object);
  g_free(self->uri);
  g_free(self->last_reason);
  g_mutex_clear(&self->lock);
  g_cond_clear(&self->cond);
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_sam3_reconnect_src_class_init(GstSam3ReconnectSrcClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBinClass *bin_class = GST_BIN_CLASS(klass);

  gobject_class->set_property = gst_sam3_reconnect_src_set_property;
  gobject_class->get_property = gst_sam3_reconnect_src_get_property;
  gobject_class->finalize = gst_sam3_reconnect_src_finalize;

  const GParamFlags rw =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(gobject_class, PROP_URI,
                                  g_param_spec_string("uri", "URI",
                                                      "What to decode, e.g. rtsp://camera/stream",
                                                      DEFAULT_URI, rw));
  g_object_class_install_property(
      gobject_class, PROP_LATENCY,
      g_param_spec_uint("latency", "Latency",
                        "Jitter buffer of an RTSP source in ms (rtspsrc's own default is 2000)", 0,
                        G_MAXUINT, DEFAULT_LATENCY, rw));
  g_object_class_install_property(
      gobject_class, PROP_TIMEOUT,
      g_param_spec_uint("timeout", "Timeout",
                        "Reconnect when no frame came for this many ms (0 = only on error/EOS)", 0,
                        G_MAXUINT, DEFAULT_TIMEOUT, (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property(
      gobject_class, PROP_RETRY_DELAY,
      g_param_spec_uint("retry-delay", "Retry delay",
                        "Wait before the first reconnection attempt in ms; doubles per failure", 0,
                        G_MAXUINT, DEFAULT_RETRY_DELAY,
                        (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property(
      gobject_class, PROP_MAX_RETRY_DELAY,
      g_param_spec_uint("max-retry-delay", "Maximum retry delay",
                        "Upper bound of the doubling wait between attempts in ms", 0, G_MAXUINT,
                        DEFAULT_MAX_RETRY_DELAY, (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property(
      gobject_class, PROP_RECONNECTIONS,
      g_param_spec_uint64("reconnections", "Reconnections",
                          "Times frames flowed again after a disconnect", 0, G_MAXUINT64, 0,
                          (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "Reconnecting live video source", "Source/Video",
      "Decodes a URI (an RTSP camera) and rebuilds the source with exponential back-off when it "
      "fails, ends or stalls, so downstream keeps running",
      "gst-sam3 developers");

  element_class->change_state = gst_sam3_reconnect_src_change_state;
  element_class->send_event = gst_sam3_reconnect_src_send_event;
  bin_class->handle_message = gst_sam3_reconnect_src_handle_message;
}

static void gst_sam3_reconnect_src_init(GstSam3ReconnectSrc *self) {
  self->uri = g_strdup(DEFAULT_URI);
  self->latency = DEFAULT_LATENCY;
  self->timeout = DEFAULT_TIMEOUT;
  self->retry_delay = DEFAULT_RETRY_DELAY;
  self->max_retry_delay = DEFAULT_MAX_RETRY_DELAY;
  self->next_delay = DEFAULT_RETRY_DELAY;
  g_mutex_init(&self->lock);
  g_cond_init(&self->cond);
  GstPadTemplate *templ = gst_static_pad_template_get(&src_template);
  self->srcpad = gst_ghost_pad_new_no_target_from_template("src", templ);
  gst_object_unref(templ);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SOURCE);
}
