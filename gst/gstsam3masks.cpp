#include "gstsam3masks.h"

#include "image/image_predictor.h"

#include <algorithm>
#include <cmath>

/* [0, threshold] onto [0, 127.5], [threshold, 1] onto [127.5, 255], rounded half away from
 * zero. Tensor operations in the scalar version's order: a per-pixel loop cost as much as the
 * sampling itself on 720p frames. */
static torch::Tensor mask_bytes(const torch::Tensor &p, float threshold) {
  const auto below = threshold > 0 ? p * 127.5f / threshold : torch::full_like(p, 127.5f);
  const auto above = threshold < 1 ? (p - threshold) * 127.5f / (1 - threshold) + 127.5f
                                   : torch::full_like(p, 255.f);
  /* floor(v + 0.5) is std::lround for v >= 0 (torch::round takes halves to even). */
  return (torch::where(p <= threshold, below, above) + 0.5f)
      .floor_()
      .clamp_(0, 255)
      .to(torch::kUInt8)
      .contiguous();
}

void gst_sam3_instance_set_mask_from_logits(GstSam3Instance *instance, const torch::Tensor &logits,
                                            gint W, gint H, float mask_threshold) {
  const gint x0 = std::clamp((gint)std::floor(instance->x), 0, W);
  const gint y0 = std::clamp((gint)std::floor(instance->y), 0, H);
  const gint x1 = std::clamp((gint)std::ceil(instance->x + instance->w), 0, W);
  const gint y1 = std::clamp((gint)std::ceil(instance->y + instance->h), 0, H);
  if (x1 <= x0 || y1 <= y0)
    return;
  const auto bytes =
      mask_bytes(sam3::mask_probabilities(logits, W, H, x0, y0, x1 - x0, y1 - y0), mask_threshold);
  GstVideoRectangle rect = {x0, y0, x1 - x0, y1 - y0};
  gst_sam3_instance_set_mask_data(instance, bytes.data_ptr<guint8>(), x1 - x0, y1 - y0, x1 - x0,
                                  &rect);
}

void gst_sam3_instance_set_mask_from_frame_logits(GstSam3Instance *instance,
                                                  const torch::Tensor &logits, gint x, gint y,
                                                  float mask_threshold) {
  const gint h = (gint)logits.size(0), w = (gint)logits.size(1);
  const auto bytes =
      mask_bytes(torch::sigmoid(logits.to(torch::kCPU, torch::kFloat)), mask_threshold);
  GstVideoRectangle rect = {x, y, w, h};
  gst_sam3_instance_set_mask_data(instance, bytes.data_ptr<guint8>(), w, h, w, &rect);
}
