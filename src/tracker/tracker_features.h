// The tracker's view of a frame (transformers' Sam3VideoModel.get_vision_features_for_tracker):
// the detector's ViT output through the second neck ("tracker_neck"), its lowest-resolution
// level dropped, the two high-resolution levels projected once per frame by the mask
// decoder's conv_s0 / conv_s1 so that no object pays for them again.
#pragma once

#include "tracker/tracker_model.h"
#include "video/object_tracker.h"
#include "vision/neck.h"

#include <torch/torch.h>

#include <cstdint>

namespace sam3 {

// vit_output: the ViT's last hidden state as a map (1, hidden, grid, grid). Returns the frame
// with features {conv_s0(level 4g) (1,C/8,4g,4g), conv_s1(level 2g) (1,C/4,2g,2g),
// level g (1,C,g,g)} and position = the sine encoding of level g (1,C,g,g). Throws
// std::invalid_argument when the map or the neck's levels do not fit the tracker.
TrackerFrame make_tracker_frame(int64_t index, const torch::Tensor &vit_output,
                                VisionNeck &tracker_neck, TrackerModel &tracker);

} // namespace sam3
