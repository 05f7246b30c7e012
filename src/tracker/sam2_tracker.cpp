#include "tracker/sam2_tracker.h"

#include "video/mask_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>

namespace sam3 {
namespace {

namespace F = torch::nn::functional;

// The reference's clamp of a refinement's mask prompt (the previous logits).
constexpr double kMaskPromptLimit = 32.0;
constexpr int64_t kMaxPromptPoints = 16; // a box counts as 2
// The reference's refinement_detector_cond_frame_removal_window.
constexpr int64_t kRefinementWindow = 16;

// Bilinear to side x side; `antialias` as transformers' (and the official) downsampling.
torch::Tensor resize(const torch::Tensor &masks, int64_t side, bool antialias = false) {
  return F::interpolate(masks.to(torch::kFloat32), F::InterpolateFuncOptions()
                                                       .size(std::vector<int64_t>{side, side})
                                                       .mode(torch::kBilinear)
                                                       .align_corners(false)
                                                       .antialias(antialias));
}

std::string sizes_of(const torch::Tensor &t) {
  if (!t.defined())
    return "undefined";
  std::string s = "(";
  for (int64_t i = 0; i < t.dim(); ++i)
    s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + ")";
}

bool contains(const std::vector<int64_t> &v, int64_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The reference's frame_filter: scanning back from the previous frame (frame 0 is never
// scanned), the frames whose score passes the threshold, oldest first, until
// max_object_pointers - 1 are found; the previous frame is always added.
std::vector<int64_t> filter_frames(int64_t frame, const std::map<int64_t, float> &tracked,
                                   const MemorySelectionConfig &config) {
  std::vector<int64_t> valid;
  if (frame == 0)
    return valid;
  for (int64_t i = frame - 1; i > 0; --i) {
    const auto it = tracked.find(i);
    if (it != tracked.end() && it->second > config.mf_threshold)
      valid.insert(valid.begin(), i);
    if (static_cast<int64_t>(valid.size()) >= config.max_object_pointers - 1)
      break;
  }
  if (!contains(valid, frame - 1))
    valid.push_back(frame - 1);
  return valid;
}

} // namespace

bool MemorySelection::operator==(const MemorySelection &other) const {
  return conditioning == other.conditioning && previous == other.previous &&
         pointers == other.pointers;
}

bool MemorySelection::operator<(const MemorySelection &other) const {
  return std::tie(conditioning, previous, pointers) <
         std::tie(other.conditioning, other.previous, other.pointers);
}

MemorySelection select_memory(int64_t frame, const std::vector<int64_t> &conditioning,
                              const std::map<int64_t, float> &tracked,
                              const MemorySelectionConfig &config) {
  MemorySelection s;
  std::vector<int64_t> unselected;
  const auto limit = config.max_cond_frame_num;
  if (limit == -1 || static_cast<int64_t>(conditioning.size()) <= limit) {
    s.conditioning = conditioning;
  } else {
    int64_t before = -1, after = -1;
    for (const auto t : conditioning) {
      if (t < frame && (before == -1 || t > before))
        before = t;
      if (t >= frame && (after == -1 || t < after))
        after = t;
    }
    if (before != -1)
      s.conditioning.push_back(before);
    if (after != -1)
      s.conditioning.push_back(after);
    std::vector<int64_t> rest;
    for (const auto t : conditioning)
      if (!contains(s.conditioning, t))
        rest.push_back(t);
    std::stable_sort(rest.begin(), rest.end(), [frame](int64_t a, int64_t b) {
      return std::llabs(a - frame) < std::llabs(b - frame);
    });
    for (const auto t : rest) {
      if (static_cast<int64_t>(s.conditioning.size()) < limit)
        s.conditioning.push_back(t);
      else
        unselected.push_back(t);
    }
  }
  // A previous frame may be a tracked frame or a conditioning frame left out above.
  const auto readable = [&](int64_t t) { return tracked.count(t) > 0 || contains(unselected, t); };

  std::vector<int64_t> valid;
  if (config.use_memory_selection)
    valid = filter_frames(frame, tracked, config);
  const auto num_valid = static_cast<int64_t>(valid.size());
  for (int64_t t_pos = 1; t_pos < config.num_maskmem; ++t_pos) {
    const auto t_rel = config.num_maskmem - t_pos;
    int64_t previous = frame - t_rel;
    if (config.use_memory_selection) {
      if (t_rel > num_valid)
        continue;
      previous = valid[num_valid - t_rel];
    }
    if (readable(previous))
      s.previous.emplace_back(previous, t_pos);
  }

  for (const auto t : s.conditioning)
    if (t <= frame)
      s.pointers.emplace_back(t, frame - t);
  for (int64_t t_diff = 1; t_diff < config.max_object_pointers; ++t_diff) {
    int64_t t = frame - t_diff;
    if (config.use_memory_selection) {
      if (t_diff >= num_valid)
        break;
      t = valid[num_valid - t_diff];
    } else if (t < 0) {
      break;
    }
    if (readable(t))
      s.pointers.emplace_back(t, t_diff);
  }
  return s;
}

MemoryRetention retained_memory(int64_t last_frame, const std::vector<int64_t> &conditioning,
                                const std::map<int64_t, float> &tracked,
                                const MemorySelectionConfig &config) {
  MemoryRetention r;
  // Frames after last_frame read previous frames no older than these.
  const auto pointer_window = last_frame + 1 - (config.max_object_pointers - 1);
  const auto memory_window = last_frame + 1 - (config.num_maskmem - 1);
  std::vector<int64_t> newest_first = conditioning;
  std::sort(newest_first.begin(), newest_first.end(), std::greater<int64_t>());
  for (size_t i = 0; i < newest_first.size(); ++i) {
    const auto t = newest_first[i];
    const bool selectable =
        config.max_cond_frame_num == -1 || static_cast<int64_t>(i) < config.max_cond_frame_num;
    if (selectable || (!config.use_memory_selection && t >= pointer_window))
      r.conditioning.insert(t);
  }
  if (config.use_memory_selection) {
    if (tracked.count(last_frame)) {
      r.tracked.insert(last_frame);
      r.tracked_memory.insert(last_frame);
    }
    int64_t passing = 0;
    for (auto it = tracked.rbegin(); it != tracked.rend(); ++it) {
      if (it->first <= 0 || it->second <= config.mf_threshold)
        continue;
      if (passing >= config.max_object_pointers - 1)
        break;
      r.tracked.insert(it->first);
      if (passing < config.num_maskmem - 1)
        r.tracked_memory.insert(it->first);
      ++passing;
    }
  } else {
    for (const auto &[t, score] : tracked) {
      if (t >= pointer_window)
        r.tracked.insert(t);
      if (t >= memory_window)
        r.tracked_memory.insert(t);
    }
  }
  return r;
}

namespace {

float visibility(float object_score_logit) {
  return object_score_logit > 0 ? 2.f / (1.f + std::exp(-object_score_logit)) - 1.f : 0.f;
}

} // namespace

float selection_score(float object_score_logit, float iou_score) {
  return visibility(object_score_logit) * iou_score;
}

float cohort_selection_score(const std::vector<float> &object_score_logits,
                             const std::vector<float> &iou_scores) {
  TORCH_CHECK(!object_score_logits.empty() && object_score_logits.size() == iou_scores.size(),
              "cohort_selection_score: one score and one IoU per object");
  double visible = 0, iou = 0;
  for (size_t i = 0; i < iou_scores.size(); ++i) {
    visible += visibility(object_score_logits[i]);
    iou += iou_scores[i];
  }
  const double n = static_cast<double>(iou_scores.size());
  return static_cast<float>((visible / n) * (iou / n));
}

Sam2Tracker::Sam2Tracker(TrackerModel model, Sam2TrackerOptions options)
    : model_(std::move(model)),
      binarize_memory_mask_before_resize_(options.binarize_memory_mask_before_resize),
      transformers_mask_inputs_(options.transformers_mask_inputs),
      rewrite_memory_on_births_(options.rewrite_memory_on_births),
      recondition_cohort_(options.recondition_cohort) {
  if (!model_)
    throw std::invalid_argument("Sam2Tracker: no tracker model");
  const auto &c = model_->config();
  selection_.num_maskmem = c.num_maskmem;
  selection_.max_cond_frame_num = c.max_cond_frame_num;
  // At least 2: a one-frame clip only ever reads its prompt, and the divisor is the cap - 1.
  selection_.max_object_pointers =
      options.num_frames > 0
          ? std::max<int64_t>(2, std::min(options.num_frames, c.max_object_pointers_in_encoder))
          : c.max_object_pointers_in_encoder;
  selection_.use_memory_selection = options.use_memory_selection;
  selection_.mf_threshold = options.mf_threshold;
}

int64_t Sam2Tracker::mask_size() const {
  return 4 * model_->grid();
}

Sam2Tracker::TrackedObject *Sam2Tracker::find(int64_t object_id) {
  for (auto &o : objects_)
    if (o.id == object_id)
      return &o;
  return nullptr;
}

Sam2Tracker::TrackedObject &Sam2Tracker::get(int64_t object_id) {
  auto *o = find(object_id);
  if (!o)
    throw std::invalid_argument("Sam2Tracker: object " + std::to_string(object_id) +
                                " is not tracked");
  return *o;
}

void Sam2Tracker::check_frame(const TrackerFrame &frame, bool new_frame) const {
  const auto g = model_->grid();
  const auto c = model_->hidden_size();
  const std::vector<std::vector<int64_t>> expected = {
      {1, c / 8, 4 * g, 4 * g}, {1, c / 4, 2 * g, 2 * g}, {1, c, g, g}};
  if (frame.features.size() != 3)
    throw std::invalid_argument("Sam2Tracker: frame " + std::to_string(frame.index) + " has " +
                                std::to_string(frame.features.size()) +
                                " feature levels; expected 3 (make_tracker_frame)");
  for (size_t i = 0; i < 3; ++i)
    if (!frame.features[i].defined() || frame.features[i].sizes() != expected[i])
      throw std::invalid_argument(
          "Sam2Tracker: frame feature level " + std::to_string(i) + " is " +
          sizes_of(frame.features[i]) + ", expected (" + std::to_string(expected[i][0]) + ", " +
          std::to_string(expected[i][1]) + ", " + std::to_string(expected[i][2]) + ", " +
          std::to_string(expected[i][3]) + ")");
  if (!frame.position.defined() || frame.position.sizes() != frame.features[2].sizes())
    throw std::invalid_argument("Sam2Tracker: the frame position encoding is " +
                                sizes_of(frame.position) + ", expected the g x g level's shape");
  if (new_frame ? frame.index <= last_frame_ : frame.index < last_frame_)
    throw std::invalid_argument("Sam2Tracker: frame " + std::to_string(frame.index) +
                                (new_frame ? " does not follow frame " : " precedes frame ") +
                                std::to_string(last_frame_));
}

MemorySelection Sam2Tracker::selection_for(const TrackedObject &object, int64_t frame) const {
  std::vector<int64_t> conditioning;
  for (const auto &[t, e] : object.conditioning)
    conditioning.push_back(t);
  std::map<int64_t, float> tracked;
  for (const auto &[t, e] : object.tracked)
    tracked.emplace(t, e.selection_score);
  auto s = select_memory(frame, conditioning, tracked, selection_);
  // A frame whose memory has not been encoded (yet) still lends its pointer.
  const auto has_memory = [&](int64_t t) {
    auto it = object.conditioning.find(t);
    if (it != object.conditioning.end())
      return it->second.maskmem.defined();
    auto jt = object.tracked.find(t);
    return jt != object.tracked.end() && jt->second.maskmem.defined();
  };
  s.conditioning.erase(std::remove_if(s.conditioning.begin(), s.conditioning.end(),
                                      [&](int64_t t) { return !has_memory(t); }),
                       s.conditioning.end());
  s.previous.erase(std::remove_if(s.previous.begin(), s.previous.end(),
                                  [&](const auto &p) { return !has_memory(p.first); }),
                   s.previous.end());
  return s;
}

MemorySelection Sam2Tracker::memory_for(int64_t object_id, int64_t frame) const {
  for (const auto &o : objects_)
    if (o.id == object_id)
      return selection_for(o, frame);
  throw std::invalid_argument("Sam2Tracker: object " + std::to_string(object_id) +
                              " is not tracked");
}

torch::Tensor Sam2Tracker::memory_features(int64_t object_id, int64_t frame) const {
  const auto it = std::find_if(objects_.begin(), objects_.end(),
                               [object_id](const TrackedObject &o) { return o.id == object_id; });
  if (it == objects_.end())
    throw std::invalid_argument("Sam2Tracker: object " + std::to_string(object_id) +
                                " is not tracked");
  for (const auto *entries : {&it->conditioning, &it->tracked}) {
    const auto e = entries->find(frame);
    if (e != entries->end())
      return e->second.maskmem;
  }
  return torch::Tensor();
}

torch::Tensor Sam2Tracker::conditioned_features(const TrackerFrame &frame,
                                                const std::vector<const TrackedObject *> &objects,
                                                const MemorySelection &selection) {
  const auto n = static_cast<int64_t>(objects.size());
  const auto &features = frame.features[2];
  const auto dtype = features.scalar_type();
  const auto entry = [](const TrackedObject *o, int64_t t) -> const MemoryEntry & {
    const auto it = o->conditioning.find(t);
    return it != o->conditioning.end() ? it->second : o->tracked.at(t);
  };
  std::vector<torch::Tensor> memory, memory_pos;
  const auto add_frame = [&](int64_t t, int64_t temporal_position) {
    std::vector<torch::Tensor> maps;
    for (const auto *o : objects)
      maps.push_back(entry(o, t).maskmem);
    auto tokens = model_->memory_tokens(torch::stack(maps).to(dtype), maskmem_pos_.to(dtype),
                                        temporal_position);
    memory.push_back(tokens.first);
    memory_pos.push_back(tokens.second);
  };
  for (const auto t : selection.conditioning)
    add_frame(t, 0);
  for (const auto &[t, temporal_position] : selection.previous)
    add_frame(t, temporal_position);
  int64_t num_pointer_tokens = 0;
  if (!selection.pointers.empty()) {
    std::vector<torch::Tensor> rows;
    std::vector<int64_t> offsets;
    for (const auto &[t, offset] : selection.pointers)
      offsets.push_back(offset);
    for (const auto *o : objects) {
      std::vector<torch::Tensor> row;
      for (const auto &[t, offset] : selection.pointers)
        row.push_back(entry(o, t).pointer);
      rows.push_back(torch::stack(row));
    }
    auto tokens = model_->pointer_tokens(torch::stack(rows).to(dtype), offsets,
                                         selection_.max_object_pointers);
    num_pointer_tokens = tokens.first.size(1);
    memory.push_back(tokens.first);
    memory_pos.push_back(tokens.second);
  }
  const auto batch = features.expand({n, -1, -1, -1});
  if (memory.empty())
    return model_->features_without_memory(batch);
  return model_->features_with_memory(batch, frame.position, torch::cat(memory, 1),
                                      torch::cat(memory_pos, 1), num_pointer_tokens);
}

torch::Tensor Sam2Tracker::input_mask(const torch::Tensor &mask_logits) const {
  const auto s = mask_size();
  if (!mask_logits.defined() || mask_logits.dim() != 2 || mask_logits.size(0) != s ||
      mask_logits.size(1) != s)
    throw std::invalid_argument("Sam2Tracker: an object mask must be " + std::to_string(s) + " x " +
                                std::to_string(s) + " logits, got " + sizes_of(mask_logits));
  const auto logits = mask_logits.view({1, 1, s, s});
  if (!transformers_mask_inputs_)
    return resize(logits, 16 * model_->grid()).gt(0).to(torch::kFloat32);
  return resize(logits.ge(0.5), model_->config().image_size, /*antialias=*/true);
}

torch::Tensor Sam2Tracker::prompted_memory_mask(const torch::Tensor &high_res) const {
  const auto side = 16 * model_->grid();
  if (binarize_memory_mask_before_resize_ || high_res.size(-1) == side)
    return high_res;
  return resize(high_res, side, /*antialias=*/true);
}

void Sam2Tracker::store_memory(const TrackerFrame &frame, std::vector<MemoryEntry *> entries,
                               const torch::Tensor &mask_logits,
                               const torch::Tensor &object_score_logits, bool binarize) {
  const auto dtype = frame.features[2].scalar_type();
  const auto encoded = model_->encode_memory(frame.features[2], mask_logits.to(dtype),
                                             object_score_logits.to(dtype), binarize);
  if (!maskmem_pos_.defined())
    maskmem_pos_ = encoded.second.slice(0, 0, 1).clone();
  // Stored in bf16 as the reference stores them; each entry owns its slice.
  for (size_t k = 0; k < entries.size(); ++k)
    entries[k]->maskmem = encoded.first[static_cast<int64_t>(k)].to(torch::kBFloat16).clone();
}

void Sam2Tracker::trim(TrackedObject &object) {
  std::vector<int64_t> conditioning;
  for (const auto &[t, e] : object.conditioning)
    conditioning.push_back(t);
  std::map<int64_t, float> tracked;
  for (const auto &[t, e] : object.tracked)
    tracked.emplace(t, e.selection_score);
  const auto keep = retained_memory(last_frame_, conditioning, tracked, selection_);
  for (auto it = object.conditioning.begin(); it != object.conditioning.end();)
    it = keep.conditioning.count(it->first) ? std::next(it) : object.conditioning.erase(it);
  for (auto it = object.tracked.begin(); it != object.tracked.end();) {
    if (!keep.tracked.count(it->first)) {
      it = object.tracked.erase(it);
      continue;
    }
    if (!keep.tracked_memory.count(it->first))
      it->second.maskmem = torch::Tensor();
    ++it;
  }
}

std::vector<TrackerPrediction> Sam2Tracker::propagate(const TrackerFrame &frame) {
  check_frame(frame, /*new_frame=*/true);
  torch::NoGradGuard no_grad;
  std::map<MemorySelection, std::vector<size_t>> groups;
  for (size_t i = 0; i < objects_.size(); ++i)
    groups[selection_for(objects_[i], frame.index)].push_back(i);

  const std::vector<torch::Tensor> high_res = {frame.features[0], frame.features[1]};
  const bool multimask = model_->use_multimask(/*initial_conditioning_frame=*/false, 0);
  std::vector<TrackerPrediction> predictions(objects_.size());
  rewritten_ = false;
  for (const auto &[selection, members] : groups) {
    std::vector<const TrackedObject *> group;
    for (const auto i : members)
      group.push_back(&objects_[i]);
    const auto features = conditioned_features(frame, group, selection);
    const auto out =
        model_->sam_heads(features, high_res, TrackerPrompt{}, torch::Tensor(), multimask);
    const auto scores = out.object_score_logits.to(torch::kFloat32).cpu();
    const auto ious = out.iou_scores.to(torch::kFloat32).cpu();
    for (size_t k = 0; k < members.size(); ++k) {
      const auto row = static_cast<int64_t>(k);
      auto &object = objects_[members[k]];
      MemoryEntry entry;
      entry.pointer = out.object_pointers[row].clone();
      entry.object_score = scores[row].item<float>();
      entry.iou = ious[row].item<float>();
      object.tracked[frame.index] = entry;
      auto &p = predictions[members[k]];
      p.object_id = object.id;
      p.mask_logits = out.low_res_masks[row].to(torch::kFloat32);
      p.object_score_logit = entry.object_score;
      p.iou_score = entry.iou;
      object.last_logits = out.low_res_masks[row];
      object.last_logits_frame = frame.index;
    }
  }

  // The selection score of the frame is the cohort's (the reference's cal_mem_score).
  std::map<int64_t, std::pair<std::vector<float>, std::vector<float>>> cohorts;
  for (const auto &o : objects_) {
    const auto &e = o.tracked.at(frame.index);
    auto &members = cohorts[o.cohort];
    members.first.push_back(e.object_score);
    members.second.push_back(e.iou);
  }
  std::map<int64_t, float> cohort_scores;
  for (const auto &[cohort, members] : cohorts)
    cohort_scores[cohort] = cohort_selection_score(members.first, members.second);
  for (auto &o : objects_)
    o.tracked.at(frame.index).selection_score = cohort_scores.at(o.cohort);
  last_frame_ = frame.index;
  for (auto &o : objects_)
    trim(o);
  return predictions;
}

void Sam2Tracker::add_object(int64_t object_id, const TrackerFrame &frame,
                             const torch::Tensor &mask_logits) {
  check_frame(frame, /*new_frame=*/false);
  if (find(object_id))
    throw std::invalid_argument("Sam2Tracker: object " + std::to_string(object_id) +
                                " is already tracked");
  torch::NoGradGuard no_grad;
  const auto dtype = frame.features[2].scalar_type();
  const auto mask = input_mask(mask_logits.to(frame.features[2].device())).to(dtype);
  const auto out = model_->mask_as_output(frame.features[2], {frame.features[0], frame.features[1]},
                                          mask, transformers_mask_inputs_);
  if (births_frame_ != frame.index) {
    births_frame_ = frame.index;
    births_cohort_ = next_cohort_++;
  }
  TrackedObject object;
  object.id = object_id;
  object.cohort = births_cohort_;
  object.last_logits = out.low_res_masks[0];
  object.last_logits_frame = frame.index;
  auto &entry = object.conditioning[frame.index];
  entry.pointer = out.object_pointers[0].clone();
  entry.object_score = out.object_score_logits[0].item<float>();
  entry.iou = 1.f;
  entry.from_mask = true;
  store_memory(frame, {&entry}, prompted_memory_mask(mask * 20.0 - 10.0), out.object_score_logits,
               /*binarize=*/true);
  objects_.push_back(std::move(object));
  last_frame_ = frame.index;
  trim(objects_.back());
  if (rewrite_memory_on_births_ && !rewritten_) {
    rewritten_ = true;
    std::vector<MemoryEntry *> entries;
    std::vector<torch::Tensor> masks, scores;
    for (auto &o : objects_) {
      const auto entry = o.tracked.find(frame.index);
      if (entry == o.tracked.end() || o.last_logits_frame != frame.index)
        continue;
      entries.push_back(&entry->second);
      masks.push_back(o.last_logits);
      scores.push_back(torch::tensor(entry->second.object_score));
    }
    if (!entries.empty()) {
      const auto high_res = resize(torch::stack(masks).unsqueeze(1), model_->config().image_size);
      const auto memory_masks = resize(high_res, 16 * model_->grid(), /*antialias=*/true);
      // Encoded in one batch with the newborns, whose mask inputs make transformers binarise
      // the whole batch.
      store_memory(frame, entries, memory_masks, torch::stack(scores), /*binarize=*/true);
    }
  }
}

TrackerPrediction Sam2Tracker::add_prompt(int64_t object_id, const TrackerFrame &frame,
                                          const torch::Tensor &points, const torch::Tensor &labels,
                                          const torch::Tensor &box) {
  check_frame(frame, /*new_frame=*/false);
  if (!points.defined() && !box.defined())
    throw std::invalid_argument("Sam2Tracker: a prompt needs points or a box");
  std::vector<float> coords;
  std::vector<int64_t> point_labels;
  if (box.defined()) {
    if (box.numel() != 4)
      throw std::invalid_argument("Sam2Tracker: a box must be (4,) x0, y0, x1, y1, got " +
                                  sizes_of(box));
    const auto b = box.to(torch::kFloat32).cpu().contiguous();
    const auto *v = b.data_ptr<float>();
    if (!(v[0] <= v[2] && v[1] <= v[3]))
      throw std::invalid_argument("Sam2Tracker: a box must have x0 <= x1 and y0 <= y1");
    coords.insert(coords.end(), v, v + 4);
    point_labels.insert(point_labels.end(), {2, 3});
  }
  if (points.defined()) {
    if (points.dim() != 2 || points.size(1) != 2 || points.size(0) == 0)
      throw std::invalid_argument("Sam2Tracker: points must be (P, 2) with P >= 1, got " +
                                  sizes_of(points));
    if (!labels.defined() || labels.dim() != 1 || labels.size(0) != points.size(0))
      throw std::invalid_argument("Sam2Tracker: labels must be (" + std::to_string(points.size(0)) +
                                  ",), got " + sizes_of(labels));
    const auto p = points.to(torch::kFloat32).cpu().contiguous();
    const auto l = labels.to(torch::kInt64).cpu().contiguous();
    for (int64_t i = 0; i < points.size(0); ++i) {
      const auto label = l.data_ptr<int64_t>()[i];
      if (label != 0 && label != 1)
        throw std::invalid_argument("Sam2Tracker: point label " + std::to_string(label) +
                                    " (expected 1 positive or 0 negative)");
      point_labels.push_back(label);
    }
    coords.insert(coords.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  }
  for (const auto c : coords)
    if (!std::isfinite(c))
      throw std::invalid_argument("Sam2Tracker: prompt coordinates must be finite");
  // Of more points than the prompt encoder was trained with, the reference keeps the first and
  // the last half (max_point_num_in_prompt_enc).
  if (static_cast<int64_t>(point_labels.size()) > kMaxPromptPoints) {
    const int64_t first = kMaxPromptPoints / 2, last = kMaxPromptPoints - first;
    point_labels.erase(point_labels.begin() + first, point_labels.end() - last);
    coords.erase(coords.begin() + 2 * first, coords.end() - 2 * last);
  }

  torch::NoGradGuard no_grad;
  const auto &features = frame.features[2];
  const auto num_points = static_cast<int64_t>(point_labels.size());
  TrackerPrompt prompt;
  prompt.points = torch::tensor(coords)
                      .view({1, num_points, 2})
                      .mul(static_cast<double>(model_->config().image_size))
                      .to(features.device(), features.scalar_type());
  prompt.labels = torch::tensor(point_labels).view({1, num_points}).to(features.device());

  auto *existing = find(object_id);
  const bool refining = existing != nullptr;
  bool was_tracked = false;
  torch::Tensor previous;
  if (refining) {
    // The reference clamps the previous logits against rare numerical issues (an absent
    // object's are kNoObjectScore).
    if (existing->last_logits_frame == frame.index)
      previous = existing->last_logits.clamp(-kMaskPromptLimit, kMaskPromptLimit)
                     .view({1, 1, mask_size(), mask_size()})
                     .to(features.scalar_type());
    existing->conditioning.erase(frame.index);
    was_tracked = existing->tracked.erase(frame.index) > 0;
  }
  // As the reference's add_new_points_or_box (use_prev_mem_frame off): no memory is read; the
  // clicks and the object's previous logits on the frame (the mask prompt) correct it.
  const auto out = model_->sam_heads(
      model_->features_without_memory(features), {frame.features[0], frame.features[1]}, prompt,
      previous, model_->use_multimask(/*initial_conditioning_frame=*/!was_tracked, num_points));

  if (!refining) {
    TrackedObject object;
    object.id = object_id;
    object.cohort = next_cohort_++;
    objects_.push_back(std::move(object));
    existing = &objects_.back();
  }
  auto touched = condition_cohort(*existing, frame.index, /*whole_cohort=*/true);
  if (refining) {
    // The reference's clear_detector_added_cond_frame_in_tracker: the object's conditioning
    // frames from mask inputs near the refined one stop being conditioning frames, for the
    // whole cohort, so that the correction is not outweighed there; without a selection
    // score they leave the memory selection.
    std::vector<int64_t> cleared;
    for (const auto &[t, e] : existing->conditioning)
      if (e.from_mask && t != frame.index && std::abs(t - frame.index) <= kRefinementWindow)
        cleared.push_back(t);
    for (auto &o : objects_) {
      if (o.cohort != existing->cohort)
        continue;
      for (const auto t : cleared) {
        const auto it = o.conditioning.find(t);
        if (it == o.conditioning.end())
          continue;
        auto downgraded = std::move(it->second);
        downgraded.from_mask = false;
        downgraded.selection_score = -std::numeric_limits<float>::infinity();
        o.tracked[t] = std::move(downgraded);
        o.conditioning.erase(it);
      }
      touched.push_back(&o);
    }
  }
  auto &entry = existing->conditioning[frame.index];
  entry.pointer = out.object_pointers[0].clone();
  entry.object_score = out.object_score_logits[0].item<float>();
  entry.iou = out.iou_scores[0].item<float>();
  existing->last_logits = out.low_res_masks[0];
  existing->last_logits_frame = frame.index;
  // As the reference's preflight after a prompt (_consolidate_temp_output_across_obj): the
  // frame's memory is re-encoded for the whole cohort (its tracker state) from each object's
  // latest prediction there, made not to overlap pixel by pixel at the image size; the memory
  // the loop wrote there for the cohort-mates is replaced.
  std::vector<MemoryEntry *> entries;
  std::vector<torch::Tensor> masks;
  std::vector<float> scores;
  for (auto &o : objects_) {
    if (o.cohort != existing->cohort || o.last_logits_frame != frame.index)
      continue;
    auto e = o.conditioning.find(frame.index);
    if (e == o.conditioning.end())
      continue;
    entries.push_back(&e->second);
    masks.push_back(o.last_logits);
    scores.push_back(e->second.object_score);
  }
  const auto high_res = non_overlap_by_pixel(
      resize(torch::stack(masks).unsqueeze(1), model_->config().image_size).squeeze(1));
  store_memory(frame, entries, prompted_memory_mask(high_res.unsqueeze(1)),
               torch::tensor(scores).to(features.device()), /*binarize=*/true);
  last_frame_ = frame.index;
  trim(*existing);
  for (auto *o : touched)
    trim(*o);

  TrackerPrediction prediction;
  prediction.object_id = object_id;
  prediction.mask_logits = out.low_res_masks[0].to(torch::kFloat32);
  prediction.object_score_logit = entry.object_score;
  prediction.iou_score = entry.iou;
  return prediction;
}

std::vector<Sam2Tracker::TrackedObject *>
Sam2Tracker::condition_cohort(const TrackedObject &object, int64_t frame, bool whole_cohort) {
  std::vector<TrackedObject *> touched;
  for (auto &o : objects_) {
    if (&o != &object && (!whole_cohort || o.cohort != object.cohort))
      continue;
    const auto tracked = o.tracked.find(frame);
    if (tracked == o.tracked.end())
      continue;
    o.conditioning[frame] = std::move(tracked->second);
    o.tracked.erase(tracked);
    touched.push_back(&o);
  }
  return touched;
}

void Sam2Tracker::recondition(int64_t object_id, const TrackerFrame &frame,
                              const torch::Tensor &mask_logits) {
  check_frame(frame, /*new_frame=*/false);
  auto &object = get(object_id);
  if (!mask_logits.defined() && !object.tracked.count(frame.index) &&
      !object.conditioning.count(frame.index))
    throw std::invalid_argument("Sam2Tracker: object " + std::to_string(object_id) +
                                " has no prediction on frame " + std::to_string(frame.index) +
                                " to recondition on");
  // An object already reconditioned on this frame (or moved by a cohort-mate before) keeps
  // its entry.
  const auto touched = condition_cohort(object, frame.index, recondition_cohort_);
  auto &entry = object.conditioning[frame.index];
  if (mask_logits.defined()) {
    torch::NoGradGuard no_grad;
    const auto dtype = frame.features[2].scalar_type();
    const auto mask = input_mask(mask_logits.to(frame.features[2].device())).to(dtype);
    const auto out = model_->mask_as_output(
        frame.features[2], {frame.features[0], frame.features[1]}, mask, transformers_mask_inputs_);
    entry.pointer = out.object_pointers[0].clone();
    entry.object_score = out.object_score_logits[0].item<float>();
    entry.iou = 1.f;
    object.last_logits = out.low_res_masks[0];
    object.last_logits_frame = frame.index;
    // encode_memories() normally rewrites this from the final masks; encoding the detection
    // now keeps the frame readable if it does not.
    store_memory(frame, {&entry}, prompted_memory_mask(mask * 20.0 - 10.0), out.object_score_logits,
                 /*binarize=*/true);
  }
  entry.from_mask = true;
  last_frame_ = frame.index;
  trim(object);
  for (auto *o : touched)
    trim(*o);
}

void Sam2Tracker::encode_memories(const TrackerFrame &frame, const std::vector<int64_t> &object_ids,
                                  const torch::Tensor &mask_logits,
                                  const torch::Tensor &object_score_logits) {
  check_frame(frame, /*new_frame=*/false);
  const auto n = static_cast<int64_t>(object_ids.size());
  const auto s = mask_size();
  if (!mask_logits.defined() || mask_logits.dim() != 3 || mask_logits.size(0) != n ||
      mask_logits.size(1) != s || mask_logits.size(2) != s)
    throw std::invalid_argument("Sam2Tracker: encode_memories needs (" + std::to_string(n) + ", " +
                                std::to_string(s) + ", " + std::to_string(s) +
                                ") mask logits, got " + sizes_of(mask_logits));
  if (!object_score_logits.defined() || object_score_logits.dim() != 1 ||
      object_score_logits.size(0) != n)
    throw std::invalid_argument("Sam2Tracker: encode_memories needs (" + std::to_string(n) +
                                ",) object-score logits, got " + sizes_of(object_score_logits));
  if (n == 0)
    return;
  std::vector<MemoryEntry *> entries;
  std::vector<TrackedObject *> owners;
  for (const auto id : object_ids) {
    auto &object = get(id);
    auto it = object.conditioning.find(frame.index);
    if (it == object.conditioning.end()) {
      it = object.tracked.find(frame.index);
      if (it == object.tracked.end())
        throw std::invalid_argument("Sam2Tracker: object " + std::to_string(id) +
                                    " has no prediction on frame " + std::to_string(frame.index) +
                                    " to encode");
    }
    entries.push_back(&it->second);
    owners.push_back(&object);
  }
  torch::NoGradGuard no_grad;
  // As the video model: the low-res logits straight to the 16g memory-mask size.
  const auto device = frame.features[2].device();
  const auto masks = resize(mask_logits.to(device).unsqueeze(1), 16 * model_->grid());
  store_memory(frame, entries, masks, object_score_logits.to(device), /*binarize=*/false);
  for (auto *o : owners)
    trim(*o);
}

void Sam2Tracker::remove_object(int64_t object_id) {
  const auto it = std::find_if(objects_.begin(), objects_.end(),
                               [object_id](const TrackedObject &o) { return o.id == object_id; });
  if (it == objects_.end())
    throw std::invalid_argument("Sam2Tracker: cannot remove object " + std::to_string(object_id) +
                                ": not tracked");
  objects_.erase(it);
}

void Sam2Tracker::reset() {
  objects_.clear();
  births_frame_ = -1;
  maskmem_pos_ = torch::Tensor();
  last_frame_ = -1;
}

std::vector<int64_t> Sam2Tracker::object_ids() const {
  std::vector<int64_t> ids;
  for (const auto &o : objects_)
    ids.push_back(o.id);
  return ids;
}

int64_t Sam2Tracker::memory_bytes() const {
  const auto bytes = [](const torch::Tensor &t) {
    return t.defined() ? static_cast<int64_t>(t.numel() * t.element_size()) : int64_t{0};
  };
  int64_t total = bytes(maskmem_pos_);
  for (const auto &o : objects_)
    for (const auto *bank : {&o.conditioning, &o.tracked})
      for (const auto &[t, e] : *bank)
        total += bytes(e.maskmem) + bytes(e.pointer);
  return total;
}

} // namespace sam3
