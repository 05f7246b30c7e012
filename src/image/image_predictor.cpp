#include "image/image_predictor.h"

#include "common/threads.h"
#include "image/preprocess.h"

#include <algorithm>
#include <stdexcept>

namespace sam3 {
namespace {

// The reference's text for box-only prompts (Sam3Processor.add_geometric_prompt).
constexpr const char *kVisualPrompt = "visual";

} // namespace

ImagePredictor::ImagePredictor(std::shared_ptr<Model> model) : model_(std::move(model)) {
  if (!model_)
    throw std::invalid_argument("ImagePredictor needs a model");
}

EncodedImage ImagePredictor::encode(const torch::Tensor &rgb) {
  use_cpu_threads();
  torch::NoGradGuard no_grad;
  EncodedImage image;
  image.height = rgb.size(0);
  image.width = rgb.size(1);
  auto pixels = preprocess_image(rgb, model_->image_size(), model_->device(), model_->dtype());
  ModelRun run(*model_);
  image.vision = model_->detector()->encode_image(pixels);
  return image;
}

std::vector<Instance> ImagePredictor::detect(const EncodedImage &image,
                                             const std::vector<ConceptPrompt> &prompts,
                                             const DetectOptions &options) {
  use_cpu_threads();
  std::vector<int> text_only, with_boxes;
  for (int i = 0; i < static_cast<int>(prompts.size()); ++i) {
    if (prompts[i].boxes.empty() && prompts[i].text.empty())
      continue;
    (prompts[i].boxes.empty() ? text_only : with_boxes).push_back(i);
  }
  std::vector<Instance> out;
  // Prompts with and without boxes run as separate batches: a batch pads its box lists to
  // the longest, and text-only prompts need none.
  if (!text_only.empty())
    run_group(image, prompts, text_only, false, options, out);
  if (!with_boxes.empty())
    run_group(image, prompts, with_boxes, true, options, out);
  std::stable_sort(out.begin(), out.end(),
                   [](const Instance &a, const Instance &b) { return a.score > b.score; });
  if (options.max_instances > 0 && static_cast<int>(out.size()) > options.max_instances)
    out.resize(options.max_instances);
  return out;
}

std::vector<Instance> ImagePredictor::predict(const torch::Tensor &rgb,
                                              const std::vector<ConceptPrompt> &prompts,
                                              const DetectOptions &options) {
  return detect(encode(rgb), prompts, options);
}

void ImagePredictor::run_group(const EncodedImage &image, const std::vector<ConceptPrompt> &prompts,
                               const std::vector<int> &indices, bool with_boxes,
                               const DetectOptions &options, std::vector<Instance> &out) {
  torch::NoGradGuard no_grad;
  const auto device = model_->device();
  const auto W = static_cast<float>(image.width), H = static_cast<float>(image.height);

  std::vector<torch::Tensor> feats, masks;
  for (int i : indices) {
    const auto &text = prompts[i].text.empty() ? std::string(kVisualPrompt) : prompts[i].text;
    auto f = model_->text_features(text);
    feats.push_back(f.features);
    masks.push_back(f.mask);
  }
  TextFeatures text{torch::cat(feats, 0), torch::cat(masks, 0)};

  BoxPrompts boxes;
  if (with_boxes) {
    size_t n = 0;
    for (int i : indices)
      n = std::max(n, prompts[i].boxes.size());
    const auto B = static_cast<int64_t>(indices.size());
    auto b = torch::zeros({B, static_cast<int64_t>(n), 4});
    auto l = torch::zeros({B, static_cast<int64_t>(n)}, torch::kInt64);
    auto m = torch::zeros({B, static_cast<int64_t>(n)}, torch::kBool);
    for (int64_t r = 0; r < B; ++r) {
      const auto &list = prompts[indices[r]].boxes;
      for (size_t k = 0; k < list.size(); ++k) {
        const auto &e = list[k];
        const float x0 = std::min(e.x0, e.x1), x1 = std::max(e.x0, e.x1);
        const float y0 = std::min(e.y0, e.y1), y1 = std::max(e.y0, e.y1);
        b[r][k][0] = (x0 + x1) * 0.5f / W;
        b[r][k][1] = (y0 + y1) * 0.5f / H;
        b[r][k][2] = (x1 - x0) / W;
        b[r][k][3] = (y1 - y0) / H;
        l[r][k] = e.positive ? 1 : 0;
        m[r][k] = true;
      }
    }
    boxes = {b.to(device), l.to(device), m.to(device)};
  }

  DetectorOutputs res;
  {
    ModelRun run(*model_);
    res = model_->detector()->detect(image.vision, text, boxes);
  }
  auto scores = (torch::sigmoid(res.pred_logits.to(torch::kFloat32)) *
                 torch::sigmoid(res.presence_logits.to(torch::kFloat32)))
                    .cpu();
  auto pred_boxes = res.pred_boxes.to(torch::kFloat32).cpu();
  auto keep = scores > options.threshold;
  auto kept = keep.nonzero().cpu();
  if (kept.size(0) == 0)
    return;
  // Only the kept masks leave the device.
  auto kept_dev = kept.to(device);
  auto mask_logits = res.pred_masks.index({kept_dev.select(1, 0), kept_dev.select(1, 1)})
                         .to(torch::kFloat32)
                         .cpu();
  auto sa = scores.accessor<float, 2>();
  auto ba = pred_boxes.accessor<float, 3>();
  auto ka = kept.accessor<int64_t, 2>();
  for (int64_t k = 0; k < kept.size(0); ++k) {
    const auto r = ka[k][0], q = ka[k][1];
    Instance inst;
    inst.prompt_index = indices[r];
    inst.score = sa[r][q];
    inst.x0 = std::clamp(ba[r][q][0] * W, 0.f, W);
    inst.y0 = std::clamp(ba[r][q][1] * H, 0.f, H);
    inst.x1 = std::clamp(ba[r][q][2] * W, 0.f, W);
    inst.y1 = std::clamp(ba[r][q][3] * H, 0.f, H);
    inst.mask_logits = mask_logits[k];
    out.push_back(std::move(inst));
  }
}

torch::Tensor resize_mask_logits(const torch::Tensor &mask_logits, int64_t frame_width,
                                 int64_t frame_height, int64_t x, int64_t y, int64_t width,
                                 int64_t height) {
  TORCH_CHECK(mask_logits.dim() == 2, "resize_mask_logits expects (h, w) logits");
  TORCH_CHECK(frame_width > 0 && frame_height > 0 && width > 0 && height > 0,
              "resize_mask_logits: empty frame or rectangle");
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  // Pixel centres of the rectangle in the normalised coordinates grid_sample uses; with
  // align_corners = false and border padding this is exactly bilinear upsampling of the
  // whole map followed by a crop.
  auto gx = (torch::arange(width, opts) + (x + 0.5)) * (2.0 / frame_width) - 1.0;
  auto gy = (torch::arange(height, opts) + (y + 0.5)) * (2.0 / frame_height) - 1.0;
  auto grid =
      torch::stack(
          {gx.unsqueeze(0).expand({height, width}), gy.unsqueeze(1).expand({height, width})}, -1)
          .unsqueeze(0);
  namespace F = torch::nn::functional;
  auto logits = mask_logits.to(torch::kFloat32).cpu().unsqueeze(0).unsqueeze(0);
  auto sampled = F::grid_sample(logits, grid,
                                F::GridSampleFuncOptions()
                                    .mode(torch::kBilinear)
                                    .padding_mode(torch::kBorder)
                                    .align_corners(false));
  return sampled[0][0];
}

torch::Tensor mask_probabilities(const torch::Tensor &mask_logits, int64_t frame_width,
                                 int64_t frame_height, int64_t x, int64_t y, int64_t width,
                                 int64_t height) {
  return torch::sigmoid(
      resize_mask_logits(mask_logits, frame_width, frame_height, x, y, width, height));
}

} // namespace sam3
