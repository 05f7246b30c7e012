// SAM 3's video loop (sam3-reference.md section 8; the official sam3_video_base.py
// _det_track_one_frame and sam3_video_inference.py propagate_in_video): per frame it
// propagates every object with the tracker, associates the detector's masks with the tracks by
// mask IoU, births and removes tracks (hotstart, duplicates, object limit), reconditions
// confident tracks, suppresses the more recently occluded of two overlapping tracks, writes
// the tracker memory and produces the frame's non-overlapping masks. It knows the tracker
// only through ObjectTracker, and nothing of GStreamer.
//
// Departures from the reference, each for streaming:
// - Output delay is a choice (TrackOptions::output_delay). With 0 (live), an object removed
//   by the hotstart rules is shown on the frames before its removal; with a delay of at least
//   hotstart_delay - 1 (the reference's: an object is retracted within hotstart_delay frames
//   of its birth, the birth frame included), such objects never appear, as in the reference.
// - Bookkeeping only keeps what the rules can still read: the reference's unmatched-frame and
//   duplicate-overlap frame lists become counts, a duplicate pair is dropped once its younger
//   object leaves its hotstart window, removed ids are not remembered (their held-back
//   outputs are purged at removal instead). Nothing grows with the stream length.
// - Optionally (TrackOptions::max_lost_frames) a track that has lost its detections for long
//   is removed; the reference tracks it until the video ends.
// - Several prompts: a detection only associates with tracks of its own label, and the
//   detection NMS (when the loop applies it) is per label.
#pragma once

#include "model/config.h"
#include "video/mask_ops.h"
#include "video/object_tracker.h"

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace sam3 {

// The detector's output on one frame. D may be 0 (mask_logits and scores may then be
// undefined). Masks of another side than the tracker's S are resized (bilinear) to S.
struct FrameDetections {
  torch::Tensor mask_logits;   // (D, S, S) float
  torch::Tensor scores;        // (D) probabilities
  std::vector<int64_t> labels; // prompt index of each detection
  // false: the detector did not run on this frame (detection interval, QoS), so the frame
  // only propagates: no births, and the frame counts neither for nor against any track.
  bool detector_ran = true;
};

inline constexpr int64_t kDefaultMaxLostFrames = 30;

struct TrackOptions {
  VideoConfig video;
  // Frames the output is held back so that the hotstart rules can retract young objects:
  // 0 = live; video.hotstart_delay - 1 = the reference's behaviour (it releases a frame once
  // hotstart_delay frames are buffered, that frame included).
  int64_t output_delay = 0;
  // Most objects tracked at once; < 0 means video.max_num_objects.
  int64_t max_objects = -1;
  // true: keep detections with probability > score_threshold_detection, then mask-IoU NMS at
  // det_nms_thresh (per label). false: the caller already did both.
  bool apply_detection_threshold_and_nms = true;
  // > 0: remove a detector-born track after this many consecutive frames on which no detection
  // of its label matched it (IoU >= trk_assoc_iou_thresh; empty masks count), so that objects
  // that left the scene of an endless stream are dropped. 0 = never, as the reference (which
  // tracks them until the video ends, each costing a tracker step per frame).
  // A detection keeps only one track alive (pairs taken by falling IoU, the older track first
  // on a tie): tracks that drifted onto one object, or a weak tracker's identical masks, are
  // duplicates the reference's duplicate rule only removes within hotstart; without this they
  // would all stay alive on one detection and pile up.
  // The default is the reference's keep-alive span (max_trk_keep_alive, 30): a track unmatched
  // that long is already hidden by the reference's keep-alive rule, so retiring it changes no
  // output; it only gives up the chance to come back under its old id after a longer gap.
  int64_t max_lost_frames = kDefaultMaxLostFrames;
  // false: the masks come back as the loop settled them, before the final pixel-wise
  // non-overlap (for the parity tests: transformers applies it at video size, in its
  // post-processing).
  bool non_overlapping_output = true;
  // Whether a track whose mask shrinks under the pixel-wise non-overlap (and so is written to
  // memory as absent) is judged at the memory encoder's resolution, 4x the masks' (the
  // official code), or at the masks' own (transformers; the parity tests).
  bool shrinkage_at_memory_resolution = true;
  // Whether the objects born on one frame have their memory written from masks that do not
  // overlap (every contested pixel to the earliest of them, as the official preflight's
  // pixel-wise constraint on the binary masks gives it), or each from its own detection mask
  // (transformers; the parity tests). Their object pointers and the frame's output come from
  // the detection masks either way.
  bool non_overlapping_births = true;
};

struct TrackedObject {
  int64_t object_id = -1;
  int64_t label = 0;
  float score = 0.f; // of the detection that created it (the reference's score); 1 if prompted
  // Sigmoid of the tracker's object score (the detection's probability when new, 1 on the
  // frame of a prompt).
  float tracker_probability = 0.f;
  // (S, S) on the tracker's device; non-overlapping at this resolution when the frame's size
  // is not known, as tracked otherwise.
  torch::Tensor mask_logits;
  // Normalised xyxy (pixel edges) of the mask before the non-overlap step, at the frame's
  // size when it is known (TrackerFrame::width, height), at S otherwise.
  std::array<float, 4> box{};
  // At the frame's size, when it is known: the final, non-overlapping mask over the box.
  FrameMask frame_mask;
  bool is_new = false; // born on this frame
};

struct FrameTracks {
  int64_t frame_index = 0;
  // Ascending object_id. Objects whose mask is empty before the non-overlap step are left
  // out; one that the step empties is kept, with its box (the official output).
  std::vector<TrackedObject> objects;
};

class TrackingLoop {
public:
  // Throws std::invalid_argument for a null tracker or a negative output_delay.
  TrackingLoop(TrackOptions options, std::shared_ptr<ObjectTracker> tracker);

  // One frame: propagate, associate, birth/hotstart/keep-alive, recondition every nth frame,
  // occlusion suppression, memory update, new objects. Returns the frames whose output is final
  // now: with output_delay 0 exactly this frame; with a delay d, frame k comes back from the
  // call for frame k + d (nothing before). frame.index must increase strictly; detections must
  // be consistent (sizes, labels) -- std::invalid_argument otherwise.
  std::vector<FrameTracks> process(const TrackerFrame &frame, const FrameDetections &detections);

  // End of stream: the frames still held back, oldest first.
  std::vector<FrameTracks> flush();

  // Flush/seek: forgets every object (tracker included) and the held-back frames (call flush()
  // first to keep them). Object ids keep counting: an id is never reused by one TrackingLoop,
  // so downstream never confuses an object after a seek with one before.
  void reset();

  // Interactive (the reference's video API). `frame` is the frame last given to process() (or
  // the first frame, before any); points (P, 2) / box (4,) normalised, labels (P,) int64 (1 =
  // positive). The new object is never removed by the hotstart rules, gets score 1, and shows
  // in this frame's output if that frame is still held back, else from the next frame on.
  // Returns its id.
  int64_t add_object(const TrackerFrame &frame, torch::Tensor points, torch::Tensor labels,
                     torch::Tensor box, int64_t label);
  // Adds clicks to an existing object on `frame`; the object scores 1 from then on. An id this
  // loop removed (hot-start, retirement or remove_object; the last kRememberedRemovals of them
  // since reset()) is brought back by the clicks as a new object under that id and label, as the
  // reference's add_tracker_new_points does for an id it no longer tracks: returns true then.
  // std::invalid_argument for any other id.
  bool refine_object(int64_t object_id, const TrackerFrame &frame, torch::Tensor points,
                     torch::Tensor labels);
  // Forgets the object, also in the held-back frames (std::invalid_argument for an unknown id).
  void remove_object(int64_t object_id);

  static constexpr size_t kRememberedRemovals = 1024;

  size_t num_objects() const;
  std::vector<int64_t> object_ids() const;
  // Entries in the per-object bookkeeping (tracks, unmatched-frame lists, duplicate-overlap
  // pairs and their frame lists): bounded by the live objects times the hotstart window.
  size_t bookkeeping_size() const;
  // Frames processed but not yet returned.
  size_t frames_held() const;

private:
  struct Track {
    int64_t label = 0;
    int64_t first_frame = 0;
    float score = 0.f;
    int64_t keep_alive = 0;
    bool interactive = false;
    bool ever_unmatched = false; // keep-alive suppression applies only then (as the reference)
    int64_t lost_frames = 0;     // consecutive frames without a matching detection
    int64_t unmatched_in_hotstart = 0;
    // Frame this object was last occluded (empty mask) or suppressed; unset until the first
    // frame on which it was tracked, as in the reference.
    std::optional<int64_t> last_occluded;
  };
  struct HeldObject {
    int64_t object_id;
    int64_t label;
    float score;
    float tracker_probability;
    torch::Tensor mask_logits;
    bool is_new;
    // Hidden by keep-alive suppression on this frame; kept until the frame is output, since a
    // refinement of the object before then shows it again (the reference's suppressed sets).
    bool suppressed = false;
  };
  struct HeldFrame {
    int64_t frame_index;
    int64_t width, height; // TrackerFrame's
    std::vector<HeldObject> objects;
  };

  bool within_hotstart(const Track &track, int64_t frame_index) const;
  struct Association;
  Association associate(const torch::Tensor &det_masks, const std::vector<float> &det_scores,
                        const std::vector<int64_t> &det_labels, const torch::Tensor &trk_masks,
                        const std::vector<int64_t> &track_ids) const;
  std::vector<int64_t> update_hotstart(int64_t frame_index, const std::vector<int64_t> &track_ids,
                                       const Association &association,
                                       std::vector<int64_t> &suppressed);
  void trim_bookkeeping(int64_t frame_index);
  void forget(int64_t object_id);
  // An object started by a prompt (add_object, or a removed one brought back) under `id`.
  void start_prompted(int64_t id, int64_t label, const TrackerFrame &frame, torch::Tensor points,
                      torch::Tensor labels, torch::Tensor box);
  // The memory of the objects born together on `frame`, rewritten from their detection masks
  // made not to overlap (TrackOptions::non_overlapping_births).
  void separate_newborns(const TrackerFrame &frame, const std::vector<int64_t> &ids,
                         const torch::Tensor &det_masks);
  FrameTracks finalise(HeldFrame held) const;
  FrameTracks finalise_at_frame_size(HeldFrame held) const;
  std::vector<FrameTracks> release(bool all);

  TrackOptions options_;
  std::shared_ptr<ObjectTracker> tracker_;
  std::map<int64_t, Track> tracks_;
  // (older object, younger object) -> frames on which one detection matched both, counted
  // while the younger one is inside its hotstart window.
  std::map<std::pair<int64_t, int64_t>, int64_t> overlap_frames_;
  std::deque<HeldFrame> held_;
  int64_t next_object_id_ = 0;
  // (id, label) of the objects removed since reset(), the newest last: a prompt may bring one
  // back. Bounded, so that an endless stream's removals cost nothing.
  std::deque<std::pair<int64_t, int64_t>> removed_labels_;
  std::optional<int64_t> last_frame_;
};

} // namespace sam3
