/* gst-sam3: the MQTT publisher behind sam3export method=mqtt.
 *
 * One thread per publisher owns the libmosquitto client and is the only one to call it; it
 * runs libmosquitto's "external loop" (mosquitto_loop_read/write/misc on its socket) so
 * that it can also sleep on an eventfd the streaming thread pokes when it queued a message.
 * libmosquitto's own loop thread would hide why a connection failed (and stops for good on
 * TLS or name-resolution errors), and it could not be woken by our queue.
 *
 * Memory is bounded twice: at most max_queued messages wait here, and at most SEND_WINDOW
 * are handed to libmosquitto at a time (it keeps QoS 1/2 messages until acknowledged and
 * sends them again after a reconnection, in order, before anything newer).
 */
#include "gstsam3mqtt.h"

#include <glib/gstdio.h>
#include <mosquitto.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_EXTERN(gst_sam3_export_debug);
#define GST_CAT_DEFAULT gst_sam3_export_debug

/* Messages handed to libmosquitto and not yet acknowledged (its own default in-flight
 * limit, so it never queues beyond what we count). */
#define SEND_WINDOW 20
/* The longest the thread sleeps when nothing happens: keep-alive pings are due from it. */
#define POLL_PERIOD_MS 1000
/* A broker that does not complete the MQTT handshake in this time counts as unreachable
 * (a dropped SYN would otherwise take the kernel's two minutes). */
#define CONNECT_TIMEOUT_US (10 * G_TIME_SPAN_SECOND)

enum Verdict { VERDICT_RETRY, VERDICT_TLS, VERDICT_AUTH, VERDICT_REFUSED };

struct _GstSam3Mqtt {
  GstElement *owner;
  struct mosquitto *mosq;
  gchar *host;
  guint port;
  gchar *where; /* host:port, for messages */
  gchar *topic;
  gint qos;
  guint keep_alive;
  guint max_queued;
  guint retry_delay;
  guint max_retry_delay;
  int wake_fd;
  GThread *thread;

  /* shared with the streaming thread (lock) */
  GMutex lock;
  GCond cond;
  GQueue queue;     /* gchar *, oldest first */
  guint in_library; /* handed to libmosquitto, not yet acknowledged (written, for QoS 0) */
  gboolean connected;
  gboolean stopping;
  gboolean failed;   /* refused for good: an ERROR was posted */
  gboolean dropping; /* the queue overflowed during this outage (logged once) */
  guint64 published;
  guint64 dropped;

  /* publisher thread only */
  int connack;      /* the broker's CONNACK code of the current attempt, -1 = none yet */
  gchar *log_error; /* libmosquitto's latest error line (OpenSSL's reason for TLS) */
};

/* Splits HOST[:PORT] ("[v6]:PORT" for IPv6); FALSE with a reason in @error when malformed. */
static gboolean parse_address(const gchar *address, guint default_port, gchar **host, guint *port,
                              GError **error) {
  const gchar *port_text = NULL;
  gchar *name = NULL;
  if (address == NULL || address[0] == '\0') {
    g_set_error(error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "no address set");
    return FALSE;
  }
  if (address[0] == '[') {
    const gchar *close = strchr(address, ']');
    if (close == NULL || close == address + 1 || (close[1] != '\0' && close[1] != ':')) {
      g_set_error(error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
                  "an IPv6 address is written [ADDRESS]:PORT");
      return FALSE;
    }
    name = g_strndup(address + 1, close - address - 1);
    port_text = close[1] == ':' ? close + 2 : NULL;
  } else {
    const gchar *colon = strchr(address, ':');
    if (colon && strchr(colon + 1, ':')) {
      g_set_error(error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
                  "more than one ':' (write an IPv6 address as [ADDRESS]:PORT)");
      return FALSE;
    }
    if (colon == address) {
      g_set_error(error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "no host before the ':'");
      return FALSE;
    }
    name = colon ? g_strndup(address, colon - address) : g_strdup(address);
    port_text = colon ? colon + 1 : NULL;
  }
  guint64 number = default_port;
  if (port_text && !g_ascii_string_to_unsigned(port_text, 10, 1, 65535, &number, NULL)) {
    g_set_error(error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
                "the port \"%s\" is not a number from 1 to 65535", port_text);
    g_free(name);
    return FALSE;
  }
  *host = name;
  *port = (guint)number;
  return TRUE;
}

static void on_connect(struct mosquitto *mosq, void *data, int rc) {
  (void)mosq;
  static_cast<GstSam3Mqtt *>(data)->connack = rc;
}

static void on_publish(struct mosquitto *mosq, void *data, int mid) {
  (void)mosq;
  (void)mid;
  GstSam3Mqtt *m = static_cast<GstSam3Mqtt *>(data);
  g_mutex_lock(&m->lock);
  if (m->in_library > 0)
    m->in_library--;
  m->published++;
  g_cond_broadcast(&m->cond);
  g_mutex_unlock(&m->lock);
}

static void on_log(struct mosquitto *mosq, void *data, int level, const char *line) {
  (void)mosq;
  GstSam3Mqtt *m = static_cast<GstSam3Mqtt *>(data);
  GST_DEBUG_OBJECT(m->owner, "libmosquitto: %s", line);
  if (level & MOSQ_LOG_ERR) {
    g_free(m->log_error);
    m->log_error = g_strdup(line);
  }
}

static void wake(GstSam3Mqtt *m) {
  const guint64 one = 1;
  if (write(m->wake_fd, &one, sizeof one) < 0)
    GST_DEBUG_OBJECT(m->owner, "eventfd write: %s", g_strerror(errno));
}

/* Sleeps until @fd has one of @events, the streaming thread wakes us, or @timeout_ms passed;
 * returns @fd's revents. */
static short wait_for(GstSam3Mqtt *m, int fd, short events, int timeout_ms) {
  struct pollfd fds[2] = {{m->wake_fd, POLLIN, 0}, {fd, events, 0}};
  const int n = poll(fds, fd >= 0 ? 2 : 1, timeout_ms);
  if (n > 0 && (fds[0].revents & POLLIN)) {
    guint64 count;
    if (read(m->wake_fd, &count, sizeof count) < 0)
      GST_DEBUG_OBJECT(m->owner, "eventfd read: %s", g_strerror(errno));
  }
  return n > 0 && fd >= 0 ? fds[1].revents : 0;
}

static gboolean stopping(GstSam3Mqtt *m) {
  g_mutex_lock(&m->lock);
  const gboolean stop = m->stopping;
  g_mutex_unlock(&m->lock);
  return stop;
}

static void post_event(GstSam3Mqtt *m, GstStructure *s) {
  gst_element_post_message(m->owner, gst_message_new_element(GST_OBJECT(m->owner), s));
}

/* Why the attempt or the connection failed (rc, errno as left by libmosquitto), and
 * whether trying again can help. */
static gchar *describe_failure(GstSam3Mqtt *m, int rc, int err, Verdict *verdict) {
  *verdict = VERDICT_RETRY;
  switch (rc) {
  case MOSQ_ERR_EAI:
    return g_strdup_printf("cannot resolve the host \"%s\": %s", m->host, gai_strerror(err));
  case MOSQ_ERR_ERRNO:
    return g_strdup(g_strerror(err));
  case MOSQ_ERR_CONN_REFUSED:
    if (m->connack == 4 || m->connack == 5)
      *verdict = VERDICT_AUTH;
    else if (m->connack != 3)
      *verdict = VERDICT_REFUSED;
    return g_strdup(mosquitto_connack_string(m->connack));
  case MOSQ_ERR_TLS:
  case MOSQ_ERR_TLS_HANDSHAKE:
  case MOSQ_ERR_OCSP:
    *verdict = VERDICT_TLS;
    return g_strdup(m->log_error ? m->log_error : mosquitto_strerror(rc));
  case MOSQ_ERR_TIMEOUT:
    return g_strdup_printf("no answer within %u s",
                           (guint)(CONNECT_TIMEOUT_US / G_TIME_SPAN_SECOND));
  case MOSQ_ERR_KEEPALIVE:
    return g_strdup_printf("no answer within the keep-alive (%u s)", m->keep_alive);
  default:
    return g_strdup(mosquitto_strerror(rc));
  }
}

/* Hands queued messages to libmosquitto while its window has room. */
static void publish_queued(GstSam3Mqtt *m) {
  g_mutex_lock(&m->lock);
  while (m->in_library < SEND_WINDOW && !g_queue_is_empty(&m->queue)) {
    gchar *payload = static_cast<gchar *>(g_queue_pop_head(&m->queue));
    m->in_library++;
    g_mutex_unlock(&m->lock);
    const int rc =
        mosquitto_publish(m->mosq, NULL, m->topic, (int)strlen(payload), payload, m->qos, false);
    g_free(payload);
    g_mutex_lock(&m->lock);
    if (rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_OVERSIZE_PACKET || rc == MOSQ_ERR_NOMEM) {
      /* Refused before it was queued: it can never be sent. */
      m->in_library--;
      m->dropped++;
      GST_WARNING_OBJECT(m->owner, "message not published: %s", mosquitto_strerror(rc));
    } else if (rc != MOSQ_ERR_SUCCESS) {
      /* A socket error: libmosquitto keeps the message (QoS 1/2) and the next poll sees the
       * broken connection. */
      break;
    }
  }
  g_mutex_unlock(&m->lock);
}

static gpointer publisher_loop(gpointer data) {
  GstSam3Mqtt *m = static_cast<GstSam3Mqtt *>(data);
  enum { IDLE, CONNECTING, CONNECTED } state = IDLE;
  gint64 next_attempt = 0, deadline = 0;
  guint delay = m->retry_delay;
  gboolean ever_connected = FALSE;
  gboolean reported = FALSE; /* the current outage is on the bus */

  while (!stopping(m)) {
    int rc = MOSQ_ERR_SUCCESS, err = 0;
    if (state == IDLE) {
      const gint64 now = g_get_monotonic_time();
      if (now < next_attempt) {
        wait_for(m, -1, 0, (int)((next_attempt - now + 999) / 1000));
        continue;
      }
      m->connack = -1;
      g_clear_pointer(&m->log_error, g_free);
      rc = mosquitto_connect_async(m->mosq, m->host, (int)m->port, (int)m->keep_alive);
      err = errno;
      if (rc == MOSQ_ERR_SUCCESS) {
        state = CONNECTING;
        deadline = now + CONNECT_TIMEOUT_US;
        continue;
      }
    } else {
      const int sock = mosquitto_socket(m->mosq);
      const short events = POLLIN | POLLRDHUP | (mosquitto_want_write(m->mosq) ? POLLOUT : 0);
      const short revents = sock >= 0 ? wait_for(m, sock, events, POLL_PERIOD_MS) : 0;
      if (state == CONNECTING && (revents & (POLLERR | POLLHUP))) {
        /* A refused or unreachable TCP connect: with TLS, libmosquitto would report it as
         * a handshake failure. */
        int so_error = 0;
        socklen_t len = sizeof so_error;
        if (getsockopt(sock, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error != 0) {
          rc = MOSQ_ERR_ERRNO;
          err = so_error;
        }
      }
      if (rc == MOSQ_ERR_SUCCESS && revents) {
        rc = mosquitto_loop_read(m->mosq, 1);
        err = errno;
      }
      if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(m->mosq) >= 0 &&
          mosquitto_want_write(m->mosq)) {
        rc = mosquitto_loop_write(m->mosq, 1);
        err = errno;
      }
      if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(m->mosq) >= 0) {
        rc = mosquitto_loop_misc(m->mosq);
        err = errno;
      }
      if (rc == MOSQ_ERR_SUCCESS && state == CONNECTING && m->connack < 0) {
        /* Closed by the broker during the TLS handshake, which libmosquitto keeps waiting
         * for; or no handshake at all. */
        if (revents & POLLRDHUP)
          rc = MOSQ_ERR_CONN_LOST;
        else if (g_get_monotonic_time() > deadline)
          rc = MOSQ_ERR_TIMEOUT;
      }
      if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(m->mosq) < 0)
        rc = MOSQ_ERR_CONN_LOST;
      if (rc == MOSQ_ERR_SUCCESS) {
        if (state == CONNECTING && m->connack == 0) {
          state = CONNECTED;
          ever_connected = TRUE;
          reported = FALSE;
          delay = m->retry_delay;
          g_mutex_lock(&m->lock);
          m->connected = TRUE;
          m->dropping = FALSE;
          g_mutex_unlock(&m->lock);
          GST_INFO_OBJECT(m->owner, "connected to the MQTT broker at %s", m->where);
          post_event(m, gst_structure_new("sam3-mqtt", "event", G_TYPE_STRING, "connected",
                                          "address", G_TYPE_STRING, m->where, NULL));
        }
        if (state == CONNECTED)
          publish_queued(m);
        continue;
      }
    }

    /* The attempt or the connection failed. */
    Verdict verdict;
    gchar *reason = describe_failure(m, rc, err, &verdict);
    g_mutex_lock(&m->lock);
    m->connected = FALSE;
    if (m->qos == 0)
      m->in_library = 0; /* libmosquitto drops unsent QoS 0 messages on reconnection */
    m->failed = verdict != VERDICT_RETRY;
    g_cond_broadcast(&m->cond);
    const guint queued = g_queue_get_length(&m->queue);
    g_mutex_unlock(&m->lock);
    state = IDLE;

    if (verdict == VERDICT_TLS) {
      GST_ELEMENT_ERROR(m->owner, RESOURCE, OPEN_WRITE,
                        ("TLS with the MQTT broker at %s failed: %s", m->where, reason),
                        ("check tls-ca-file, tls-cert-file and tls-key-file"));
    } else if (verdict == VERDICT_AUTH) {
      GST_ELEMENT_ERROR(m->owner, RESOURCE, NOT_AUTHORIZED,
                        ("The MQTT broker at %s refused us: %s", m->where, reason),
                        ("check username and password"));
    } else if (verdict == VERDICT_REFUSED) {
      GST_ELEMENT_ERROR(m->owner, RESOURCE, SETTINGS,
                        ("The MQTT broker at %s refused us: %s", m->where, reason), (NULL));
    }
    if (verdict != VERDICT_RETRY) {
      g_free(reason);
      while (!stopping(m))
        wait_for(m, -1, 0, -1);
      break;
    }

    const guint wait = delay;
    delay = (guint)std::min<guint64>((guint64)delay * 2, m->max_retry_delay);
    next_attempt = g_get_monotonic_time() + wait * G_TIME_SPAN_MILLISECOND;
    if (!reported) {
      reported = TRUE;
      if (ever_connected)
        GST_ELEMENT_WARNING(m->owner, RESOURCE, WRITE,
                            ("Lost the MQTT broker at %s: %s; keeping up to %u results and "
                             "reconnecting in %u ms",
                             m->where, reason, m->max_queued, wait),
                            ("%u results queued", queued));
      else
        GST_ELEMENT_WARNING(m->owner, RESOURCE, OPEN_WRITE,
                            ("Cannot reach the MQTT broker at %s: %s; keeping up to %u results "
                             "and retrying in %u ms",
                             m->where, reason, m->max_queued, wait),
                            ("%u results queued", queued));
      post_event(m, gst_structure_new("sam3-mqtt", "event", G_TYPE_STRING, "disconnected",
                                      "address", G_TYPE_STRING, m->where, "reason", G_TYPE_STRING,
                                      reason, "retry-in-ms", G_TYPE_UINT, wait, NULL));
    } else {
      GST_DEBUG_OBJECT(m->owner, "MQTT broker at %s: %s; retrying in %u ms", m->where, reason,
                       wait);
    }
    g_free(reason);
  }

  if (state == CONNECTED) {
    /* A clean goodbye: the broker ends the session now instead of after the keep-alive. */
    if (mosquitto_disconnect(m->mosq) == MOSQ_ERR_SUCCESS)
      mosquitto_loop_write(m->mosq, 1);
  }
  return NULL;
}

/* The TLS files must be readable now: libmosquitto would only say "invalid argument". */
static gboolean check_file(GstSam3Mqtt *m, const gchar *property, const gchar *path) {
  if (path == NULL || g_access(path, R_OK) == 0)
    return TRUE;
  GST_ELEMENT_ERROR(m->owner, RESOURCE, NOT_FOUND,
                    ("Cannot read %s \"%s\": %s", property, path, g_strerror(errno)), (NULL));
  return FALSE;
}

gchar *gst_sam3_mqtt_expand_topic(GstElement *owner, const gchar *topic, const gchar *stream_name) {
  const gchar *element = GST_OBJECT_NAME(owner);
  const gchar *stream = stream_name && stream_name[0] ? stream_name : element;
  GString *out = g_string_new(NULL);
  for (const gchar *p = topic ? topic : ""; *p;) {
    if (g_str_has_prefix(p, "{stream}")) {
      g_string_append(out, stream);
      p += strlen("{stream}");
    } else if (g_str_has_prefix(p, "{element}")) {
      g_string_append(out, element);
      p += strlen("{element}");
    } else if (*p == '{') {
      const gchar *close = strchr(p, '}');
      gchar *name = close ? g_strndup(p, close - p + 1) : g_strdup(p);
      GST_ELEMENT_ERROR(
          owner, RESOURCE, SETTINGS,
          ("Unknown placeholder %s in topic \"%s\" (known: {stream}, {element})", name, topic),
          (NULL));
      g_free(name);
      g_string_free(out, TRUE);
      return NULL;
    } else {
      g_string_append_c(out, *p++);
    }
  }
  return g_string_free(out, FALSE);
}

GstSam3Mqtt *gst_sam3_mqtt_start(GstElement *owner, const GstSam3MqttSettings *s) {
  static gsize initialised = 0;
  if (g_once_init_enter(&initialised)) {
    mosquitto_lib_init();
    g_once_init_leave(&initialised, 1);
  }

  GstSam3Mqtt *m = g_new0(GstSam3Mqtt, 1);
  m->owner = owner;
  m->wake_fd = -1;
  g_mutex_init(&m->lock);
  g_cond_init(&m->cond);
  g_queue_init(&m->queue);
  m->qos = s->qos;
  m->keep_alive = s->keep_alive;
  m->max_queued = std::max(s->max_queued, 1u);
  m->retry_delay = std::max(s->retry_delay, 1u);
  m->max_retry_delay = std::max(s->max_retry_delay, m->retry_delay);
  m->topic = g_strdup(s->topic);
  m->connack = -1;

  const gboolean tls = s->tls_ca_file != NULL && s->tls_ca_file[0] != '\0';
  GError *error = NULL;
  if (!parse_address(s->address, tls ? 8883 : 1883, &m->host, &m->port, &error)) {
    GST_ELEMENT_ERROR(
        owner, RESOURCE, SETTINGS,
        ("Invalid MQTT address \"%s\": %s", s->address ? s->address : "", error->message),
        ("expected HOST:PORT, e.g. broker.local:1883 or [::1]:1883"));
    g_error_free(error);
    gst_sam3_mqtt_free(m);
    return NULL;
  }
  m->where = strchr(m->host, ':') ? g_strdup_printf("[%s]:%u", m->host, m->port)
                                  : g_strdup_printf("%s:%u", m->host, m->port);
  if (mosquitto_pub_topic_check(m->topic) != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR(owner, RESOURCE, SETTINGS,
                      ("Invalid MQTT topic \"%s\": empty, or containing '+' or '#'", m->topic),
                      (NULL));
    gst_sam3_mqtt_free(m);
    return NULL;
  }
  const gboolean has_cert = s->tls_cert_file && s->tls_cert_file[0];
  const gboolean has_key = s->tls_key_file && s->tls_key_file[0];
  if (has_cert != has_key || (has_cert && !tls)) {
    GST_ELEMENT_ERROR(owner, RESOURCE, SETTINGS,
                      ("A TLS client certificate needs tls-cert-file, tls-key-file and "
                       "tls-ca-file"),
                      (NULL));
    gst_sam3_mqtt_free(m);
    return NULL;
  }
  if (tls && (!check_file(m, "tls-ca-file", s->tls_ca_file) ||
              !check_file(m, "tls-cert-file", has_cert ? s->tls_cert_file : NULL) ||
              !check_file(m, "tls-key-file", has_key ? s->tls_key_file : NULL))) {
    gst_sam3_mqtt_free(m);
    return NULL;
  }

  /* mosquitto_new also sets SIGPIPE to ignored for the process (a broker closing the
   * connection must not kill it). Clean sessions: the broker needs to keep nothing for a
   * publisher, and QoS 1/2 messages in flight are resent by libmosquitto itself. */
  const gboolean has_id = s->client_id && s->client_id[0];
  m->mosq = mosquitto_new(has_id ? s->client_id : NULL, true, m);
  if (m->mosq == NULL) {
    GST_ELEMENT_ERROR(owner, RESOURCE, SETTINGS,
                      ("Cannot create the MQTT client: %s", g_strerror(errno)), (NULL));
    gst_sam3_mqtt_free(m);
    return NULL;
  }
  mosquitto_int_option(m->mosq, MOSQ_OPT_SEND_MAXIMUM, SEND_WINDOW);
  mosquitto_connect_callback_set(m->mosq, on_connect);
  mosquitto_publish_callback_set(m->mosq, on_publish);
  mosquitto_log_callback_set(m->mosq, on_log);
  int rc = MOSQ_ERR_SUCCESS;
  if (s->username && s->username[0])
    rc = mosquitto_username_pw_set(m->mosq, s->username, s->password);
  if (rc == MOSQ_ERR_SUCCESS && tls)
    rc = mosquitto_tls_set(m->mosq, s->tls_ca_file, NULL, has_cert ? s->tls_cert_file : NULL,
                           has_key ? s->tls_key_file : NULL, NULL);
  if (rc != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR(owner, RESOURCE, SETTINGS,
                      ("Cannot set up the MQTT client: %s", mosquitto_strerror(rc)), (NULL));
    gst_sam3_mqtt_free(m);
    return NULL;
  }
  m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m->wake_fd < 0) {
    GST_ELEMENT_ERROR(owner, RESOURCE, FAILED, ("eventfd: %s", g_strerror(errno)), (NULL));
    gst_sam3_mqtt_free(m);
    return NULL;
  }
  GST_INFO_OBJECT(owner, "publishing to %s, topic \"%s\", QoS %d%s", m->where, m->topic, m->qos,
                  tls ? ", TLS" : "");
  m->thread = g_thread_new("sam3export-mqtt", publisher_loop, m);
  return m;
}

gboolean gst_sam3_mqtt_push(GstSam3Mqtt *m, gchar *payload) {
  g_mutex_lock(&m->lock);
  if (m->failed) {
    g_mutex_unlock(&m->lock);
    g_free(payload);
    return FALSE;
  }
  if (g_queue_get_length(&m->queue) >= m->max_queued) {
    g_free(g_queue_pop_head(&m->queue));
    m->dropped++;
    if (!m->dropping) {
      m->dropping = TRUE;
      GST_WARNING_OBJECT(m->owner, "%u results queued for %s: dropping the oldest", m->max_queued,
                         m->where);
    }
  }
  g_queue_push_tail(&m->queue, payload);
  const gboolean connected = m->connected;
  g_mutex_unlock(&m->lock);
  if (connected)
    wake(m);
  return TRUE;
}

void gst_sam3_mqtt_drain(GstSam3Mqtt *m, gint64 timeout_us) {
  const gint64 end = g_get_monotonic_time() + timeout_us;
  g_mutex_lock(&m->lock);
  while (m->connected && !m->stopping && (!g_queue_is_empty(&m->queue) || m->in_library > 0)) {
    if (!g_cond_wait_until(&m->cond, &m->lock, end))
      break;
  }
  g_mutex_unlock(&m->lock);
}

void gst_sam3_mqtt_get_counts(GstSam3Mqtt *m, guint64 *published, guint64 *dropped) {
  g_mutex_lock(&m->lock);
  *published = m->published;
  *dropped = m->dropped;
  g_mutex_unlock(&m->lock);
}

void gst_sam3_mqtt_stop(GstSam3Mqtt *m) {
  if (m->thread == NULL)
    return;
  g_mutex_lock(&m->lock);
  m->stopping = TRUE;
  g_cond_broadcast(&m->cond);
  g_mutex_unlock(&m->lock);
  wake(m);
  g_thread_join(m->thread);
  m->thread = NULL;
  const guint left = g_queue_get_length(&m->queue) + m->in_library;
  if (left > 0)
    GST_WARNING_OBJECT(m->owner, "%u results were not delivered to %s", left, m->where);
}

void gst_sam3_mqtt_free(GstSam3Mqtt *m) {
  gst_sam3_mqtt_stop(m);
  if (m->mosq)
    mosquitto_destroy(m->mosq);
  if (m->wake_fd >= 0)
    close(m->wake_fd);
  g_queue_clear_full(&m->queue, g_free);
  g_mutex_clear(&m->lock);
  g_cond_clear(&m->cond);
  g_free(m->host);
  g_free(m->where);
  g_free(m->topic);
  g_free(m->log_error);
  g_free(m);
}
