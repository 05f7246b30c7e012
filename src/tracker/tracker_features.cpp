#include "tracker/tracker_features.h"

#include "common/pointwise_conv.h"

#include <stdexcept>
#include <string>

namespace sam3 {

TrackerFrame make_tracker_frame(int64_t index, const torch::Tensor &vit_output,
                                VisionNeck &tracker_neck, TrackerModel &tracker) {
  if (!vit_output.defined() || vit_output.dim() != 4 || vit_output.size(0) != 1)
    throw std::invalid_argument("tracker features: the ViT output must be one map (1, hidden, "
                                "grid, grid)");
  const auto g = tracker->grid();
  auto neck = tracker_neck(vit_output);
  // transformers drops the last level whatever the scale factors; the tracker needs the 4g,
  // 2g and g levels in that order before it.
  if (neck.fpn.size() < 4)
    throw std::invalid_argument("tracker features: the tracker neck gives " +
                                std::to_string(neck.fpn.size()) +
                                " levels; the tracker needs 4 (scale factors 4, 2, 1, 0.5)");
  const int64_t sides[3] = {4 * g, 2 * g, g};
  for (int i = 0; i < 3; ++i)
    if (neck.fpn[i].size(2) != sides[i] || neck.fpn[i].size(3) != sides[i])
      throw std::invalid_argument("tracker features: tracker-neck level " + std::to_string(i) +
                                  " is " + std::to_string(neck.fpn[i].size(2)) + "x" +
                                  std::to_string(neck.fpn[i].size(3)) + ", the tracker's grid " +
                                  std::to_string(g) + " needs " + std::to_string(sides[i]));
  TrackerFrame frame;
  frame.index = index;
  frame.features = {pointwise_conv(tracker->mask_decoder->conv_s0, neck.fpn[0]),
                    pointwise_conv(tracker->mask_decoder->conv_s1, neck.fpn[1]), neck.fpn[2]};
  frame.position = neck.pos[2];
  return frame;
}

} // namespace sam3
