// One video stream's tracking: the video loop (video/tracking_loop.h) on a model's tracker,
// the labels of the stream's concepts, the objects the application prompted, the frame
// numbering and the application's requests, which arrive on other threads and take effect on
// the next frame. A frame goes in as RGB (the session runs the backbone) or as the backbone
// output a detector already computed, with that detector's results; frames come back once the
// loop's output delay has settled them, oldest first. Knows nothing of GStreamer: sam3track
// pairs the frames with its buffers by frame index.
//
// Threads: one thread drives the session (set_model, submit, take_ready, drain, reset); the
// request calls (add_box, add_points, refine_object, remove_object) may come from any thread.
// Each submitted frame runs under the model's run mutex, so sessions and detectors sharing a
// model take turns.
#pragma once

#include "image/image_predictor.h"
#include "image/prompts.h"
#include "model/model.h"
#include "video/tracking_loop.h"

#include <torch/torch.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sam3 {

struct VideoSessionOptions {
  // The loop's rules and output delay (>= 0); video.max_num_objects is the model's own.
  TrackOptions track;
  // Sam2TrackerOptions::use_memory_selection.
  bool memory_selection = true;
  // Sam2TrackerOptions::num_frames: the video's length when known (a file), 0 for a stream.
  int64_t num_frames = 0;
};

// A detector's results on one frame, in the detector's order.
struct VideoDetections {
  torch::Tensor mask_logits;       // (D, s, s) low-resolution mask logits, any device
  std::vector<float> scores;       // (D) probabilities
  std::vector<std::string> labels; // (D) concept texts
};

struct VideoFrame {
  // The frame's size in pixels, the unit of the requests' coordinates; 0: the rgb tensor's.
  int64_t width = 0, height = 0;
  // Either the frame, (H, W, 3) uint8 (the session runs the backbone) ...
  torch::Tensor rgb;
  // ... or the ViT output (1, hidden, grid, grid) the session's model computed for it.
  torch::Tensor backbone;
  // Unset: the detector did not run on this frame, which then only propagates.
  std::optional<VideoDetections> detections;
};

struct SessionObject {
  TrackedObject track;
  std::string label;     // the concept text of track.label
  bool prompted = false; // added by a request rather than born from a detection
};

struct SessionFrame {
  int64_t frame_index = 0;
  std::vector<SessionObject> objects; // ascending object id
};

// What became of one request, applied on a frame.
struct RequestOutcome {
  enum Kind { kAddBox, kAddPoints, kRefine, kRemove } kind = kAddBox;
  int64_t object_id = -1; // the object added, refined or removed
  std::string error;      // why the loop refused it; empty when applied
};

struct SubmitResult {
  int64_t frame_index = 0;
  std::vector<RequestOutcome> requests; // the requests applied on this frame, in order
};

class VideoSession {
public:
  VideoSession() = default;
  VideoSession(const VideoSession &) = delete;
  VideoSession &operator=(const VideoSession &) = delete;

  // Tracks with `model` from the next frame on. Another model than the current one starts
  // over (objects, labels and prompted objects are forgotten; frame indices keep counting):
  // tracker state is only meaningful for the weights that wrote it. The same model again
  // changes nothing. Throws std::invalid_argument for a null or image-only model or a
  // negative output delay.
  void set_model(std::shared_ptr<Model> model, const VideoSessionOptions &options);
  // Null before the first set_model.
  const std::shared_ptr<Model> &model() const { return model_; }

  // Requests for the next submitted frame; coordinates in that frame's pixels, an empty label
  // is "object". add_box throws std::invalid_argument for an empty box. The others are
  // checked when applied (RequestOutcome::error): an unknown id is not an error here.
  void add_box(float x, float y, float width, float height, const std::string &label);
  void add_points(std::vector<ClickPoint> points, const std::string &label);
  void refine_object(int64_t object_id, std::vector<ClickPoint> points);
  void remove_object(int64_t object_id);

  // Tracks one frame, then applies the queued requests on it. Its results, and those of
  // earlier frames it settles, are then ready (take_ready). Throws std::logic_error before
  // set_model, std::invalid_argument for an inconsistent frame (neither rgb nor backbone,
  // detections of mismatched sizes), what the model throws otherwise.
  SubmitResult submit(const VideoFrame &frame);

  // The frames settled so far and not taken yet, oldest first.
  std::vector<SessionFrame> take_ready();

  // End of stream: the ready frames and every frame still held back, oldest first.
  std::vector<SessionFrame> drain();

  // Flush or seek: the objects and the frames held back are forgotten; ids, labels and the
  // frame numbering go on, so nothing after a seek is confused with what came before.
  void reset();

  // The label index of a concept text, registered on first use; indices never change while
  // the model does not.
  int64_t label_index(const std::string &text);
  const std::vector<std::string> &labels() const { return labels_; }

  size_t num_objects() const;
  // Frames submitted whose results are not settled yet.
  size_t frames_held() const;

private:
  struct Request {
    RequestOutcome::Kind kind = RequestOutcome::kAddBox;
    float x = 0, y = 0, w = 0, h = 0;
    std::vector<ClickPoint> points;
    std::string label;
    int64_t object_id = -1;
  };

  void queue(Request request);
  std::vector<RequestOutcome> apply_requests(const TrackerFrame &frame, float width, float height);
  void settle(const std::vector<FrameTracks> &frames);

  std::shared_ptr<Model> model_;
  std::unique_ptr<ImagePredictor> encoder_;
  std::unique_ptr<TrackingLoop> loop_;
  std::vector<std::string> labels_;
  std::set<int64_t> prompted_;
  std::deque<SessionFrame> ready_;
  int64_t next_frame_ = 0;

  std::mutex requests_mutex_;
  std::vector<Request> requests_;
};

} // namespace sam3
