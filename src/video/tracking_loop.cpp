#include "video/tracking_loop.h"

#include "common/threads.h"
#include "video/mask_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>

namespace sam3 {

namespace F = torch::nn::functional;

namespace {

// A track whose mask is suppressed or absent gets this logit everywhere (the reference's
// NO_OBJ_LOGIT); sigmoid(-10) is ~4.5e-5.
constexpr double kNoObjectLogit = -10.0;
// Memory object-score logits written from mask non-emptiness, as the reference does.
constexpr double kMemoryObjectLogit = 10.0;
// The reference's last-occluded frame of a track not yet seen on any frame, or of one that
// the hotstart rules remove on the frame it is first seen (then it loses every overlap).
constexpr int64_t kNeverOccluded = -1;
constexpr int64_t kAlwaysOccluded = std::numeric_limits<int64_t>::max();
// The tracker's memory encoder takes masks at 4x the low-resolution side (1152 for 288); the
// shrinkage rule measures areas there, as the reference does.
constexpr int64_t kMemoryMaskScale = 4;

float sigmoid(float x) {
  return 1.f / (1.f + std::exp(-x));
}

struct Detections {
  torch::Tensor masks; // (D, S, S) float, undefined when D = 0
  std::vector<float> scores;
  std::vector<int64_t> labels;
};

Detections select(const Detections &in, const std::vector<int64_t> &keep) {
  Detections out;
  if (keep.empty())
    return out;
  out.masks = in.masks.index_select(
      0, torch::tensor(keep, torch::TensorOptions().dtype(torch::kLong)).to(in.masks.device()));
  for (auto i : keep) {
    out.scores.push_back(in.scores[i]);
    out.labels.push_back(in.labels[i]);
  }
  return out;
}

Detections prepare_detections(const FrameDetections &in, int64_t side,
                              const TrackOptions &options) {
  const auto d = static_cast<int64_t>(in.labels.size());
  const bool has_masks = in.mask_logits.defined() && in.mask_logits.numel() > 0;
  const bool has_scores = in.scores.defined() && in.scores.numel() > 0;
  if (d == 0) {
    if (has_masks || has_scores)
      throw std::invalid_argument(
          "TrackingLoop: detections have masks or scores but no labels (one label per detection)");
    return {};
  }
  if (!in.mask_logits.defined() || in.mask_logits.dim() != 3 || in.mask_logits.size(0) != d)
    throw std::invalid_argument("TrackingLoop: detection mask_logits must be (" +
                                std::to_string(d) + ", S, S), one mask per label");
  if (!in.mask_logits.is_floating_point())
    throw std::invalid_argument("TrackingLoop: detection mask_logits must be floating point");
  if (!in.scores.defined() || in.scores.numel() != d)
    throw std::invalid_argument("TrackingLoop: detection scores must hold " + std::to_string(d) +
                                " probabilities, one per label");
  Detections all;
  all.labels = in.labels;
  auto scores = in.scores.to(torch::kCPU, torch::kFloat).contiguous().view({-1});
  all.scores.assign(scores.data_ptr<float>(), scores.data_ptr<float>() + d);
  for (auto s : all.scores)
    if (!(s >= 0.f && s <= 1.f))
      throw std::invalid_argument("TrackingLoop: detection score " + std::to_string(s) +
                                  " is not a probability in [0, 1]");
  all.masks = in.mask_logits.to(torch::kFloat);
  if (all.masks.size(1) != side || all.masks.size(2) != side)
    all.masks = F::interpolate(all.masks.unsqueeze(1), F::InterpolateFuncOptions()
                                                           .size(std::vector<int64_t>{side, side})
                                                           .mode(torch::kBilinear)
                                                           .align_corners(false))
                    .squeeze(1);
  if (!options.apply_detection_threshold_and_nms)
    return all;

  const auto &v = options.video;
  std::vector<int64_t> kept;
  std::set<int64_t> labels(all.labels.begin(), all.labels.end());
  for (auto label : labels) {
    std::vector<int64_t> candidates;
    for (int64_t i = 0; i < d; ++i)
      if (all.labels[i] == label && all.scores[i] > v.score_threshold_detection)
        candidates.push_back(i);
    if (candidates.empty())
      continue;
    if (v.det_nms_thresh <= 0.0) {
      kept.insert(kept.end(), candidates.begin(), candidates.end());
      continue;
    }
    auto subset = select(all, candidates);
    auto survivors = mask_nms(subset.masks, torch::tensor(subset.scores), v.det_nms_thresh);
    for (auto s : survivors)
      kept.push_back(candidates[s]);
  }
  std::sort(kept.begin(), kept.end());
  return select(all, kept);
}

} // namespace

struct TrackingLoop::Association {
  std::vector<bool> nonempty;
  std::vector<bool> unmatched; // non-empty and no detection at IoU >= trk_assoc_iou_thresh
  // Matched one to one (pairs by falling IoU >= trk_assoc_iou_thresh, the older track first on
  // a tie): what keeps a track from counting as lost (TrackOptions::max_lost_frames).
  std::vector<bool> held;
  std::vector<int64_t> confident; // reconditioning detection (high prob and IoU), or -1
  std::vector<std::vector<int64_t>> det_to_tracks; // track indices at IoU >= assoc_iou_thresh
  std::vector<int64_t> new_dets;
};

TrackingLoop::TrackingLoop(TrackOptions options, std::shared_ptr<ObjectTracker> tracker)
    : options_(std::move(options)), tracker_(std::move(tracker)) {
  if (!tracker_)
    throw std::invalid_argument("TrackingLoop: no tracker");
  if (options_.output_delay < 0)
    throw std::invalid_argument("TrackingLoop: output_delay must be >= 0, got " +
                                std::to_string(options_.output_delay));
  if (options_.max_lost_frames < 0)
    throw std::invalid_argument("TrackingLoop: max_lost_frames must be >= 0, got " +
                                std::to_string(options_.max_lost_frames));
}

bool TrackingLoop::within_hotstart(const Track &track, int64_t frame_index) const {
  return !track.interactive && track.first_frame > frame_index - options_.video.hotstart_delay;
}

TrackingLoop::Association TrackingLoop::associate(const torch::Tensor &det_masks,
                                                  const std::vector<float> &det_scores,
                                                  const std::vector<int64_t> &det_labels,
                                                  const torch::Tensor &trk_masks,
                                                  const std::vector<int64_t> &track_ids) const {
  const auto &v = options_.video;
  const auto n = static_cast<int64_t>(track_ids.size());
  const auto d = static_cast<int64_t>(det_scores.size());
  Association a;
  a.nonempty.assign(n, false);
  a.unmatched.assign(n, false);
  a.held.assign(n, false);
  a.confident.assign(n, -1);
  a.det_to_tracks.resize(d);
  if (n == 0) {
    // As the reference: with no track at all, every kept detection is new, whatever
    // new_det_thresh says.
    for (int64_t i = 0; i < d; ++i)
      a.new_dets.push_back(i);
    return a;
  }
  auto trk_binary = trk_masks > 0;
  auto nonempty = trk_binary.flatten(1).any(1).to(torch::kCPU);
  for (int64_t t = 0; t < n; ++t)
    a.nonempty[t] = nonempty[t].item<bool>();
  if (d == 0) {
    a.unmatched = a.nonempty;
    return a;
  }
  auto ious = mask_iou(det_masks > 0, trk_binary).to(torch::kCPU).contiguous();
  auto iou = ious.accessor<float, 2>();
  std::vector<int64_t> track_labels(n);
  for (int64_t t = 0; t < n; ++t)
    track_labels[t] = tracks_.at(track_ids[t]).label;
  // Labels never cross-match: another prompt's track is as if it did not overlap.
  for (int64_t i = 0; i < d; ++i)
    for (int64_t t = 0; t < n; ++t)
      if (det_labels[i] != track_labels[t])
        iou[i][t] = 0.f;

  struct Pair {
    float iou;
    int64_t first_frame, det, track;
  };
  std::vector<Pair> pairs;
  for (int64_t t = 0; t < n; ++t) {
    bool matched = false;
    for (int64_t i = 0; i < d; ++i)
      if (iou[i][t] >= v.trk_assoc_iou_thresh) {
        matched = true;
        pairs.push_back({iou[i][t], tracks_.at(track_ids[t]).first_frame, i, t});
      }
    a.unmatched[t] = a.nonempty[t] && !matched;
  }
  std::sort(pairs.begin(), pairs.end(), [](const Pair &x, const Pair &y) {
    return x.iou != y.iou ? x.iou > y.iou
                          : (x.first_frame != y.first_frame ? x.first_frame < y.first_frame
                                                            : x.track < y.track);
  });
  std::vector<bool> det_taken(d, false);
  for (const auto &p : pairs)
    if (!det_taken[p.det] && !a.held[p.track]) {
      det_taken[p.det] = true;
      a.held[p.track] = true;
    }

  for (int64_t i = 0; i < d; ++i) {
    int64_t argmax = 0;
    for (int64_t t = 0; t < n; ++t) {
      if (iou[i][t] >= v.assoc_iou_thresh)
        a.det_to_tracks[i].push_back(t);
      if (iou[i][t] > iou[i][argmax])
        argmax = t;
    }
    const bool is_new = det_scores[i] >= v.new_det_thresh && a.det_to_tracks[i].empty();
    if (is_new)
      a.new_dets.push_back(i);
    else if (det_scores[i] >= v.high_conf_thresh && iou[i][argmax] >= v.high_iou_thresh)
      a.confident[argmax] = i;
  }
  return a;
}

std::vector<int64_t> TrackingLoop::update_hotstart(int64_t frame_index,
                                                   const std::vector<int64_t> &track_ids,
                                                   const Association &association,
                                                   std::vector<int64_t> &suppressed) {
  const auto &v = options_.video;
  const auto n = track_ids.size();
  std::vector<bool> matched(n, false);
  for (const auto &tracks : association.det_to_tracks)
    for (auto t : tracks)
      matched[t] = true;

  std::vector<int64_t> removed;
  auto is_removed = [&](int64_t id) {
    return std::find(removed.begin(), removed.end(), id) != removed.end();
  };
  for (size_t t = 0; t < n; ++t) {
    auto &track = tracks_.at(track_ids[t]);
    if (matched[t])
      track.keep_alive = std::min(v.max_trk_keep_alive, track.keep_alive + 1);
    if (association.unmatched[t]) {
      track.ever_unmatched = true;
      if (within_hotstart(track, frame_index))
        ++track.unmatched_in_hotstart;
      track.keep_alive = std::max(v.min_trk_keep_alive, track.keep_alive - 1);
    }
    if (v.decrease_trk_keep_alive_for_empty_masklets && !association.nonempty[t])
      track.keep_alive = std::max(v.min_trk_keep_alive, track.keep_alive - 1);
    track.lost_frames = association.held[t] ? 0 : track.lost_frames + 1;
  }
  for (size_t t = 0; t < n; ++t) {
    const auto &track = tracks_.at(track_ids[t]);
    if (within_hotstart(track, frame_index) &&
        track.unmatched_in_hotstart >= v.hotstart_unmatch_thresh)
      removed.push_back(track_ids[t]);
    else if (!track.interactive && options_.max_lost_frames > 0 &&
             track.lost_frames >= options_.max_lost_frames)
      removed.push_back(track_ids[t]);
    else if (!v.suppress_unmatched_only_within_hotstart && track.ever_unmatched &&
             track.keep_alive <= 0)
      suppressed.push_back(track_ids[t]);
  }

  // Duplicates: tracks matched by one detection; the one that appeared first is the original.
  for (const auto &tracks : association.det_to_tracks) {
    if (tracks.size() < 2)
      continue;
    int64_t first = track_ids[tracks.front()];
    for (auto t : tracks)
      if (tracks_.at(track_ids[t]).first_frame < tracks_.at(first).first_frame)
        first = track_ids[t];
    for (auto t : tracks) {
      const auto id = track_ids[t];
      if (id != first && within_hotstart(tracks_.at(id), frame_index))
        ++overlap_frames_[{first, id}];
    }
  }
  for (const auto &[pair, frames] : overlap_frames_) {
    const auto younger = pair.second;
    if (!is_removed(younger) && within_hotstart(tracks_.at(younger), frame_index) &&
        frames >= v.hotstart_dup_thresh)
      removed.push_back(younger);
  }
  return removed;
}

std::vector<FrameTracks> TrackingLoop::process(const TrackerFrame &frame,
                                               const FrameDetections &detections) {
  use_cpu_threads();
  if (last_frame_ && frame.index <= *last_frame_)
    throw std::invalid_argument("TrackingLoop::process: frame index " +
                                std::to_string(frame.index) + " does not follow " +
                                std::to_string(*last_frame_));
  const auto &v = options_.video;
  const int64_t side = tracker_->mask_size();
  auto det =
      detections.detector_ran ? prepare_detections(detections, side, options_) : Detections{};

  auto predictions = tracker_->propagate(frame);
  if (predictions.size() != tracks_.size())
    throw std::logic_error("TrackingLoop: the tracker propagated " +
                           std::to_string(predictions.size()) + " objects, the loop tracks " +
                           std::to_string(tracks_.size()));
  const auto n = static_cast<int64_t>(predictions.size());
  std::vector<int64_t> track_ids(n);
  std::vector<float> trk_logits(n);
  std::vector<torch::Tensor> masks(n);
  for (int64_t t = 0; t < n; ++t) {
    const auto &p = predictions[t];
    if (!tracks_.count(p.object_id))
      throw std::logic_error("TrackingLoop: the tracker propagated object " +
                             std::to_string(p.object_id) + ", which the loop does not track");
    track_ids[t] = p.object_id;
    trk_logits[t] = p.object_score_logit;
    masks[t] = p.mask_logits.to(torch::kFloat);
  }
  last_frame_ = frame.index;
  torch::Tensor trk_masks;
  if (n > 0) {
    trk_masks = fill_holes(torch::stack(masks), v.fill_hole_area);
    if (det.masks.defined())
      det.masks = det.masks.to(trk_masks.device());
  }

  auto association = associate(det.masks, det.scores, det.labels, trk_masks, track_ids);

  // Object limit: the highest-scoring new detections fill the free places.
  auto new_dets = association.new_dets;
  const int64_t cap = options_.max_objects < 0 ? v.max_num_objects : options_.max_objects;
  if (n + static_cast<int64_t>(new_dets.size()) > cap) {
    std::stable_sort(new_dets.begin(), new_dets.end(),
                     [&](int64_t a, int64_t b) { return det.scores[a] > det.scores[b]; });
    new_dets.resize(static_cast<size_t>(std::max<int64_t>(0, cap - n)));
  }

  std::vector<int64_t> suppressed, removed;
  if (detections.detector_ran)
    removed = update_hotstart(frame.index, track_ids, association, suppressed);
  std::vector<bool> removed_now(n, false), suppressed_now(n, false);
  for (int64_t t = 0; t < n; ++t) {
    removed_now[t] = std::count(removed.begin(), removed.end(), track_ids[t]) > 0;
    suppressed_now[t] = std::count(suppressed.begin(), suppressed.end(), track_ids[t]) > 0;
  }

  // A reconditioned track shows the detection's mask on this frame (the reference's
  // build_outputs); its memory is still written from the tracker's mask below.
  std::vector<int64_t> reconditioned_by(n, -1);
  if (detections.detector_ran && v.recondition_every_nth_frame > 0 &&
      frame.index % v.recondition_every_nth_frame == 0)
    for (int64_t t = 0; t < n; ++t) {
      const auto d = association.confident[t];
      // The tracker's object-score logit (not its probability) against high_conf_thresh, as
      // the reference compares it.
      if (d < 0 || removed_now[t] || trk_logits[t] <= v.high_conf_thresh)
        continue;
      tracker_->recondition(track_ids[t], frame,
                            v.recondition_on_trk_masks ? torch::Tensor() : det.masks[d]);
      reconditioned_by[t] = d;
    }

  // The more recently occluded of two overlapping tracks of one label is hidden (and its
  // memory written as absent); both must have been occluded before.
  if (n > 0 && v.suppress_overlapping_based_on_recent_occlusion_threshold > 0.0) {
    std::vector<int64_t> last(n);
    for (int64_t t = 0; t < n; ++t) {
      const auto &track = tracks_.at(track_ids[t]);
      last[t] = track.last_occluded.value_or(removed_now[t] ? kAlwaysOccluded : kNeverOccluded);
    }
    std::vector<bool> hide(n, false);
    if (n > 1) {
      auto binary = trk_masks > 0;
      auto ious = mask_iou(binary, binary).to(torch::kCPU).contiguous();
      auto iou = ious.accessor<float, 2>();
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i + 1; j < n; ++j) {
          if (iou[i][j] < v.suppress_overlapping_based_on_recent_occlusion_threshold ||
              tracks_.at(track_ids[i]).label != tracks_.at(track_ids[j]).label)
            continue;
          if (last[i] > last[j] && last[j] > kNeverOccluded)
            hide[i] = true;
          if (last[j] > last[i] && last[i] > kNeverOccluded)
            hide[j] = true;
        }
    }
    std::vector<int64_t> hidden;
    for (int64_t t = 0; t < n; ++t) {
      const bool occluded = !association.nonempty[t] || hide[t];
      tracks_.at(track_ids[t]).last_occluded = occluded ? frame.index : last[t];
      if (hide[t])
        hidden.push_back(t);
    }
    if (!hidden.empty())
      trk_masks.index_fill_(0, torch::tensor(hidden).to(trk_masks.device()), kNoObjectLogit);
  }

  // Memory of the tracks that stay. Shrinkage is judged among all of them, removed included,
  // at the memory encoder's resolution; suppressed masks are written as absent.
  if (n > 0) {
    const auto memory_side =
        options_.shrinkage_at_memory_resolution ? side * kMemoryMaskScale : side;
    auto high = F::interpolate(trk_masks.unsqueeze(1),
                               F::InterpolateFuncOptions()
                                   .size(std::vector<int64_t>{memory_side, memory_side})
                                   .mode(torch::kBilinear)
                                   .align_corners(false))
                    .squeeze(1);
    auto keep = shrinkage_keep(high);
    auto visible = keep & (high > 0).flatten(1).any(1);
    auto memory_masks =
        torch::where(keep.view({n, 1, 1}), trk_masks, trk_masks.clamp_max(kNoObjectLogit));
    auto memory_logits = torch::where(visible, torch::full({n}, kMemoryObjectLogit, high.options()),
                                      torch::full({n}, -kMemoryObjectLogit, high.options()));
    std::vector<int64_t> stay_index, stay_ids;
    for (int64_t t = 0; t < n; ++t)
      if (!removed_now[t]) {
        stay_index.push_back(t);
        stay_ids.push_back(track_ids[t]);
      }
    if (!stay_ids.empty()) {
      auto index = torch::tensor(stay_index).to(trk_masks.device());
      tracker_->encode_memories(frame, stay_ids, memory_masks.index_select(0, index),
                                memory_logits.index_select(0, index));
    }
  }

  HeldFrame held{frame.index, frame.width, frame.height, {}};
  for (int64_t t = 0; t < n; ++t) {
    if (removed_now[t])
      continue;
    const auto &track = tracks_.at(track_ids[t]);
    const auto d = reconditioned_by[t];
    held.objects.push_back({track_ids[t], track.label, track.score, sigmoid(trk_logits[t]),
                            d >= 0 ? det.masks[d] : trk_masks[t], false, suppressed_now[t]});
  }
  if (!new_dets.empty()) {
    auto born = select(det, new_dets);
    auto shown = fill_holes(born.masks, v.fill_hole_area);
    std::vector<int64_t> born_ids;
    for (size_t k = 0; k < new_dets.size(); ++k) {
      const int64_t id = next_object_id_;
      tracker_->add_object(id, frame, born.masks[k]);
      born_ids.push_back(id);
      ++next_object_id_;
      Track track;
      track.label = born.labels[k];
      track.first_frame = frame.index;
      track.score = born.scores[k];
      track.keep_alive = v.init_trk_keep_alive;
      tracks_.emplace(id, track);
      held.objects.push_back({id, born.labels[k], born.scores[k], born.scores[k], shown[k], true});
    }
    if (options_.non_overlapping_births && born_ids.size() > 1)
      separate_newborns(frame, born_ids, born.masks);
  }
  for (auto id : removed) {
    tracker_->remove_object(id);
    forget(id);
  }
  held_.push_back(std::move(held));
  trim_bookkeeping(frame.index);
  return release(false);
}

void TrackingLoop::trim_bookkeeping(int64_t frame_index) {
  // Duplicate counts are read only while the younger object is in its hotstart window.
  for (auto it = overlap_frames_.begin(); it != overlap_frames_.end();) {
    auto track = tracks_.find(it->first.second);
    if (track == tracks_.end() || !within_hotstart(track->second, frame_index + 1))
      it = overlap_frames_.erase(it);
    else
      ++it;
  }
}

void TrackingLoop::forget(int64_t object_id) {
  const auto track = tracks_.find(object_id);
  if (track != tracks_.end()) {
    removed_labels_.emplace_back(object_id, track->second.label);
    if (removed_labels_.size() > kRememberedRemovals)
      removed_labels_.pop_front();
    tracks_.erase(track);
  }
  for (auto it = overlap_frames_.begin(); it != overlap_frames_.end();) {
    if (it->first.first == object_id || it->first.second == object_id)
      it = overlap_frames_.erase(it);
    else
      ++it;
  }
  for (auto &frame : held_) {
    auto &objects = frame.objects;
    objects.erase(std::remove_if(objects.begin(), objects.end(),
                                 [&](const HeldObject &o) { return o.object_id == object_id; }),
                  objects.end());
  }
}

void TrackingLoop::separate_newborns(const TrackerFrame &frame, const std::vector<int64_t> &ids,
                                     const torch::Tensor &det_masks) {
  // The official cohort add turns each detection into a binary mask input (logits +-10), then
  // keeps each pixel for the object with the highest logit there: on a tie, the first.
  auto binary =
      torch::where(det_masks > 0, torch::full({}, kMemoryObjectLogit, det_masks.options()),
                   torch::full({}, -kMemoryObjectLogit, det_masks.options()));
  auto separated = non_overlap_by_pixel(binary);
  if (torch::equal(separated > 0, binary > 0))
    return; // nothing contested: the memories add_object wrote stand
  auto visible = (separated > 0).flatten(1).any(1);
  auto logits = torch::where(visible, torch::full({}, kMemoryObjectLogit, binary.options()),
                             torch::full({}, -kMemoryObjectLogit, binary.options()));
  tracker_->encode_memories(frame, ids, separated, logits);
}

FrameTracks TrackingLoop::finalise(HeldFrame held) const {
  auto &objects = held.objects;
  objects.erase(std::remove_if(objects.begin(), objects.end(),
                               [](const HeldObject &o) { return o.suppressed; }),
                objects.end());
  std::sort(objects.begin(), objects.end(),
            [](const HeldObject &a, const HeldObject &b) { return a.object_id < b.object_id; });
  if (held.width > 0 && held.height > 0)
    return finalise_at_frame_size(std::move(held));
  FrameTracks out;
  out.frame_index = held.frame_index;
  if (objects.empty())
    return out;
  std::vector<torch::Tensor> masks;
  for (const auto &o : objects)
    masks.push_back(o.mask_logits);
  auto stack = torch::stack(masks);
  auto nonempty = (stack > 0).flatten(1).any(1).to(torch::kCPU);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < static_cast<int64_t>(objects.size()); ++i)
    if (nonempty[i].item<bool>())
      keep.push_back(i);
  if (keep.empty())
    return out;
  stack = stack.index_select(0, torch::tensor(keep).to(stack.device()));
  // Boxes come from the masks before the non-overlap step, as in the reference.
  const auto boxes = boxes_from_masks(stack > 0);
  std::vector<float> probabilities;
  for (auto i : keep)
    probabilities.push_back(objects[i].tracker_probability);
  auto final_masks = options_.non_overlapping_output
                         ? non_overlap_by_object(stack, torch::tensor(probabilities))
                         : stack;
  for (size_t k = 0; k < keep.size(); ++k) {
    const auto &o = objects[keep[k]];
    TrackedObject object;
    object.object_id = o.object_id;
    object.label = o.label;
    object.score = o.score;
    object.tracker_probability = o.tracker_probability;
    object.mask_logits = final_masks[k];
    object.box = boxes[k];
    object.is_new = o.is_new;
    out.objects.push_back(std::move(object));
  }
  return out;
}

FrameTracks TrackingLoop::finalise_at_frame_size(HeldFrame held) const {
  // The official output (build_outputs, _postprocess_output): each mask resized to the frame;
  // an object with no pixel there is not shown; boxes before the non-overlap step, which then
  // gives each pixel to the most probable object covering it and may leave one without any.
  FrameTracks out;
  out.frame_index = held.frame_index;
  std::vector<FrameMask> masks;
  std::vector<float> probabilities;
  std::vector<const HeldObject *> shown;
  if (held.objects.empty())
    return out;
  // One device-to-host copy for the frame, not one per object.
  std::vector<torch::Tensor> device_masks;
  for (const auto &o : held.objects)
    device_masks.push_back(o.mask_logits);
  const auto host = torch::stack(device_masks).to(torch::kCPU, torch::kFloat);
  for (size_t k = 0; k < held.objects.size(); ++k) {
    auto mask = frame_mask(host[static_cast<int64_t>(k)], held.width, held.height);
    if (mask.empty())
      continue;
    masks.push_back(std::move(mask));
    probabilities.push_back(held.objects[k].tracker_probability);
    shown.push_back(&held.objects[k]);
  }
  std::vector<std::array<float, 4>> boxes;
  const auto w = static_cast<float>(held.width), h = static_cast<float>(held.height);
  for (const auto &m : masks)
    boxes.push_back({static_cast<float>(m.x) / w, static_cast<float>(m.y) / h,
                     static_cast<float>(m.x + m.width) / w,
                     static_cast<float>(m.y + m.height) / h});
  if (options_.non_overlapping_output)
    non_overlap_frame_masks(masks, probabilities);
  for (size_t k = 0; k < shown.size(); ++k) {
    const auto &o = *shown[k];
    TrackedObject object;
    object.object_id = o.object_id;
    object.label = o.label;
    object.score = o.score;
    object.tracker_probability = o.tracker_probability;
    object.mask_logits = o.mask_logits;
    object.box = boxes[k];
    object.frame_mask = std::move(masks[k]);
    object.is_new = o.is_new;
    out.objects.push_back(std::move(object));
  }
  return out;
}

std::vector<FrameTracks> TrackingLoop::release(bool all) {
  std::vector<FrameTracks> out;
  while (!held_.empty() && (all || static_cast<int64_t>(held_.size()) > options_.output_delay)) {
    out.push_back(finalise(std::move(held_.front())));
    held_.pop_front();
  }
  return out;
}

std::vector<FrameTracks> TrackingLoop::flush() {
  return release(true);
}

void TrackingLoop::reset() {
  tracker_->reset();
  tracks_.clear();
  overlap_frames_.clear();
  held_.clear();
  removed_labels_.clear();
  last_frame_.reset();
}

int64_t TrackingLoop::add_object(const TrackerFrame &frame, torch::Tensor points,
                                 torch::Tensor labels, torch::Tensor box, int64_t label) {
  if (!points.defined() && !box.defined())
    throw std::invalid_argument("TrackingLoop::add_object: give points or a box");
  if (last_frame_ && frame.index < *last_frame_)
    throw std::invalid_argument("TrackingLoop::add_object: frame " + std::to_string(frame.index) +
                                " is before the last processed frame " +
                                std::to_string(*last_frame_));
  start_prompted(next_object_id_, label, frame, points, labels, box);
  return next_object_id_++;
}

void TrackingLoop::start_prompted(int64_t id, int64_t label, const TrackerFrame &frame,
                                  torch::Tensor points, torch::Tensor labels, torch::Tensor box) {
  auto prediction = tracker_->add_prompt(id, frame, points, labels, box);
  last_frame_ = frame.index;
  Track track;
  track.label = label;
  track.first_frame = frame.index;
  track.score = 1.f;
  track.keep_alive = options_.video.init_trk_keep_alive;
  track.interactive = true;
  tracks_.emplace(id, track);
  // The reference takes a prompted object as certain on its prompt frame (tracker score 1).
  if (!held_.empty() && held_.back().frame_index == frame.index)
    held_.back().objects.push_back(
        {id, label, 1.f, 1.f, prediction.mask_logits.to(torch::kFloat), true});
}

bool TrackingLoop::refine_object(int64_t object_id, const TrackerFrame &frame, torch::Tensor points,
                                 torch::Tensor labels) {
  auto it = tracks_.find(object_id);
  const auto removed =
      std::find_if(removed_labels_.begin(), removed_labels_.end(),
                   [object_id](const auto &entry) { return entry.first == object_id; });
  if (it == tracks_.end() && removed == removed_labels_.end())
    throw std::invalid_argument("TrackingLoop::refine_object: no object " +
                                std::to_string(object_id));
  if (!points.defined())
    throw std::invalid_argument("TrackingLoop::refine_object: no points");
  if (last_frame_ && frame.index < *last_frame_)
    throw std::invalid_argument(
        "TrackingLoop::refine_object: frame " + std::to_string(frame.index) +
        " is before the last processed frame " + std::to_string(*last_frame_));
  if (it == tracks_.end()) {
    start_prompted(object_id, removed->second, frame, points, labels, torch::Tensor());
    removed_labels_.erase(removed);
    return true;
  }
  auto prediction = tracker_->add_prompt(object_id, frame, points, labels, torch::Tensor());
  last_frame_ = frame.index;
  // As the reference: a refined object scores 1 from then on, is certain on this frame, and
  // leaves the suppressed sets of the frames not yet output (the loop's rules still apply to
  // later frames).
  it->second.score = 1.f;
  for (auto &held : held_)
    for (auto &object : held.objects)
      if (object.object_id == object_id)
        object.suppressed = false;
  if (held_.empty() || held_.back().frame_index != frame.index)
    return false;
  auto &objects = held_.back().objects;
  HeldObject refined{
      object_id, it->second.label, 1.f, 1.f, prediction.mask_logits.to(torch::kFloat), false};
  auto held = std::find_if(objects.begin(), objects.end(),
                           [&](const HeldObject &o) { return o.object_id == object_id; });
  if (held == objects.end()) {
    objects.push_back(refined);
  } else {
    refined.is_new = held->is_new;
    *held = refined;
  }
  return false;
}

void TrackingLoop::remove_object(int64_t object_id) {
  if (!tracks_.count(object_id))
    throw std::invalid_argument("TrackingLoop::remove_object: no object " +
                                std::to_string(object_id));
  tracker_->remove_object(object_id);
  forget(object_id);
}

size_t TrackingLoop::num_objects() const {
  return tracks_.size();
}

std::vector<int64_t> TrackingLoop::object_ids() const {
  std::vector<int64_t> ids;
  for (const auto &entry : tracks_)
    ids.push_back(entry.first);
  return ids;
}

size_t TrackingLoop::bookkeeping_size() const {
  return tracks_.size() + overlap_frames_.size();
}

size_t TrackingLoop::frames_held() const {
  return held_.size();
}

} // namespace sam3
