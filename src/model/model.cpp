#include "model/model.h"

#include "common/allocator.h"
#include "common/layers.h"
#include "io/safetensors.h"
#include "model/weights.h"

#include <ATen/autocast_mode.h>
#include <sys/stat.h>

#include <stdexcept>

namespace sam3 {
namespace {

bool is_dir(const std::string &p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string &p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string lower(std::string s) {
  for (auto &c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Text features are cached per text; a long-running pipeline whose prompt keeps changing
// must not grow without bound.
constexpr size_t kTextCacheLimit = 256;

} // namespace

Precision parse_precision(const std::string &name) {
  const auto n = lower(name);
  if (n == "fp32" || n == "float32")
    return Precision::kFloat32;
  if (n == "bf16" || n == "bfloat16")
    return Precision::kBFloat16;
  if (n == "fp16" || n == "float16")
    return Precision::kFloat16;
  if (n == "autocast-bf16")
    return Precision::kAutocastBFloat16;
  throw std::invalid_argument("unknown precision \"" + name +
                              "\" (expected fp32, bf16, fp16 or autocast-bf16)");
}

std::string precision_name(Precision precision) {
  switch (precision) {
  case Precision::kFloat32:
    return "fp32";
  case Precision::kBFloat16:
    return "bf16";
  case Precision::kFloat16:
    return "fp16";
  case Precision::kAutocastBFloat16:
    return "autocast-bf16";
  }
  return "fp32";
}

torch::ScalarType precision_dtype(Precision precision) {
  switch (precision) {
  case Precision::kFloat32:
    return torch::kFloat32;
  case Precision::kBFloat16:
    return torch::kBFloat16;
  case Precision::kFloat16:
    return torch::kFloat16;
  case Precision::kAutocastBFloat16:
    return torch::kFloat32;
  }
  return torch::kFloat32;
}

torch::Device parse_device(const std::string &name) {
  const auto n = lower(name);
  if (n == "cpu")
    return torch::kCPU;
  if (n.rfind("cuda", 0) != 0)
    throw std::invalid_argument("unknown device \"" + name + "\" (expected cpu, cuda or cuda:N)");
  int64_t index = 0;
  if (n.size() > 4) {
    if (n[4] != ':' || n.size() == 5 || n.find_first_not_of("0123456789", 5) != std::string::npos)
      throw std::invalid_argument("unknown device \"" + name + "\" (expected cpu, cuda or cuda:N)");
    index = std::stoll(n.substr(5));
  }
  if (!torch::cuda::is_available())
    throw std::runtime_error("device \"" + name +
                             "\" asked for, but CUDA is not available (this LibTorch has no CUDA "
                             "support or the machine has no usable GPU)");
  if (index >= static_cast<int64_t>(torch::cuda::device_count()))
    throw std::runtime_error("device \"" + name + "\" does not exist: " +
                             std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

ModelFiles locate_model(const std::string &path) {
  if (path.empty())
    throw ModelFileError("no model given: set it to a SAM 3 release folder (with config.json "
                         "and model.safetensors)");
  ModelFiles files;
  if (is_dir(path)) {
    files.dir = path;
  } else if (is_file(path)) {
    const auto slash = path.find_last_of('/');
    files.dir = slash == std::string::npos ? "." : path.substr(0, slash);
  } else {
    throw ModelFileError(path + ": no such file or folder");
  }
  files.config = files.dir + "/config.json";
  files.weights = files.dir + "/model.safetensors";
  if (is_file(path) && path.size() >= 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0)
    files.weights = path;
  if (!is_file(files.config))
    throw ModelFileError(files.config + ": missing (a SAM 3 model folder holds config.json and "
                                        "model.safetensors)");
  if (!is_file(files.weights))
    throw ModelFileError(files.weights + ": missing (a SAM 3 model folder holds config.json and "
                                         "model.safetensors; convert sam3.pt with "
                                         "tools/convert_sam3_pt.py)");
  files.tokenizer = files.dir;
  return files;
}

std::shared_ptr<Model> Model::load(const std::string &path, torch::Device device,
                                   Precision precision, const DetectorBehaviour &behaviour) {
  if (device.is_cpu())
    keep_activations_in_the_heap();
  std::shared_ptr<Model> model(new Model());
  model->files_ = locate_model(path);
  model->config_ = load_config(model->files_.config);
  model->config_.detector.behaviour = behaviour;
  validate(model->config_.detector);
  model->tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_path(model->files_.tokenizer));
  if (model->tokenizer_->vocab_size() > model->config_.detector.text.vocab_size)
    throw ModelFileError(model->files_.dir + ": the tokenizer has " +
                         std::to_string(model->tokenizer_->vocab_size()) +
                         " symbols but the text encoder only " +
                         std::to_string(model->config_.detector.text.vocab_size));

  torch::NoGradGuard no_grad;
  model->detector_ = Detector(model->config_.detector);
  auto file = SafetensorsFile::open(model->files_.weights);
  const std::string prefix = model->config_.model_type == "sam3_video" ? "detector_model." : "";
  load_weights(*model->detector_, file, prefix);
  model->detector_->eval();
  model->detector_->to(device, precision_dtype(precision));
  if (model->config_.model_type == "sam3_video") {
    validate(model->config_.tracker, model->config_.detector);
    model->tracker_neck_ = VisionNeck(model->config_.detector.vision);
    load_weights(*model->tracker_neck_, file, "tracker_neck.");
    model->tracker_neck_->eval();
    model->tracker_neck_->to(device, precision_dtype(precision));
    model->tracker_ = TrackerModel(model->config_.tracker);
    load_weights(*model->tracker_, file, "tracker_model.");
    model->tracker_->eval();
    model->tracker_->to(device, precision_dtype(precision));
  }
  if (device.is_cpu()) {
    // bf16 autocast computes the products in bf16: the packs hold bf16 copies of the weights.
    const auto compute =
        precision == Precision::kAutocastBFloat16 ? torch::kBFloat16 : precision_dtype(precision);
    pack_linears_for_cpu(*model->detector_, compute);
    if (model->tracker_) {
      pack_linears_for_cpu(*model->tracker_neck_, compute);
      pack_linears_for_cpu(*model->tracker_, compute);
    }
  }
  model->device_ = device;
  model->precision_ = precision;
  return model;
}

TrackerModel &Model::tracker() {
  if (!tracker_)
    throw std::logic_error(files_.dir + ": an image-only (\"sam3\") model has no tracker; "
                                        "video tracking needs a \"sam3_video\" release");
  return tracker_;
}

VisionNeck &Model::tracker_neck() {
  if (!tracker_neck_)
    throw std::logic_error(files_.dir + ": an image-only (\"sam3\") model has no tracker neck; "
                                        "video tracking needs a \"sam3_video\" release");
  return tracker_neck_;
}

TextFeatures Model::text_features(const std::string &text) {
  {
    std::lock_guard<std::mutex> lock(text_mutex_);
    auto it = text_cache_.find(text);
    if (it != text_cache_.end())
      return it->second;
  }
  torch::NoGradGuard no_grad;
  auto tokens = tokenizer_->tokenize_batch({text});
  TextFeatures features;
  {
    ModelRun run(*this);
    features =
        detector_->encode_text(tokens.input_ids.to(device_), tokens.attention_mask.to(device_));
  }
  std::lock_guard<std::mutex> lock(text_mutex_);
  if (text_cache_.size() >= kTextCacheLimit)
    text_cache_.clear();
  text_cache_.emplace(text, features);
  return features;
}

AutocastScope::AutocastScope(c10::DeviceType device_type, bool enabled)
    : enabled_(enabled), device_type_(device_type) {
  if (!enabled_)
    return;
  was_enabled_ = at::autocast::is_autocast_enabled(device_type_);
  was_dtype_ = at::autocast::get_autocast_dtype(device_type_);
  at::autocast::set_autocast_enabled(device_type_, true);
  at::autocast::set_autocast_dtype(device_type_, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!enabled_)
    return;
  if (at::autocast::decrement_nesting() == 0)
    at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_type_, was_enabled_);
  at::autocast::set_autocast_dtype(device_type_, was_dtype_);
}

ModelRun::ModelRun(Model &model)
    : lock_(model.run_mutex()),
      autocast_(model.device().type(), model.precision() == Precision::kAutocastBFloat16) {}

} // namespace sam3
