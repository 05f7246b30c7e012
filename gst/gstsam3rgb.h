/* gst-sam3: raw video frames to the packed RGB the model reads. Both sam3detect and sam3track
 * (when it has to compute features itself) convert the same way: same size, no dithering, so
 * the resize to the model's input happens in libsam3 exactly as the reference does it.
 */
#ifndef __GST_SAM3_RGB_H__
#define __GST_SAM3_RGB_H__

#include <gst/gst.h>
#include <gst/video/video.h>

#include <torch/torch.h>

#include <vector>

class Sam3RgbConverter {
public:
  Sam3RgbConverter() = default;
  Sam3RgbConverter(const Sam3RgbConverter &) = delete;
  Sam3RgbConverter &operator=(const Sam3RgbConverter &) = delete;
  ~Sam3RgbConverter();

  /* FALSE when the format cannot be converted. */
  bool configure(const GstVideoInfo &info);
  /* (H, W, 3) uint8 view of the converted frame; valid until the next call. An undefined
   * tensor when the buffer cannot be mapped. */
  torch::Tensor convert(GstBuffer *buffer);
  void reset();

private:
  GstVideoInfo info_{};
  GstVideoInfo rgb_info_{};
  GstVideoConverter *converter_ = nullptr;
  std::vector<guint8> rgb_;
};

#endif /* __GST_SAM3_RGB_H__ */
