/* gst-sam3: the in-process payload sam3detect leaves on GstSam3Meta for the next sam3
 * element (sam3track): the frame's backbone features, still on the model's device, so the
 * ViT never runs twice for one frame. C++ only; applications see a GstSam3Payload of kind
 * GST_SAM3_FEATURES_KIND and never its contents.
 */
#ifndef __GST_SAM3_FEATURES_H__
#define __GST_SAM3_FEATURES_H__

#include "gstsam3meta.h"

#include "model/model.h"

#include <cstdint>
#include <memory>

#define GST_SAM3_FEATURES_KIND "gst-sam3/backbone-features"

struct GstSam3Features {
  /* The model that computed the features: a consumer must use the same weights. */
  std::shared_ptr<sam3::Model> model;
  /* ViT output (1, hidden, grid, grid) on the model's device and dtype. */
  torch::Tensor backbone;
  int64_t frame_width = 0;
  int64_t frame_height = 0;
  /* The detector's low-resolution mask logits (D, S, S), float CPU, one per meta instance in
   * the meta's order, so a tracker associates on the model's own masks rather than on the
   * thresholded, box-cropped bytes. Undefined when the detector did not run on this frame. */
  torch::Tensor detection_logits;
};

/* Attaches @features to @meta as a payload that owns them (deleted with its last
 * reference; buffer copies share it). */
void gst_sam3_features_attach(GstSam3Meta *meta, GstSam3Features *features);

/* The features on @meta, or NULL when it carries none (or another producer's payload).
 * Borrowed: valid while the meta lives. */
GstSam3Features *gst_sam3_features_get(GstSam3Meta *meta);

#endif /* __GST_SAM3_FEATURES_H__ */
