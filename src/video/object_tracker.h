// What the video loop (video/tracking_loop.h) needs from a tracker: propagate every object's
// mask to a new frame from its memory, start objects from masks or prompts, and write the
// memory of a frame once the loop has settled the final masks. The SAM 2-style memory-bank
// tracker (tracker/sam2_tracker.h) is the implementation; the loop's tests drive the rules
// with a deterministic one.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace sam3 {

// One frame's image features for the tracker: the tracker neck's three kept levels
// (1, C, 4g, 4g), (1, C, 2g, 2g), (1, C, g, g) and the sine position encoding of the last.
// A tracker that needs no image (tests) may leave the tensors undefined.
struct TrackerFrame {
  int64_t index = 0; // stream frame number; strictly increasing between reset()s
  std::vector<torch::Tensor> features;
  torch::Tensor position;
  // The frame's size in pixels, at which the video loop reports masks and boxes, as the
  // official loop does; 0: at the masks' own low resolution.
  int64_t width = 0, height = 0;
};

// One object's prediction on a frame. `mask_logits` is (S, S) at the tracker's low
// resolution S = mask_size(), float, on the tracker's device.
struct TrackerPrediction {
  int64_t object_id = -1;
  torch::Tensor mask_logits;
  float object_score_logit = 0.f; // > 0: the object is visible
  float iou_score = 0.f;          // the mask decoder's predicted IoU of the chosen mask
};

class ObjectTracker {
public:
  virtual ~ObjectTracker() = default;

  // S, the side of the masks exchanged with the loop.
  virtual int64_t mask_size() const = 0;

  // Predicts every tracked object on `frame` from its memory; writes no memory. Objects
  // come back in object_ids() order.
  virtual std::vector<TrackerPrediction> propagate(const TrackerFrame &frame) = 0;

  // Starts tracking a new object from a mask (S x S logits; > 0 is the object) on `frame`,
  // which becomes that object's conditioning frame; its memory is encoded at once.
  virtual void add_object(int64_t object_id, const TrackerFrame &frame,
                          const torch::Tensor &mask_logits) = 0;

  // Interactive prompt: positive/negative clicks and/or a box on `frame`, creating the object
  // or refining it there. points (P, 2) and box (4,) are normalised to [0, 1] (x, y); labels
  // (P,) int64 with 1 = positive, 0 = negative. Either may be undefined, not both. `frame`
  // becomes a conditioning frame; the memory is encoded at once. A refinement reads no memory:
  // the clicks replace earlier ones on that frame and correct the object's prediction there.
  virtual TrackerPrediction add_prompt(int64_t object_id, const TrackerFrame &frame,
                                       const torch::Tensor &points, const torch::Tensor &labels,
                                       const torch::Tensor &box) = 0;

  // Reconditioning: `frame` becomes a conditioning frame of the object, its object pointer
  // taken from the detection mask (S x S logits; the official rule) or, with mask_logits
  // undefined, kept from the frame's propagation (transformers' recondition_on_trk_masks).
  // A tracker that batches objects (the official tracker state) makes it a conditioning frame
  // of the objects batched with it too, which keep their propagated outputs. encode_memories()
  // for the same frame follows and writes the memory features from the final masks.
  virtual void recondition(int64_t object_id, const TrackerFrame &frame,
                           const torch::Tensor &mask_logits) = 0;

  // Writes the memory of `frame` for these (already tracked) objects from their final masks
  // (N, S, S logits) and object-score logits (N,), after the loop's suppression.
  virtual void encode_memories(const TrackerFrame &frame, const std::vector<int64_t> &object_ids,
                               const torch::Tensor &mask_logits,
                               const torch::Tensor &object_score_logits) = 0;

  virtual void remove_object(int64_t object_id) = 0;
  virtual void reset() = 0;
  virtual std::vector<int64_t> object_ids() const = 0;

  // Bytes held by the memory banks: bounded for endless streams, whatever their length.
  virtual int64_t memory_bytes() const = 0;
};

} // namespace sam3
