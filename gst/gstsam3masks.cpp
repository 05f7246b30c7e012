#include "gstsam3masks.h"

#include "image/image_predictor.h"

#include <algorithm>
#include <cmath>
#include <vector>

static guint8 mask_value(float p, float threshold) {
  float v;
  if (p <= threshold)
    v = threshold > 0 ? 127.5f * p / threshold : 127.5f;
  else
    v = threshold < 1 ? 127.5f + 127.5f * (p - threshold) / (1 - threshold) : 255.f;
  return (guint8)std::clamp(std::lround(v), 0L, 255L);
}

void gst_sam3_instance_set_mask_from_logits(GstSam3Instance *instance, const torch::Tensor &logits,
                                            gint W, gint H, float mask_threshold) {
  const gint x0 = std::clamp((gint)std::floor(instance->x), 0, W);
  const gint y0 = std::clamp((gint)std::floor(instance->y), 0, H);
  const gint x1 = std::clamp((gint)std::ceil(instance->x + instance->w), 0, W);
  const gint y1 = std::clamp((gint)std::ceil(instance->y + instance->h), 0, H);
  if (x1 <= x0 || y1 <= y0)
    return;
  auto probs = sam3::mask_probabilities(logits, W, H, x0, y0, x1 - x0, y1 - y0).contiguous();
  const float *p = probs.data_ptr<float>();
  std::vector<guint8> bytes(probs.numel());
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = mask_value(p[i], mask_threshold);
  GstVideoRectangle rect = {x0, y0, x1 - x0, y1 - y0};
  gst_sam3_instance_set_mask_data(instance, bytes.data(), x1 - x0, y1 - y0, x1 - x0, &rect);
}
