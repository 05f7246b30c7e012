#include "gstsam3features.h"

static void features_free(gpointer data) {
  delete static_cast<GstSam3Features *>(data);
}

void gst_sam3_features_attach(GstSam3Meta *meta, GstSam3Features *features) {
  GstSam3Payload *payload = gst_sam3_payload_new(GST_SAM3_FEATURES_KIND, features, features_free);
  gst_sam3_meta_set_payload(meta, payload);
  gst_sam3_payload_unref(payload);
}

GstSam3Features *gst_sam3_features_get(GstSam3Meta *meta) {
  GstSam3Payload *payload = gst_sam3_meta_get_payload(meta);
  if (payload == NULL)
    return NULL;
  return static_cast<GstSam3Features *>(gst_sam3_payload_get_data(payload, GST_SAM3_FEATURES_KIND));
}
