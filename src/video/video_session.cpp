#include "video/video_session.h"

#include "tracker/sam2_tracker.h"
#include "tracker/tracker_features.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace sam3 {

void VideoSession::set_model(std::shared_ptr<Model> model, const VideoSessionOptions &options) {
  if (!model)
    throw std::invalid_argument("VideoSession needs a model");
  if (model == model_)
    return;
  if (!model->has_tracker())
    throw std::invalid_argument("the model (model_type \"" + model->config().model_type +
                                "\") has no tracker; video tracking needs a sam3_video release "
                                "such as facebook/sam3");
  Sam2TrackerOptions tracker_options;
  tracker_options.use_memory_selection = options.memory_selection;
  tracker_options.num_frames = options.num_frames;
  auto tracker = std::make_shared<Sam2Tracker>(model->tracker(), tracker_options);
  TrackOptions track = options.track;
  // Thresholds come from the caller; the model's file supplies only its object limit.
  track.video.max_num_objects = model->config().video.max_num_objects;
  auto loop = std::make_unique<TrackingLoop>(track, tracker);
  encoder_ = std::make_unique<ImagePredictor>(model);
  loop_ = std::move(loop);
  model_ = std::move(model);
  labels_.clear();
  prompted_.clear();
}

void VideoSession::queue(Request request) {
  std::lock_guard<std::mutex> lock(requests_mutex_);
  requests_.push_back(std::move(request));
}

void VideoSession::add_box(float x, float y, float width, float height, const std::string &label) {
  if (!(width > 0 && height > 0)) {
    char text[96];
    std::snprintf(text, sizeof text, "the box %gx%g is empty", width, height);
    throw std::invalid_argument(text);
  }
  Request r;
  r.kind = RequestOutcome::kAddBox;
  r.x = x;
  r.y = y;
  r.w = width;
  r.h = height;
  r.label = label.empty() ? "object" : label;
  queue(std::move(r));
}

void VideoSession::add_points(std::vector<ClickPoint> points, const std::string &label) {
  Request r;
  r.kind = RequestOutcome::kAddPoints;
  r.points = std::move(points);
  r.label = label.empty() ? "object" : label;
  queue(std::move(r));
}

void VideoSession::refine_object(int64_t object_id, std::vector<ClickPoint> points) {
  Request r;
  r.kind = RequestOutcome::kRefine;
  r.points = std::move(points);
  r.object_id = object_id;
  queue(std::move(r));
}

void VideoSession::remove_object(int64_t object_id) {
  Request r;
  r.kind = RequestOutcome::kRemove;
  r.object_id = object_id;
  queue(std::move(r));
}

int64_t VideoSession::label_index(const std::string &text) {
  auto it = std::find(labels_.begin(), labels_.end(), text);
  if (it != labels_.end())
    return it - labels_.begin();
  labels_.push_back(text);
  return static_cast<int64_t>(labels_.size()) - 1;
}

SubmitResult VideoSession::submit(const VideoFrame &input) {
  if (!model_)
    throw std::logic_error("VideoSession::submit before set_model");
  if (!input.backbone.defined() && !input.rgb.defined())
    throw std::invalid_argument("a video frame needs its RGB pixels or its backbone features");
  const bool rgb_size = input.rgb.defined() && input.rgb.dim() == 3;
  const float width = static_cast<float>(input.width > 0 ? input.width
                                         : rgb_size      ? input.rgb.size(1)
                                                         : 0);
  const float height = static_cast<float>(input.height > 0 ? input.height
                                          : rgb_size       ? input.rgb.size(0)
                                                           : 0);
  if (!(width > 0 && height > 0))
    throw std::invalid_argument("a video frame given as backbone features needs its size");

  ModelRun run(*model_);
  torch::NoGradGuard no_grad;
  const torch::Tensor backbone =
      input.backbone.defined() ? input.backbone : encoder_->encode(input.rgb).vision.backbone;
  SubmitResult result;
  result.frame_index = next_frame_++;
  TrackerFrame frame =
      make_tracker_frame(result.frame_index, backbone, model_->tracker_neck(), model_->tracker());
  frame.width = static_cast<int64_t>(width);
  frame.height = static_cast<int64_t>(height);

  FrameDetections detections;
  if (input.detections) {
    const VideoDetections &d = *input.detections;
    for (const auto &text : d.labels)
      detections.labels.push_back(label_index(text));
    if (d.mask_logits.defined())
      detections.mask_logits = d.mask_logits.to(model_->device(), torch::kFloat);
    detections.scores = torch::tensor(d.scores).to(model_->device());
  } else {
    detections.detector_ran = false;
  }
  const std::vector<FrameTracks> settled = loop_->process(frame, detections);
  result.requests = apply_requests(frame, width, height);
  settle(settled);
  return result;
}

std::vector<RequestOutcome> VideoSession::apply_requests(const TrackerFrame &frame, float width,
                                                         float height) {
  std::vector<Request> requests;
  {
    std::lock_guard<std::mutex> lock(requests_mutex_);
    requests.swap(requests_);
  }
  const auto device = model_->device();
  std::vector<RequestOutcome> outcomes;
  for (const auto &r : requests) {
    auto points = [&]() {
      auto xy = torch::empty({static_cast<int64_t>(r.points.size()), 2});
      auto labels = torch::empty({static_cast<int64_t>(r.points.size())}, torch::kInt64);
      for (size_t i = 0; i < r.points.size(); i++) {
        xy[i][0] = r.points[i].x / width;
        xy[i][1] = r.points[i].y / height;
        labels[i] = r.points[i].positive ? 1 : 0;
      }
      return std::make_pair(xy.to(device), labels.to(device));
    };
    RequestOutcome outcome;
    outcome.kind = r.kind;
    outcome.object_id = r.object_id;
    try {
      switch (r.kind) {
      case RequestOutcome::kAddBox: {
        auto box =
            torch::tensor({r.x / width, r.y / height, (r.x + r.w) / width, (r.y + r.h) / height})
                .to(device);
        outcome.object_id = loop_->add_object(frame, {}, {}, box, label_index(r.label));
        prompted_.insert(outcome.object_id);
        break;
      }
      case RequestOutcome::kAddPoints: {
        auto [xy, labels] = points();
        outcome.object_id = loop_->add_object(frame, xy, labels, {}, label_index(r.label));
        prompted_.insert(outcome.object_id);
        break;
      }
      case RequestOutcome::kRefine: {
        auto [xy, labels] = points();
        if (loop_->refine_object(r.object_id, frame, xy, labels))
          prompted_.insert(r.object_id); // a removed object brought back by the clicks
        break;
      }
      case RequestOutcome::kRemove:
        loop_->remove_object(r.object_id);
        break;
      }
    } catch (const std::invalid_argument &e) {
      outcome.error = e.what();
    }
    outcomes.push_back(std::move(outcome));
  }
  return outcomes;
}

void VideoSession::settle(const std::vector<FrameTracks> &frames) {
  for (const auto &tracks : frames) {
    SessionFrame out;
    out.frame_index = tracks.frame_index;
    for (const auto &object : tracks.objects)
      out.objects.push_back({object, labels_.at(static_cast<size_t>(object.label)),
                             prompted_.count(object.object_id) > 0});
    ready_.push_back(std::move(out));
  }
}

std::vector<SessionFrame> VideoSession::take_ready() {
  std::vector<SessionFrame> out(std::make_move_iterator(ready_.begin()),
                                std::make_move_iterator(ready_.end()));
  ready_.clear();
  return out;
}

std::vector<SessionFrame> VideoSession::drain() {
  if (loop_)
    settle(loop_->flush());
  return take_ready();
}

void VideoSession::reset() {
  ready_.clear();
  if (loop_)
    loop_->reset();
}

size_t VideoSession::num_objects() const {
  return loop_ ? loop_->num_objects() : 0;
}

size_t VideoSession::frames_held() const {
  return loop_ ? loop_->frames_held() : 0;
}

} // namespace sam3
