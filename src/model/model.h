// A loaded SAM 3 release (or generated test model): config, tokenizer and the detector on a
// device in a precision, plus the per-prompt text-feature cache. Elements share one through
// the registry (model/registry.h).
#pragma once

#include "detector/detector.h"
#include "model/config.h"
#include "text/tokenizer.h"
#include "tracker/tracker_model.h"
#include "vision/neck.h"

#include <torch/torch.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace sam3 {

// kAutocastBFloat16 is the official SAM 3's precision: fp32 weights, run under
// torch.autocast(dtype=bfloat16) (matrix products and convolutions in bf16, normalisations,
// softmax and reductions in fp32, as the autocast op lists of the device decide).
enum class Precision { kFloat32, kBFloat16, kFloat16, kAutocastBFloat16 };

// "fp32", "bf16", "fp16", "autocast-bf16" (also "float32", "bfloat16", "float16"); throws
// std::invalid_argument.
Precision parse_precision(const std::string &name);
std::string precision_name(Precision precision);
// The weights' and inputs' dtype (fp32 under autocast).
torch::ScalarType precision_dtype(Precision precision);

// "cpu", "cuda", "cuda:N". Throws std::invalid_argument for an unknown name and
// std::runtime_error when CUDA is asked for but this LibTorch or machine has none, or the
// device index does not exist.
torch::Device parse_device(const std::string &name);

// Where a release's files are. `path` is the release folder or any file inside it
// (config.json, model.safetensors, ...). Throws ModelFileError naming what is missing.
struct ModelFiles {
  std::string dir;
  std::string config;    // config.json
  std::string weights;   // model.safetensors
  std::string tokenizer; // folder or file for Tokenizer::from_path
};
ModelFiles locate_model(const std::string &path);

class Model {
public:
  // Loads and validates everything; throws ModelFileError (bad files) or std::runtime_error.
  // `behaviour`: the official SAM 3 by default; the parity tests ask for transformers'.
  static std::shared_ptr<Model> load(const std::string &path, torch::Device device,
                                     Precision precision, const DetectorBehaviour &behaviour = {});

  const ModelConfig &config() const { return config_; }
  const ModelFiles &files() const { return files_; }
  const Tokenizer &tokenizer() const { return *tokenizer_; }
  Detector &detector() { return detector_; }
  // The SAM 2-style tracker and its neck: present for a "sam3_video" release only; the
  // accessors throw std::logic_error on an image-only model.
  bool has_tracker() const { return static_cast<bool>(tracker_); }
  TrackerModel &tracker();
  VisionNeck &tracker_neck();
  torch::Device device() const { return device_; }
  Precision precision() const { return precision_; }
  torch::ScalarType dtype() const { return precision_dtype(precision_); }
  int64_t image_size() const { return config_.detector.vision.backbone.image_size; }

  // Token features of one prompt text, (1, 32, C) + mask (1, 32), computed once per text.
  TextFeatures text_features(const std::string &text);

  // The detector runs one request at a time per model: elements sharing a model serialise
  // here rather than racing on module state. Runs take it through ModelRun.
  std::recursive_mutex &run_mutex() { return run_mutex_; }

private:
  Model() = default;

  ModelConfig config_;
  ModelFiles files_;
  std::unique_ptr<Tokenizer> tokenizer_;
  Detector detector_{nullptr};
  TrackerModel tracker_{nullptr};
  VisionNeck tracker_neck_{nullptr};
  torch::Device device_{torch::kCPU};
  Precision precision_ = Precision::kFloat32;
  std::mutex text_mutex_;
  std::map<std::string, TextFeatures> text_cache_;
  std::recursive_mutex run_mutex_;
};

// While it lives, the calling thread runs under bf16 autocast for `device_type` when `enabled`
// (autocast is per thread; the outermost scope drops the weight casts autocast cached, and each
// restores what was set before it).
class AutocastScope {
public:
  AutocastScope(c10::DeviceType device_type, bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope &) = delete;
  AutocastScope &operator=(const AutocastScope &) = delete;

private:
  bool enabled_;
  c10::DeviceType device_type_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

// One use of a model by the calling thread, for as long as it lives: holds the model's run
// mutex and, for Precision::kAutocastBFloat16, bf16 autocast on the model's device.
class ModelRun {
public:
  explicit ModelRun(Model &model);

private:
  std::lock_guard<std::recursive_mutex> lock_;
  AutocastScope autocast_;
};

} // namespace sam3
