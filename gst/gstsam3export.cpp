/* gst-sam3: sam3export.
 *
 * A pass-through GstBaseTransform: it only reads metadata, so the buffer is never made
 * writable or copied. The MQTT publisher and its topic placeholders live in gstsam3mqtt.cpp.
 */
/**
 * SECTION:element-sam3export
 * @title: sam3export
 *
 * Turns the #GstSam3Meta of every frame into one JSON object (schema "gst-sam3/1", see
 * docs/metadata.md) and sends it, by @method, to a file or standard output as JSON Lines
 * (@location) or to an MQTT broker as one message per frame (@address, @topic); it can
 * also post it on the bus as an element message named "sam3-results" with a "json" string
 * field.
 *
 * Every line of the file is written whole with one write(2), so the file holds whole lines
 * whenever the process is between two system calls; only a fatal signal during the kernel's
 * copy of a line that straddles a page can leave that last line cut. MQTT messages wait in a
 * bounded queue (@max-queued) while the broker is unreachable: the oldest are then dropped and
 * counted (@messages-dropped), the element reconnects with back-off and posts a WARNING, and
 * the pipeline never blocks. A broker that refuses the TLS handshake or the credentials is an
 * ERROR.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 ... ! sam3detect model=/models/sam3 prompt=person ! \
 *     sam3export location=results.jsonl ! fakesink
 * gst-launch-1.0 ... ! sam3detect model=/models/sam3 prompt=person ! \
 *     sam3export method=mqtt address=broker.local:1883 topic=cameras/{stream}/sam3 \
 *     stream-name=gate1 ! fakesink
 * ]|
 */
#include "gstsam3export.h"

#include "gstsam3meta.h"
#include "gstsam3mqtt.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

GST_DEBUG_CATEGORY(gst_sam3_export_debug);
#define GST_CAT_DEFAULT gst_sam3_export_debug

#define DEFAULT_METHOD GST_SAM3_EXPORT_METHOD_FILE
#define DEFAULT_LOCATION NULL
#define DEFAULT_MASKS FALSE
#define DEFAULT_POST_MESSAGES FALSE
#define DEFAULT_EMPTY_FRAMES TRUE
#define DEFAULT_SYNC_EVERY_FRAME FALSE
#define DEFAULT_ADDRESS "127.0.0.1:1883"
#define DEFAULT_TOPIC "sam3/{stream}"
#define DEFAULT_STREAM_NAME NULL
#define DEFAULT_MQTT_QOS 1
#define DEFAULT_CLIENT_ID NULL
#define DEFAULT_USERNAME NULL
#define DEFAULT_PASSWORD NULL
#define DEFAULT_TLS_CA_FILE NULL
#define DEFAULT_TLS_CERT_FILE NULL
#define DEFAULT_TLS_KEY_FILE NULL
#define DEFAULT_KEEP_ALIVE 60
#define DEFAULT_MAX_QUEUED 1000
#define DEFAULT_RETRY_DELAY 500
#define DEFAULT_MAX_RETRY_DELAY 16000

/* At EOS the element waits this long for queued messages to reach a connected broker, so a
 * finite stream's last results are not lost when the pipeline stops right after. */
#define EOS_DRAIN_TIMEOUT_US (5 * G_TIME_SPAN_SECOND)

enum {
  PROP_0,
  PROP_METHOD,
  PROP_LOCATION,
  PROP_MASKS,
  PROP_POST_MESSAGES,
  PROP_EMPTY_FRAMES,
  PROP_SYNC_EVERY_FRAME,
  PROP_ADDRESS,
  PROP_TOPIC,
  PROP_STREAM_NAME,
  PROP_MQTT_QOS,
  PROP_CLIENT_ID,
  PROP_USERNAME,
  PROP_PASSWORD,
  PROP_TLS_CA_FILE,
  PROP_TLS_CERT_FILE,
  PROP_TLS_KEY_FILE,
  PROP_KEEP_ALIVE,
  PROP_MAX_QUEUED,
  PROP_RETRY_DELAY,
  PROP_MAX_RETRY_DELAY,
  PROP_MESSAGES_PUBLISHED,
  PROP_MESSAGES_DROPPED,
};

struct _GstSam3Export {
  GstBaseTransform parent;

  /* properties (object lock) */
  GstSam3ExportMethod method;
  gchar *location;
  gboolean masks;
  gboolean post_messages;
  gboolean empty_frames;
  gboolean sync_every_frame;
  gchar *address;
  gchar *topic;
  gchar *stream_name;
  guint mqtt_qos;
  gchar *client_id;
  gchar *username;
  gchar *password;
  gchar *tls_ca_file;
  gchar *tls_cert_file;
  gchar *tls_key_file;
  guint keep_alive;
  guint max_queued;
  guint retry_delay;
  guint max_retry_delay;

  /* the publisher while started, and its final counts after (object lock) */
  GstSam3Mqtt *mqtt;
  guint64 published;
  guint64 dropped;

  /* streaming thread */
  int fd;            /* -1 = no file */
  gboolean owns_fd;  /* not standard output */
  gboolean syncable; /* a regular file, which fdatasync can flush */
  guint64 frames;
};

GType gst_sam3_export_method_get_type(void) {
  static gsize id = 0;
  static const GEnumValue values[] = {
      {GST_SAM3_EXPORT_METHOD_FILE, "JSON Lines to location (a file or '-' for standard output)",
       "file"},
      {GST_SAM3_EXPORT_METHOD_MQTT, "One MQTT message per frame to address/topic", "mqtt"},
      {0, NULL, NULL},
  };
  if (g_once_init_enter(&id)) {
    GType t = g_enum_register_static("GstSam3ExportMethod", values);
    g_once_init_leave(&id, t);
  }
  return (GType)id;
}

#define gst_sam3_export_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE(GstSam3Export, gst_sam3_export, GST_TYPE_BASE_TRANSFORM,
                        GST_DEBUG_CATEGORY_INIT(gst_sam3_export_debug, "sam3export", 0,
                                                "SAM 3 results to JSON"));
GST_ELEMENT_REGISTER_DEFINE(sam3export, "sam3export", GST_RANK_NONE, GST_TYPE_SAM3_EXPORT);

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static void replace_string(gchar **field, const GValue *value) {
  g_free(*field);
  *field = g_value_dup_string(value);
}

static void gst_sam3_export_set_property(GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec) {
  GstSam3Export *self = GST_SAM3_EXPORT(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
  case PROP_METHOD:
    self->method = (GstSam3ExportMethod)g_value_get_enum(value);
    break;
  case PROP_LOCATION:
    replace_string(&self->location, value);
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
  case PROP_SYNC_EVERY_FRAME:
    self->sync_every_frame = g_value_get_boolean(value);
    break;
  case PROP_ADDRESS:
    replace_string(&self->address, value);
    break;
  case PROP_TOPIC:
    replace_string(&self->topic, value);
    break;
  case PROP_STREAM_NAME:
    replace_string(&self->stream_name, value);
    break;
  case PROP_MQTT_QOS:
    self->mqtt_qos = g_value_get_uint(value);
    break;
  case PROP_CLIENT_ID:
    replace_string(&self->client_id, value);
    break;
  case PROP_USERNAME:
    replace_string(&self->username, value);
    break;
  case PROP_PASSWORD:
    replace_string(&self->password, value);
    break;
  case PROP_TLS_CA_FILE:
    replace_string(&self->tls_ca_file, value);
    break;
  case PROP_TLS_CERT_FILE:
    replace_string(&self->tls_cert_file, value);
    break;
  case PROP_TLS_KEY_FILE:
    replace_string(&self->tls_key_file, value);
    break;
  case PROP_KEEP_ALIVE:
    self->keep_alive = g_value_get_uint(value);
    break;
  case PROP_MAX_QUEUED:
    self->max_queued = g_value_get_uint(value);
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

static void gst_sam3_export_get_property(GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec) {
  GstSam3Export *self = GST_SAM3_EXPORT(object);
  guint64 published, dropped;
  GST_OBJECT_LOCK(self);
  published = self->published;
  dropped = self->dropped;
  if (self->mqtt)
    gst_sam3_mqtt_get_counts(self->mqtt, &published, &dropped);
  switch (prop_id) {
  case PROP_METHOD:
    g_value_set_enum(value, self->method);
    break;
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
  case PROP_SYNC_EVERY_FRAME:
    g_value_set_boolean(value, self->sync_every_frame);
    break;
  case PROP_ADDRESS:
    g_value_set_string(value, self->address);
    break;
  case PROP_TOPIC:
    g_value_set_string(value, self->topic);
    break;
  case PROP_STREAM_NAME:
    g_value_set_string(value, self->stream_name);
    break;
  case PROP_MQTT_QOS:
    g_value_set_uint(value, self->mqtt_qos);
    break;
  case PROP_CLIENT_ID:
    g_value_set_string(value, self->client_id);
    break;
  case PROP_USERNAME:
    g_value_set_string(value, self->username);
    break;
  case PROP_TLS_CA_FILE:
    g_value_set_string(value, self->tls_ca_file);
    break;
  case PROP_TLS_CERT_FILE:
    g_value_set_string(value, self->tls_cert_file);
    break;
  case PROP_TLS_KEY_FILE:
    g_value_set_string(value, self->tls_key_file);
    break;
  case PROP_KEEP_ALIVE:
    g_value_set_uint(value, self->keep_alive);
    break;
  case PROP_MAX_QUEUED:
    g_value_set_uint(value, self->max_queued);
    break;
  case PROP_RETRY_DELAY:
    g_value_set_uint(value, self->retry_delay);
    break;
  case PROP_MAX_RETRY_DELAY:
    g_value_set_uint(value, self->max_retry_delay);
    break;
  case PROP_MESSAGES_PUBLISHED:
    g_value_set_uint64(value, published);
    break;
  case PROP_MESSAGES_DROPPED:
    g_value_set_uint64(value, dropped);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK(self);
}

static gboolean start_mqtt(GstSam3Export *self) {
  GstSam3MqttSettings settings;
  GST_OBJECT_LOCK(self);
  gchar *pattern = g_strdup(self->topic), *stream_name = g_strdup(self->stream_name);
  gchar *address = g_strdup(self->address), *client_id = g_strdup(self->client_id);
  gchar *username = g_strdup(self->username), *password = g_strdup(self->password);
  gchar *ca = g_strdup(self->tls_ca_file), *cert = g_strdup(self->tls_cert_file);
  gchar *key = g_strdup(self->tls_key_file);
  settings.qos = (gint)self->mqtt_qos;
  settings.keep_alive = self->keep_alive;
  settings.max_queued = self->max_queued;
  settings.retry_delay = self->retry_delay;
  settings.max_retry_delay = self->max_retry_delay;
  GST_OBJECT_UNLOCK(self);

  /* Outside the object lock: posting an error takes it. */
  gchar *topic = gst_sam3_mqtt_expand_topic(GST_ELEMENT(self), pattern, stream_name);
  GstSam3Mqtt *mqtt = NULL;
  if (topic) {
    settings.address = address;
    settings.topic = topic;
    settings.client_id = client_id;
    settings.username = username;
    settings.password = password;
    settings.tls_ca_file = ca;
    settings.tls_cert_file = cert;
    settings.tls_key_file = key;
    mqtt = gst_sam3_mqtt_start(GST_ELEMENT(self), &settings);
  }
  g_free(pattern);
  g_free(stream_name);
  g_free(address);
  g_free(topic);
  g_free(client_id);
  g_free(username);
  g_free(password);
  g_free(ca);
  g_free(cert);
  g_free(key);
  GST_OBJECT_LOCK(self);
  self->mqtt = mqtt;
  GST_OBJECT_UNLOCK(self);
  return mqtt != NULL;
}

static gboolean start_file(GstSam3Export *self) {
  GST_OBJECT_LOCK(self);
  gchar *location = g_strdup(self->location);
  GST_OBJECT_UNLOCK(self);
  gboolean ok = TRUE;
  if (location == NULL || location[0] == '\0') {
    /* no file: bus messages only */
  } else if (strcmp(location, "-") == 0) {
    self->fd = STDOUT_FILENO;
    self->owns_fd = FALSE;
  } else {
    self->fd = open(location, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    self->owns_fd = TRUE;
    if (self->fd < 0) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE,
                        ("Cannot open \"%s\" for writing: %s", location, g_strerror(errno)),
                        (NULL));
      ok = FALSE;
    }
  }
  struct stat st;
  self->syncable = self->fd >= 0 && fstat(self->fd, &st) == 0 && S_ISREG(st.st_mode);
  g_free(location);
  return ok;
}

static gboolean gst_sam3_export_start(GstBaseTransform *trans) {
  GstSam3Export *self = GST_SAM3_EXPORT(trans);
  GST_OBJECT_LOCK(self);
  const GstSam3ExportMethod method = self->method;
  self->published = 0;
  self->dropped = 0;
  GST_OBJECT_UNLOCK(self);
  self->frames = 0;
  self->fd = -1;
  return method == GST_SAM3_EXPORT_METHOD_MQTT ? start_mqtt(self) : start_file(self);
}

static gboolean gst_sam3_export_stop(GstBaseTransform *trans) {
  GstSam3Export *self = GST_SAM3_EXPORT(trans);
  if (self->fd >= 0 && self->owns_fd)
    close(self->fd);
  self->fd = -1;

  GST_OBJECT_LOCK(self);
  GstSam3Mqtt *mqtt = self->mqtt;
  GST_OBJECT_UNLOCK(self);
  if (mqtt) {
    gst_sam3_mqtt_stop(mqtt);
    GST_OBJECT_LOCK(self);
    gst_sam3_mqtt_get_counts(mqtt, &self->published, &self->dropped);
    self->mqtt = NULL;
    GST_OBJECT_UNLOCK(self);
    gst_sam3_mqtt_free(mqtt);
  }
  return TRUE;
}

static gboolean gst_sam3_export_sink_event(GstBaseTransform *trans, GstEvent *event) {
  GstSam3Export *self = GST_SAM3_EXPORT(trans);
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS && self->mqtt)
    gst_sam3_mqtt_drain(self->mqtt, EOS_DRAIN_TIMEOUT_US);
  return GST_BASE_TRANSFORM_CLASS(parent_class)->sink_event(trans, event);
}

/* One write(2) for the whole line, so the file never ends inside a line between two system
 * calls (stdio would flush its buffer at arbitrary byte positions); the kernel cuts a file
 * write short only between pages, for a fatal signal or a full disk. The loop only continues
 * a write the kernel cut short (a full disk, a pipe), not one it refused. */
static gboolean write_line(GstSam3Export *self, const gchar *line, gsize length, gboolean sync) {
  if (!self->owns_fd)
    fflush(stdout); /* whatever the application printed comes before our line */
  while (length > 0) {
    const ssize_t n = write(self->fd, line, length);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    line += n;
    length -= (gsize)n;
  }
  return !sync || !self->syncable || fdatasync(self->fd) == 0;
}

static GstFlowReturn gst_sam3_export_transform_ip(GstBaseTransform *trans, GstBuffer *buf) {
  GstSam3Export *self = GST_SAM3_EXPORT(trans);
  GST_OBJECT_LOCK(self);
  const gboolean masks = self->masks, post = self->post_messages, empty = self->empty_frames;
  const gboolean sync = self->sync_every_frame;
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

  if (self->fd >= 0) {
    gchar *line = g_strconcat(json, "\n", NULL);
    const gboolean written = write_line(self, line, strlen(line), sync);
    g_free(line);
    if (!written) {
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
  if (self->mqtt) {
    /* FALSE only after the broker refused the TLS handshake or the credentials, which
     * posted an ERROR. */
    if (!gst_sam3_mqtt_push(self->mqtt, json))
      return GST_FLOW_ERROR;
  } else {
    g_free(json);
  }
  return GST_FLOW_OK;
}

static void gst_sam3_export_finalize(GObject *object) {
  GstSam3Export *self = GST_SAM3_EXPORT(object);
  g_free(self->location);
  g_free(self->address);
  g_free(self->topic);
  g_free(self->stream_name);
  g_free(self->client_id);
  g_free(self->username);
  g_free(self->password);
  g_free(self->tls_ca_file);
  g_free(self->tls_cert_file);
  g_free(self->tls_key_file);
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void install_string(GObjectClass *klass, guint id, const gchar *name, const gchar *nick,
                           const gchar *blurb, const gchar *value, GParamFlags flags) {
  g_object_class_install_property(klass, id, g_param_spec_string(name, nick, blurb, value, flags));
}

static void gst_sam3_export_class_init(GstSam3ExportClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);

  gobject_class->set_property = gst_sam3_export_set_property;
  gobject_class->get_property = gst_sam3_export_get_property;
  gobject_class->finalize = gst_sam3_export_finalize;

  const GParamFlags rw = (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags ready = (GParamFlags)(rw | GST_PARAM_MUTABLE_READY);
  const GParamFlags playing = (GParamFlags)(rw | GST_PARAM_MUTABLE_PLAYING);
  const GParamFlags read_only = (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_property(
      gobject_class, PROP_METHOD,
      g_param_spec_enum("method", "Method",
                        "Where the JSON goes: a file (location) or an MQTT broker (address)",
                        GST_TYPE_SAM3_EXPORT_METHOD, DEFAULT_METHOD, ready));
  install_string(gobject_class, PROP_LOCATION, "location", "Location",
                 "method=file: file to write JSON Lines to ('-' = standard output; empty = no "
                 "file)",
                 DEFAULT_LOCATION, ready);
  g_object_class_install_property(
      gobject_class, PROP_MASKS,
      g_param_spec_boolean("masks", "Masks",
                           "Include the run-length-encoded binary masks of the instances",
                           DEFAULT_MASKS, playing));
  g_object_class_install_property(
      gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean("post-messages", "Post messages",
                           "Also post each frame's JSON on the bus as a \"sam3-results\" "
                           "element message (fields: json, frame)",
                           DEFAULT_POST_MESSAGES, playing));
  g_object_class_install_property(
      gobject_class, PROP_EMPTY_FRAMES,
      g_param_spec_boolean("empty-frames", "Empty frames",
                           "Also write a line (with no instances) for frames without SAM 3 "
                           "metadata",
                           DEFAULT_EMPTY_FRAMES, playing));
  g_object_class_install_property(
      gobject_class, PROP_SYNC_EVERY_FRAME,
      g_param_spec_boolean("sync-every-frame", "Sync every frame",
                           "method=file: fdatasync(2) the file after every line, so a power cut "
                           "or kernel crash loses at most the frame being written (costs a "
                           "disk flush per frame)",
                           DEFAULT_SYNC_EVERY_FRAME, playing));
  install_string(gobject_class, PROP_ADDRESS, "address", "Address",
                 "method=mqtt: the broker as HOST:PORT ([IPV6]:PORT; PORT defaults to 1883, "
                 "8883 with TLS)",
                 DEFAULT_ADDRESS, ready);
  install_string(gobject_class, PROP_TOPIC, "topic", "Topic",
                 "method=mqtt: topic of the messages; {stream} is replaced by stream-name, "
                 "{element} by the element's name",
                 DEFAULT_TOPIC, ready);
  install_string(gobject_class, PROP_STREAM_NAME, "stream-name", "Stream name",
                 "The stream's name for {stream} in topic (NULL = the element's name)",
                 DEFAULT_STREAM_NAME, ready);
  /* Not "qos": GstBaseTransform already has a boolean property of that name. */
  g_object_class_install_property(
      gobject_class, PROP_MQTT_QOS,
      g_param_spec_uint("mqtt-qos", "MQTT QoS",
                        "method=mqtt: 0 = at most once, 1 = at least once, 2 = exactly once", 0, 2,
                        DEFAULT_MQTT_QOS, ready));
  install_string(gobject_class, PROP_CLIENT_ID, "client-id", "Client id",
                 "method=mqtt: MQTT client identifier, unique per broker (NULL = a random one)",
                 DEFAULT_CLIENT_ID, ready);
  install_string(gobject_class, PROP_USERNAME, "username", "User name",
                 "method=mqtt: user name to log in with (NULL = anonymous)", DEFAULT_USERNAME,
                 ready);
  g_object_class_install_property(
      gobject_class, PROP_PASSWORD,
      g_param_spec_string(
          "password", "Password",
          "method=mqtt: password for username (write-only, so pipeline dumps "
          "do not show it)",
          DEFAULT_PASSWORD,
          (GParamFlags)(G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  install_string(gobject_class, PROP_TLS_CA_FILE, "tls-ca-file", "TLS CA file",
                 "method=mqtt: PEM file of the CA(s) that signed the broker's certificate; set "
                 "= TLS on (the broker's name or IP must match its certificate)",
                 DEFAULT_TLS_CA_FILE, ready);
  install_string(gobject_class, PROP_TLS_CERT_FILE, "tls-cert-file", "TLS certificate file",
                 "method=mqtt: PEM client certificate, for brokers that require one (with "
                 "tls-key-file)",
                 DEFAULT_TLS_CERT_FILE, ready);
  install_string(gobject_class, PROP_TLS_KEY_FILE, "tls-key-file", "TLS key file",
                 "method=mqtt: PEM private key of tls-cert-file (unencrypted)",
                 DEFAULT_TLS_KEY_FILE, ready);
  g_object_class_install_property(
      gobject_class, PROP_KEEP_ALIVE,
      g_param_spec_uint("keep-alive", "Keep-alive",
                        "method=mqtt: seconds between pings on an idle connection; a broker "
                        "silent for longer counts as lost",
                        5, 65535, DEFAULT_KEEP_ALIVE, ready));
  g_object_class_install_property(
      gobject_class, PROP_MAX_QUEUED,
      g_param_spec_uint("max-queued", "Max queued",
                        "method=mqtt: messages kept while the broker is unreachable or slow; "
                        "beyond, the oldest is dropped (counted in messages-dropped)",
                        1, 10000000, DEFAULT_MAX_QUEUED, ready));
  g_object_class_install_property(
      gobject_class, PROP_RETRY_DELAY,
      g_param_spec_uint("retry-delay", "Retry delay",
                        "method=mqtt: ms before reconnecting to the broker; doubles after each "
                        "failed attempt",
                        10, 600000, DEFAULT_RETRY_DELAY, ready));
  g_object_class_install_property(
      gobject_class, PROP_MAX_RETRY_DELAY,
      g_param_spec_uint("max-retry-delay", "Max retry delay",
                        "method=mqtt: cap of the doubling retry delay, ms; back to retry-delay "
                        "once connected",
                        10, 3600000, DEFAULT_MAX_RETRY_DELAY, ready));
  g_object_class_install_property(
      gobject_class, PROP_MESSAGES_PUBLISHED,
      g_param_spec_uint64("messages-published", "Messages published",
                          "method=mqtt: messages the broker acknowledged (QoS 1, 2) or that "
                          "were sent (QoS 0) since start",
                          0, G_MAXUINT64, 0, read_only));
  g_object_class_install_property(
      gobject_class, PROP_MESSAGES_DROPPED,
      g_param_spec_uint64("messages-dropped", "Messages dropped",
                          "method=mqtt: oldest messages dropped from a full queue since start", 0,
                          G_MAXUINT64, 0, read_only));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "SAM 3 results exporter", "Filter/Analyzer/Video",
      "Writes SAM 3 instances as JSON Lines, MQTT messages and bus messages",
      "gst-sam3 developers");

  trans_class->start = GST_DEBUG_FUNCPTR(gst_sam3_export_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_sam3_export_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_sam3_export_sink_event);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_sam3_export_transform_ip);
  trans_class->transform_ip_on_passthrough = TRUE;
}

static void gst_sam3_export_init(GstSam3Export *self) {
  self->method = DEFAULT_METHOD;
  self->location = g_strdup(DEFAULT_LOCATION);
  self->masks = DEFAULT_MASKS;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->empty_frames = DEFAULT_EMPTY_FRAMES;
  self->sync_every_frame = DEFAULT_SYNC_EVERY_FRAME;
  self->address = g_strdup(DEFAULT_ADDRESS);
  self->topic = g_strdup(DEFAULT_TOPIC);
  self->stream_name = g_strdup(DEFAULT_STREAM_NAME);
  self->mqtt_qos = DEFAULT_MQTT_QOS;
  self->client_id = g_strdup(DEFAULT_CLIENT_ID);
  self->username = g_strdup(DEFAULT_USERNAME);
  self->password = g_strdup(DEFAULT_PASSWORD);
  self->tls_ca_file = g_strdup(DEFAULT_TLS_CA_FILE);
  self->tls_cert_file = g_strdup(DEFAULT_TLS_CERT_FILE);
  self->tls_key_file = g_strdup(DEFAULT_TLS_KEY_FILE);
  self->keep_alive = DEFAULT_KEEP_ALIVE;
  self->max_queued = DEFAULT_MAX_QUEUED;
  self->retry_delay = DEFAULT_RETRY_DELAY;
  self->max_retry_delay = DEFAULT_MAX_RETRY_DELAY;
  self->fd = -1;
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
}
