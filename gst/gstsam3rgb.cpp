#include "gstsam3rgb.h"

Sam3RgbConverter::~Sam3RgbConverter() {
  reset();
}

void Sam3RgbConverter::reset() {
  if (converter_)
    gst_video_converter_free(converter_);
  converter_ = nullptr;
}

bool Sam3RgbConverter::configure(const GstVideoInfo &info) {
  reset();
  info_ = info;
  gst_video_info_set_format(&rgb_info_, GST_VIDEO_FORMAT_RGB, GST_VIDEO_INFO_WIDTH(&info),
                            GST_VIDEO_INFO_HEIGHT(&info));
  /* The converter refuses to change the frame rate or interlacing, even nominally. */
  GST_VIDEO_INFO_FPS_N(&rgb_info_) = GST_VIDEO_INFO_FPS_N(&info);
  GST_VIDEO_INFO_FPS_D(&rgb_info_) = GST_VIDEO_INFO_FPS_D(&info);
  GST_VIDEO_INFO_INTERLACE_MODE(&rgb_info_) = GST_VIDEO_INFO_INTERLACE_MODE(&info);
  converter_ = gst_video_converter_new(
      &info_, &rgb_info_,
      gst_structure_new("options", GST_VIDEO_CONVERTER_OPT_DITHER_METHOD,
                        GST_TYPE_VIDEO_DITHER_METHOD, GST_VIDEO_DITHER_NONE,
                        GST_VIDEO_CONVERTER_OPT_THREADS, G_TYPE_UINT, 1, NULL));
  return converter_ != nullptr;
}

torch::Tensor Sam3RgbConverter::convert(GstBuffer *buffer) {
  GstVideoFrame in_frame, rgb_frame;
  if (!converter_ || !gst_video_frame_map(&in_frame, &info_, buffer, GST_MAP_READ))
    return {};
  rgb_.resize((size_t)GST_VIDEO_INFO_SIZE(&rgb_info_));
  GstBuffer *rgb_buf = gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_NO_SHARE, rgb_.data(),
                                                   rgb_.size(), 0, rgb_.size(), NULL, NULL);
  gst_video_frame_map(&rgb_frame, &rgb_info_, rgb_buf, GST_MAP_WRITE);
  gst_video_converter_frame(converter_, &in_frame, &rgb_frame);
  const gint stride = GST_VIDEO_FRAME_PLANE_STRIDE(&rgb_frame, 0);
  gst_video_frame_unmap(&rgb_frame);
  gst_video_frame_unmap(&in_frame);
  gst_buffer_unref(rgb_buf);
  const int64_t W = GST_VIDEO_INFO_WIDTH(&info_), H = GST_VIDEO_INFO_HEIGHT(&info_);
  return torch::from_blob(rgb_.data(), {H, W, 3}, {stride, 3, 1}, torch::kUInt8);
}
