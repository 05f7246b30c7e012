/* gst-sam3: the MQTT publisher behind sam3export method=mqtt.
 *
 * A bounded queue in front of one libmosquitto client driven by a thread of its own, so
 * that the streaming thread only ever appends to memory: a broker that is down, slow or
 * gone never blocks the pipeline. Not an element; sam3export owns one while started. */
#ifndef __GST_SAM3_MQTT_H__
#define __GST_SAM3_MQTT_H__

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct {
  const gchar *address; /* HOST[:PORT], IPv6 hosts in brackets */
  const gchar *topic;   /* placeholders already replaced */
  gint qos;
  const gchar *client_id; /* NULL: one made up by libmosquitto */
  const gchar *username;
  const gchar *password;
  const gchar *tls_ca_file; /* non-NULL turns TLS on */
  const gchar *tls_cert_file;
  const gchar *tls_key_file;
  guint keep_alive;      /* seconds */
  guint max_queued;      /* messages waiting for a connection before the oldest is dropped */
  guint retry_delay;     /* ms before the first reconnection, doubled after each failure */
  guint max_retry_delay; /* ms */
} GstSam3MqttSettings;

typedef struct _GstSam3Mqtt GstSam3Mqtt;

/* @topic with {stream} (@stream_name, or the element's name when empty) and {element}
 * replaced; NULL, with an ERROR posted on @owner, for any other {placeholder}, which is
 * almost certainly a typo. Free with g_free(). */
gchar *gst_sam3_mqtt_expand_topic(GstElement *owner, const gchar *topic, const gchar *stream_name);

/* Checks the settings and starts connecting in the background. On a settings problem it
 * posts an ERROR on @owner and returns NULL; an unreachable broker is not a failure. */
GstSam3Mqtt *gst_sam3_mqtt_start(GstElement *owner, const GstSam3MqttSettings *settings);

/* Queues one message (takes @payload), dropping the oldest when the queue is full; never
 * blocks on the network. FALSE once the broker refused us for good (an ERROR is posted). */
gboolean gst_sam3_mqtt_push(GstSam3Mqtt *mqtt, gchar *payload);

/* Waits at most @timeout_us for what is queued to be delivered, while connected. */
void gst_sam3_mqtt_drain(GstSam3Mqtt *mqtt, gint64 timeout_us);

void gst_sam3_mqtt_get_counts(GstSam3Mqtt *mqtt, guint64 *published, guint64 *dropped);

/* Disconnects and stops the thread; undelivered messages are lost. The counts stay
 * readable until gst_sam3_mqtt_free(). */
void gst_sam3_mqtt_stop(GstSam3Mqtt *mqtt);

void gst_sam3_mqtt_free(GstSam3Mqtt *mqtt);

G_END_DECLS

#endif /* __GST_SAM3_MQTT_H__ */
