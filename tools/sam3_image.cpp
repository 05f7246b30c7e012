// sam3-image --model DIR --prompt TEXT [--prompt TEXT ...] [--box x,y,w,h[,neg] ...]
//            [--device D] [--precision P] [--threshold T] [--mask-threshold T]
//            [--max-instances N] [--json OUT] [--masks] [--overlay OUT.png] IMAGE...
// sam3-image --model DIR --requests FILE [options]
//
// The reference's image example as a program: every instance of each concept, with its
// box, score and mask, as JSON and as a picture.
#include "image/image_predictor.h"
#include "image/prompts.h"
#include "model/registry.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

int usage(const char *argv0, const std::string &why) {
  if (!why.empty())
    std::cerr << argv0 << ": " << why << "\n";
  std::cerr
      << "usage: " << argv0 << " --model DIR --prompt TEXT [options] IMAGE...\n"
      << "       " << argv0
      << " --model DIR --requests FILE [options]\n"
         "  --model DIR          SAM 3 model folder (config.json + model.safetensors)\n"
         "  --prompt TEXT        a concept; repeat or separate with ';' for several\n"
         "  --box x,y,w,h[,neg]  an exemplar box in pixels of the first image (positive\n"
         "                       unless ',neg'); applies to every prompt\n"
         "  --requests FILE      instead of prompts and images: a JSON array of\n"
         "                       {\"image\": PATH, \"prompts\": [{\"text\": T, \"boxes\": "
         "\"x,y,w,h[,neg];...\"}]}\n"
         "                       (each prompt its own text and boxes; one model load for all)\n"
         "  --device D           cpu (default), cuda, cuda:N\n"
         "  --precision P        fp32 (default), bf16, fp16, autocast-bf16\n"
         "  --threshold T        minimum score (default 0.5)\n"
         "  --mask-threshold T   mask probability threshold (default 0.5)\n"
         "  --max-instances N    keep the N best per image (default: all)\n"
         "  --json OUT           write the instances as JSON ('-' for stdout)\n"
         "  --masks              put each instance's full-image mask in the JSON, run-length\n"
         "                       encoded as sam3export writes masks (docs/metadata.md)\n"
         "  --overlay OUT.png    write the image with masks and boxes drawn (several images:\n"
         "                       OUT-0.png, OUT-1.png, ...)\n";
  return 2;
}

cv::Scalar colour(int i) {
  static const cv::Scalar palette[] = {{255, 56, 56},  {255, 157, 151}, {255, 112, 31},
                                       {255, 178, 29}, {207, 210, 49},  {72, 249, 10},
                                       {146, 204, 23}, {61, 219, 134},  {26, 147, 52},
                                       {0, 212, 187},  {44, 153, 168},  {0, 194, 255}};
  const auto &c = palette[i % 12];
  return {c[2], c[1], c[0]};
}

// sam3export's "rle-binary" (docs/metadata.md) over the whole image, so one decoder reads
// both programs' masks: row-major runs, alternating off/on, starting with off.
nlohmann::json rle_mask(const torch::Tensor &binary) {
  const auto h = binary.size(0), w = binary.size(1);
  const auto *p = binary.data_ptr<uint8_t>();
  std::vector<int64_t> counts;
  bool on = false;
  int64_t run = 0;
  for (int64_t i = 0; i < h * w; ++i) {
    if ((p[i] != 0) != on) {
      counts.push_back(run);
      on = !on;
      run = 0;
    }
    ++run;
  }
  counts.push_back(run);
  return {{"width", w},
          {"height", h},
          {"rect", {{"x", 0}, {"y", 0}, {"w", w}, {"h", h}}},
          {"encoding", "rle-binary"},
          {"counts", counts}};
}

// One image and its prompts.
struct Job {
  std::string image;
  std::vector<sam3::ConceptPrompt> concepts;
};

std::vector<Job> read_requests(const std::string &path) {
  std::ifstream f(path);
  if (!f)
    throw std::invalid_argument(path + ": cannot read the requests");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception &e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
  if (!doc.is_array())
    throw std::invalid_argument(path + ": expected a JSON array of requests");
  std::vector<Job> jobs;
  for (size_t n = 0; n < doc.size(); ++n) {
    const auto where = path + ": request " + std::to_string(n);
    const auto &r = doc[n];
    if (!r.is_object() || !r.contains("image") || !r["image"].is_string() ||
        !r.contains("prompts") || !r["prompts"].is_array() || r["prompts"].empty())
      throw std::invalid_argument(where + ": expected {\"image\": PATH, \"prompts\": [...]}");
    Job job{r["image"].get<std::string>(), {}};
    for (const auto &p : r["prompts"]) {
      sam3::ConceptPrompt concept;
      if (!p.is_object())
        throw std::invalid_argument(where + ": a prompt is {\"text\": T, \"boxes\": B}");
      if (p.contains("text"))
      concept.text = p["text"].get<std::string>();
      if (p.contains("boxes"))
      concept.boxes = sam3::parse_exemplar_boxes(p["boxes"].get<std::string>());
      if (concept.text.empty() && concept.boxes.empty())
        throw std::invalid_argument(where + ": a prompt without text or boxes");
      job.concepts.push_back(std::move(concept));
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

} // namespace

int main(int argc, char **argv) {
  std::string model_path, device = "cpu", precision = "fp32", json_out, overlay_out, requests;
  std::vector<std::string> prompts, images;
  std::vector<sam3::ExemplarBox> boxes;
  sam3::DetectOptions options;
  bool with_masks = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--model")
        model_path = value();
      else if (a == "--prompt")
        for (auto &p : sam3::split_prompts(value()))
          prompts.push_back(p);
      else if (a == "--box")
        for (auto &b : sam3::parse_exemplar_boxes(value()))
          boxes.push_back(b);
      else if (a == "--requests")
        requests = value();
      else if (a == "--device")
        device = value();
      else if (a == "--precision")
        precision = value();
      else if (a == "--threshold")
        options.threshold = std::stof(value());
      else if (a == "--mask-threshold")
        options.mask_threshold = std::stof(value());
      else if (a == "--max-instances")
        options.max_instances = std::stoi(value());
      else if (a == "--json")
        json_out = value();
      else if (a == "--masks")
        with_masks = true;
      else if (a == "--overlay")
        overlay_out = value();
      else if (a == "-h" || a == "--help")
        return usage(argv[0], "");
      else if (!a.empty() && a[0] == '-')
        return usage(argv[0], "unknown option " + a);
      else
        images.push_back(a);
    } catch (const std::exception &e) {
      return usage(argv[0], e.what());
    }
  }
  if (model_path.empty())
    return usage(argv[0], "no --model given");
  std::vector<Job> jobs;
  if (!requests.empty()) {
    if (!prompts.empty() || !boxes.empty() || !images.empty())
      return usage(argv[0], "--requests replaces --prompt, --box and the images");
    try {
      jobs = read_requests(requests);
    } catch (const std::exception &e) {
      return usage(argv[0], e.what());
    }
  } else {
    if (prompts.empty() && boxes.empty())
      return usage(argv[0], "no --prompt (or --box) given");
    if (images.empty())
      return usage(argv[0], "no image given");
    std::vector<sam3::ConceptPrompt> concepts;
    for (const auto &p : prompts)
      concepts.push_back({p, boxes});
    if (concepts.empty())
      concepts.push_back({"", boxes});
    for (const auto &image : images)
      jobs.push_back({image, concepts});
  }

  nlohmann::json results = nlohmann::json::array();
  try {
    auto model = sam3::acquire_model(model_path, device, sam3::parse_precision(precision));
    sam3::ImagePredictor predictor(model);
    for (size_t n = 0; n < jobs.size(); ++n) {
      const auto &concepts = jobs[n].concepts;
      cv::Mat bgr = cv::imread(jobs[n].image, cv::IMREAD_COLOR);
      if (bgr.empty())
        throw std::runtime_error(jobs[n].image + ": cannot read the image");
      cv::Mat rgb;
      cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
      auto tensor = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8);
      auto instances = predictor.predict(tensor, concepts, options);

      nlohmann::json image = {{"image", jobs[n].image},
                              {"width", rgb.cols},
                              {"height", rgb.rows},
                              {"instances", nlohmann::json::array()}};
      cv::Mat canvas = bgr.clone();
      for (size_t k = 0; k < instances.size(); ++k) {
        const auto &inst = instances[k];
        const auto &label = concepts[inst.prompt_index].text;
        auto probs = sam3::mask_probabilities(inst.mask_logits, rgb.cols, rgb.rows, 0, 0, rgb.cols,
                                              rgb.rows);
        auto binary = (probs > options.mask_threshold).to(torch::kUInt8).contiguous();
        const auto area = binary.sum().item<int64_t>();
        image["instances"].push_back({{"id", k},
                                      {"label", label},
                                      {"prompt_index", inst.prompt_index},
                                      {"score", inst.score},
                                      {"box_xyxy", {inst.x0, inst.y0, inst.x1, inst.y1}},
                                      {"mask_area", area}});
        if (with_masks)
          image["instances"].back()["mask"] = rle_mask(binary);
        if (!overlay_out.empty()) {
          cv::Mat mask(rgb.rows, rgb.cols, CV_8U, binary.data_ptr<uint8_t>());
          cv::Mat tint(canvas.size(), canvas.type(), colour(static_cast<int>(k)));
          cv::Mat blended;
          cv::addWeighted(canvas, 0.5, tint, 0.5, 0, blended);
          blended.copyTo(canvas, mask);
          cv::rectangle(canvas, cv::Point2f(inst.x0, inst.y0), cv::Point2f(inst.x1, inst.y1),
                        colour(static_cast<int>(k)), 2);
          char text[256];
          std::snprintf(text, sizeof text, "%s %.2f", label.c_str(), inst.score);
          cv::putText(canvas, text, cv::Point2f(inst.x0 + 2, std::max(12.f, inst.y0 - 4)),
                      cv::FONT_HERSHEY_SIMPLEX, 0.5, colour(static_cast<int>(k)), 1, cv::LINE_AA);
        }
      }
      if (!overlay_out.empty()) {
        std::string path = overlay_out;
        if (jobs.size() > 1) {
          const auto dot = path.find_last_of('.');
          path = path.substr(0, dot) + "-" + std::to_string(n) +
                 (dot == std::string::npos ? ".png" : path.substr(dot));
        }
        if (!cv::imwrite(path, canvas))
          throw std::runtime_error(path + ": cannot write the overlay");
      }
      std::cerr << jobs[n].image << ": " << instances.size() << " instance(s)\n";
      results.push_back(image);
    }
  } catch (const std::exception &e) {
    std::cerr << argv[0] << ": " << e.what() << "\n";
    return 1;
  }
  if (!json_out.empty()) {
    const auto doc = results.dump(2) + "\n";
    if (json_out == "-") {
      std::cout << doc;
    } else {
      std::ofstream f(json_out);
      f << doc;
      if (!f) {
        std::cerr << argv[0] << ": " << json_out << ": cannot write\n";
        return 1;
      }
    }
  }
  return 0;
}
