// Precompiled for the plugin's C++ sources: LibTorch's and GStreamer's headers dominate
// their compile time.

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>
