// The SAM 2-style memory-bank tracker of SAM 3 (the original's Sam3TrackerBase and
// Sam3TrackerPredictor as the video model drives them, transformers' Sam3TrackerVideoModel):
// per-object memory banks, the memory selection of the video model, and the per-frame step of
// tracker/tracker_model.h, batched over objects.
//
// Batching: objects born on the same frame form a cohort (the reference's tracker state; an
// object added by a prompt has one of its own); the memory-selection score of a frame is the
// cohort's (cohort_selection_score, the reference's cal_mem_score). On each frame, objects whose
// selected memories are the same frames at the same temporal positions run as one batch --
// bit-for-bit what each would give alone, since every operation of the step is per object.
//
// Memory bound: after every change the bank drops what no later frame can read (frames only
// get newer, and selection only ever looks further back past newer frames):
//   - conditioning frames: the newest max_cond_frame_num (older ones only while, without
//     memory selection, they still fall inside the previous-frame windows below);
//   - tracked frames with memory selection: the newest one, plus the newest
//     max_object_pointers_in_encoder - 1 whose score passes mf_threshold; only the newest
//     num_maskmem - 1 of these keep their memory features, the others just the pointer;
//   - tracked frames without it: the last max_object_pointers_in_encoder - 1 frames, the
//     last num_maskmem - 1 with features.
// So an object holds at most (max_cond_frame_num + num_maskmem) memory maps (mem x g x g,
// bf16) and (max_cond_frame_num + max_object_pointers_in_encoder) pointers, whatever the
// stream length: for the release 11 x 0.63 MiB + 20 x 1 KiB per object.
//
// Deviation from the reference, by design of the streaming loop: a frame's selection score is
// fixed when the frame is tracked (the reference recomputes it when an object of the cohort is
// removed).
#pragma once

#include "tracker/tracker_model.h"
#include "video/object_tracker.h"

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace sam3 {

struct MemorySelectionConfig {
  int64_t num_maskmem = 7;
  int64_t max_cond_frame_num = 4; // -1: no limit
  int64_t max_object_pointers = 16;
  bool use_memory_selection = true;
  double mf_threshold = 0.01;
};

// The memories one frame reads.
struct MemorySelection {
  // Conditioning frames read with temporal position 0, in the reference's order (closest
  // before, closest after, then by distance; all of them in age order when within the limit).
  std::vector<int64_t> conditioning;
  // (frame, temporal position 1..num_maskmem-1; the newest frame has the highest).
  std::vector<std::pair<int64_t, int64_t>> previous;
  // (frame, temporal offset) of the object pointers: the conditioning ones first.
  std::vector<std::pair<int64_t, int64_t>> pointers;

  bool operator==(const MemorySelection &other) const;
  bool operator<(const MemorySelection &other) const;
};

// Which memories `frame` reads (the reference's _prepare_memory_conditioned_features with
// select_closest_cond_frames and, with use_memory_selection, frame_filter): `conditioning`
// the object's conditioning frames, `tracked` its other frames with their selection scores.
MemorySelection select_memory(int64_t frame, const std::vector<int64_t> &conditioning,
                              const std::map<int64_t, float> &tracked,
                              const MemorySelectionConfig &config);

// What a bank must keep so that every frame after `last_frame` reads exactly what it would
// with nothing dropped (the bound in the header comment).
struct MemoryRetention {
  std::set<int64_t> conditioning;   // conditioning frames to keep
  std::set<int64_t> tracked;        // tracked frames to keep (pointer at least)
  std::set<int64_t> tracked_memory; // those of them that keep their memory features
};
MemoryRetention retained_memory(int64_t last_frame, const std::vector<int64_t> &conditioning,
                                const std::map<int64_t, float> &tracked,
                                const MemorySelectionConfig &config);

// The reference's per-object selection score of a frame (cal_mem_score for a cohort of one):
// (2 sigmoid(s) - 1 if s > 0 else 0) * predicted IoU.
float selection_score(float object_score_logit, float iou_score);

// A frame's selection score for a cohort (the reference's cal_mem_score: the visibility terms
// and the predicted IoUs broadcast to an N x N product whose mean is taken, i.e. the mean
// visibility times the mean IoU, not the mean of the per-object products).
float cohort_selection_score(const std::vector<float> &object_score_logits,
                             const std::vector<float> &iou_scores);

struct Sam2TrackerOptions {
  bool use_memory_selection = true; // the video model's "temporal disambiguation"
  double mf_threshold = 0.01;
  // A prompted frame's memory mask: the official SAM 3 binarises the high-resolution logits
  // and then resizes them to the memory encoder's input (its mask downsampler interpolates);
  // transformers resizes the logits first and binarises after. false: transformers' order
  // (the parity tests).
  bool binarize_memory_mask_before_resize = true;
  // A detection mask that starts or reconditions an object (the reference's add_new_mask):
  // the official SAM 3 resizes the low-resolution logits to the mask-input size (16g) and
  // takes > 0. transformers thresholds the logits at 0.5, resizes that 0/1 mask to image_size
  // with antialiasing, takes the soft result as the mask input and the object pointer of the
  // best of three masks (the official: of a single mask). true: transformers' way (the parity
  // tests).
  bool transformers_mask_inputs = false;
  // transformers runs its tracker over every object when it adds new ones on a frame, which
  // rewrites the other objects' memory of that frame from their raw prediction (the logits
  // brought to image_size and back, > 0, with the SAM head's object score) instead of the
  // loop's settled masks. true: do the same (the parity tests); the official code adds new
  // objects in a state of their own and leaves the others' memory as the loop wrote it.
  bool rewrite_memory_on_births = false;
  // Reconditioning an object makes the frame a conditioning frame of its whole cohort: the
  // official tracker state batches the cohort's outputs, so add_new_mask for one object moves
  // the frame of every object of the state into its conditioning outputs (the others keep
  // their propagated outputs). false: of the reconditioned object only, as transformers'
  // per-object output dicts do (the parity tests).
  bool recondition_cohort = true;
  // The video's length in frames, when it is known (a file); 0 for a stream. The official
  // tracker caps the object pointers it reads, and divides their temporal offsets, by
  // min(num_frames, max_object_pointers_in_encoder): a clip shorter than that cap reads its
  // pointers at other positions than a stream would.
  int64_t num_frames = 0;
};

class Sam2Tracker : public ObjectTracker {
public:
  // Frames come from make_tracker_frame (tracker/tracker_features.h) with the same model.
  explicit Sam2Tracker(TrackerModel model, Sam2TrackerOptions options = {});

  int64_t mask_size() const override;
  std::vector<TrackerPrediction> propagate(const TrackerFrame &frame) override;
  void add_object(int64_t object_id, const TrackerFrame &frame,
                  const torch::Tensor &mask_logits) override;
  TrackerPrediction add_prompt(int64_t object_id, const TrackerFrame &frame,
                               const torch::Tensor &points, const torch::Tensor &labels,
                               const torch::Tensor &box) override;
  void recondition(int64_t object_id, const TrackerFrame &frame,
                   const torch::Tensor &mask_logits) override;
  void encode_memories(const TrackerFrame &frame, const std::vector<int64_t> &object_ids,
                       const torch::Tensor &mask_logits,
                       const torch::Tensor &object_score_logits) override;
  void remove_object(int64_t object_id) override;
  void reset() override;
  std::vector<int64_t> object_ids() const override;
  int64_t memory_bytes() const override;

  const MemorySelectionConfig &selection_config() const { return selection_; }
  // The memories the object would read on `frame`, a frame after the last one given.
  MemorySelection memory_for(int64_t object_id, int64_t frame) const;
  // The memory features (mem, g, g) the object keeps for `frame`; undefined when it keeps none.
  torch::Tensor memory_features(int64_t object_id, int64_t frame) const;

private:
  struct MemoryEntry {
    torch::Tensor maskmem; // (mem, g, g) bf16; undefined once no later frame reads it
    torch::Tensor pointer; // (C)
    float object_score = 0.f;
    float iou = 0.f;
    float selection_score = 0.f; // the cohort's (cohort_selection_score) on this frame
    // A conditioning frame the object got from a mask input (its birth or a reconditioning):
    // the reference's detector-added conditioning frames, which a refinement nearby clears.
    bool from_mask = false;
  };
  struct TrackedObject {
    int64_t id = -1;
    // The objects born on one frame share one (the reference's tracker state); an object
    // added by a prompt has its own.
    int64_t cohort = -1;
    std::map<int64_t, MemoryEntry> conditioning;
    std::map<int64_t, MemoryEntry> tracked;
    // The object's latest low-resolution prediction and its frame: the mask prompt of a
    // refinement on that frame.
    torch::Tensor last_logits;
    int64_t last_logits_frame = -1;
  };

  TrackedObject *find(int64_t object_id);
  TrackedObject &get(int64_t object_id);
  void check_frame(const TrackerFrame &frame, bool new_frame) const;
  MemorySelection selection_for(const TrackedObject &object, int64_t frame) const;
  // Memory-conditioned features for objects sharing one selection (or, with nothing to
  // read, the features plus no_memory_embedding).
  torch::Tensor conditioned_features(const TrackerFrame &frame,
                                     const std::vector<const TrackedObject *> &objects,
                                     const MemorySelection &selection);
  // The mask input of add_new_mask for (S, S) detection logits: (1, 1, H, W) in [0, 1].
  torch::Tensor input_mask(const torch::Tensor &mask_logits) const;
  // A prompted frame's high-resolution logits as the memory encoder takes them, in the order
  // binarize_memory_mask_before_resize says.
  torch::Tensor prompted_memory_mask(const torch::Tensor &high_res) const;
  void store_memory(const TrackerFrame &frame, std::vector<MemoryEntry *> entries,
                    const torch::Tensor &mask_logits, const torch::Tensor &object_score_logits,
                    bool binarize);
  void trim(TrackedObject &object);
  // Makes `frame` a conditioning frame of the object's cohort (of the object alone when
  // `whole_cohort` is false): their entries of that frame move unchanged. Returns the objects
  // touched.
  std::vector<TrackedObject *> condition_cohort(const TrackedObject &object, int64_t frame,
                                                bool whole_cohort);

  TrackerModel model_;
  MemorySelectionConfig selection_;
  bool binarize_memory_mask_before_resize_ = true;
  bool transformers_mask_inputs_ = false;
  bool rewrite_memory_on_births_ = false;
  bool recondition_cohort_ = true;
  // With rewrite_memory_on_births: whether a birth already rewrote the last propagated frame's
  // memory.
  bool rewritten_ = false;
  int64_t next_cohort_ = 0;
  int64_t births_frame_ = -1; // the frame of the last births, and their cohort
  int64_t births_cohort_ = -1;
  std::vector<TrackedObject> objects_;
  torch::Tensor maskmem_pos_; // (1, mem, g, g): the same for every frame and object
  int64_t last_frame_ = -1;
};

} // namespace sam3
