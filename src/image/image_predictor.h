// The image API: an RGB image and one or more concept prompts (text, optional exemplar
// boxes) in, instances (box, score, mask) out. One backbone pass serves every prompt.
#pragma once

#include "model/model.h"

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace sam3 {

// An exemplar box in image pixels (x0, y0) - (x1, y1).
struct ExemplarBox {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool positive = true;
};

struct ConceptPrompt {
  // The concept text. Empty with boxes: the reference's "visual" text is used.
  std::string text;
  std::vector<ExemplarBox> boxes;
};

struct DetectOptions {
  float threshold = 0.5f;      // keep instances with score above this
  float mask_threshold = 0.5f; // mask probability threshold
  int max_instances = 0;       // per image, best first; 0 = no limit
};

struct Instance {
  int prompt_index = 0;
  float score = 0;           // sigmoid(logit) * sigmoid(presence)
  float x0, y0, x1, y1;      // box in image pixels, clipped to the image
  torch::Tensor mask_logits; // (h, w) float CPU: the model's low-resolution mask logits
                             // over the whole image (288 x 288 for SAM 3)
};

// Encoded image: the backbone output every prompt reuses.
struct EncodedImage {
  VisionFeatures vision;
  int64_t width = 0, height = 0;
};

class ImagePredictor {
public:
  explicit ImagePredictor(std::shared_ptr<Model> model);

  Model &model() { return *model_; }

  // `rgb`: (H, W, 3) uint8, any device.
  EncodedImage encode(const torch::Tensor &rgb);

  // Instances of every prompt, sorted by score (best first).
  std::vector<Instance> detect(const EncodedImage &image, const std::vector<ConceptPrompt> &prompts,
                               const DetectOptions &options = {});

  // encode() + detect().
  std::vector<Instance> predict(const torch::Tensor &rgb, const std::vector<ConceptPrompt> &prompts,
                                const DetectOptions &options = {});

private:
  void run_group(const EncodedImage &image, const std::vector<ConceptPrompt> &prompts,
                 const std::vector<int> &indices, bool with_boxes, const DetectOptions &options,
                 std::vector<Instance> &out);

  std::shared_ptr<Model> model_;
};

// The low-resolution mask logits over the image rectangle [x, x+width) x [y, y+height) of a
// frame_width x frame_height image, bilinearly sampled exactly as upsampling the logits to the
// full frame (align_corners = false) and cropping would give: (height, width), float, CPU.
torch::Tensor resize_mask_logits(const torch::Tensor &mask_logits, int64_t frame_width,
                                 int64_t frame_height, int64_t x, int64_t y, int64_t width,
                                 int64_t height);

// resize_mask_logits as a probability map in [0, 1].
torch::Tensor mask_probabilities(const torch::Tensor &mask_logits, int64_t frame_width,
                                 int64_t frame_height, int64_t x, int64_t y, int64_t width,
                                 int64_t height);

} // namespace sam3
