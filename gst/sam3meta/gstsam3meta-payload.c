/* gst-sam3: the in-process payload one sam3 element leaves on a GstSam3Meta for the next
 * (the frame's backbone features, still on the model's device), as a reference-counted
 * mini object so that buffer copies share it and the last reference frees it.
 */
#include "gstsam3meta-private.h"

GST_DEFINE_MINI_OBJECT_TYPE(GstSam3Payload, gst_sam3_payload);

static void payload_free(GstMiniObject *object) {
  GstSam3Payload *payload = (GstSam3Payload *)object;

  if (payload->free_data)
    payload->free_data(payload->data);
  g_free(payload);
}

/**
 * gst_sam3_payload_new: (skip)
 * @kind: names the producer and the layout of @data (e.g. "gst-sam3/backbone-features"), so
 *   a consumer can tell data it understands from another producer's
 * @data: (nullable): the payload's contents, owned by the new payload
 * @free_data: (nullable): frees @data when the last reference to the payload is dropped
 *
 * Wraps @data in a reference-counted payload for gst_sam3_meta_set_payload().
 *
 * Returns: (transfer full): a new payload with one reference
 */
GstSam3Payload *gst_sam3_payload_new(const gchar *kind, gpointer data, GDestroyNotify free_data) {
  GstSam3Payload *payload;

  g_return_val_if_fail(kind != NULL, NULL);

  payload = g_new0(GstSam3Payload, 1);
  gst_mini_object_init(GST_MINI_OBJECT_CAST(payload), 0, GST_TYPE_SAM3_PAYLOAD, NULL, NULL,
                       payload_free);
  payload->kind = g_quark_from_string(kind);
  payload->data = data;
  payload->free_data = free_data;
  return payload;
}

/**
 * gst_sam3_payload_ref: (skip)
 * @payload: a #GstSam3Payload
 *
 * Returns: (transfer full): @payload, with one more reference
 */
GstSam3Payload *gst_sam3_payload_ref(GstSam3Payload *payload) {
  return (GstSam3Payload *)gst_mini_object_ref(GST_MINI_OBJECT_CAST(payload));
}

/**
 * gst_sam3_payload_unref: (skip)
 * @payload: (transfer full): a #GstSam3Payload
 *
 * Drops a reference; the last one frees the payload's data.
 */
void gst_sam3_payload_unref(GstSam3Payload *payload) {
  gst_mini_object_unref(GST_MINI_OBJECT_CAST(payload));
}

/**
 * gst_sam3_payload_get_kind:
 * @payload: a #GstSam3Payload
 *
 * Returns: (transfer none): the kind the payload was made with
 */
const gchar *gst_sam3_payload_get_kind(GstSam3Payload *payload) {
  g_return_val_if_fail(payload != NULL, NULL);
  return g_quark_to_string(payload->kind);
}

/**
 * gst_sam3_payload_get_data: (skip)
 * @payload: a #GstSam3Payload
 * @kind: the kind the caller understands
 *
 * Returns: (transfer none) (nullable): the payload's data when it is of @kind, else %NULL;
 *   valid while the caller holds a reference to @payload (or to the meta carrying it)
 */
gpointer gst_sam3_payload_get_data(GstSam3Payload *payload, const gchar *kind) {
  g_return_val_if_fail(payload != NULL, NULL);
  g_return_val_if_fail(kind != NULL, NULL);

  if (payload->kind != g_quark_try_string(kind))
    return NULL;
  return payload->data;
}

/**
 * gst_sam3_meta_set_payload:
 * @meta: a #GstSam3Meta
 * @payload: (nullable) (transfer none): the payload; the meta takes its own reference
 *
 * Attaches @payload to @meta, replacing (and releasing) any earlier one; %NULL removes it.
 * Copies and scaled copies of the meta share the payload by reference. Never serialised.
 */
void gst_sam3_meta_set_payload(GstSam3Meta *meta, GstSam3Payload *payload) {
  GstSam3Payload *old;

  g_return_if_fail(meta != NULL);

  old = meta->payload;
  meta->payload = payload ? gst_sam3_payload_ref(payload) : NULL;
  if (old)
    gst_sam3_payload_unref(old);
}

/**
 * gst_sam3_meta_get_payload:
 * @meta: a #GstSam3Meta
 *
 * Returns: (transfer none) (nullable): the payload set with gst_sam3_meta_set_payload(),
 *   valid while the meta lives
 */
GstSam3Payload *gst_sam3_meta_get_payload(GstSam3Meta *meta) {
  g_return_val_if_fail(meta != NULL, NULL);
  return meta->payload;
}
