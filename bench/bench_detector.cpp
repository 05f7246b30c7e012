// Per-stage latency of the SAM 3 detector, printed as a table.
//
//   bench_detector [--preset tiny|full | --model DIR] [--device cpu|cuda]
//                  [--precision fp32|bf16|fp16|autocast-bf16] [--iterations N] [--warmup N] [--csv]
//                  [--profile TRACE.json]
//
// Without --model the weights are random (model/test_model.h); speed does not depend on their
// values. --model loads a model folder (bench/compare_detector.py passes the folder it also
// gives transformers). --csv prints "stage,median_ms,min_ms" lines instead of the table.
// --profile runs one more frame (vision encoder, text encoder, heads with the text prompt) under
// LibTorch's profiler and writes its operators as a Chrome trace (bench/compare_detector.py
// --profile sets them beside transformers').
#include "common/threads.h"
#include "detector/detector.h"
#include "image/preprocess.h"
#include "model/model.h"
#include "model/test_model.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace {

void sync(torch::Device device) {
#ifdef SAM3_HAVE_CUDA
  if (device.is_cuda())
    torch::cuda::synchronize(device.index());
#else
  (void)device;
#endif
}

struct Stats {
  std::vector<double> ms;
  double median() {
    std::sort(ms.begin(), ms.end());
    return ms.empty() ? 0 : ms[ms.size() / 2];
  }
  double min() { return ms.empty() ? 0 : *std::min_element(ms.begin(), ms.end()); }
};

} // namespace

int main(int argc, char **argv) {
  std::string preset = "tiny", device_name = "cpu", precision_name = "fp32", model_dir, profile;
  int iterations = 5, warmup = 1;
  bool csv = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--csv") {
      csv = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << a << " needs a value\n";
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--model")
      model_dir = v;
    else if (a == "--preset")
      preset = v;
    else if (a == "--device")
      device_name = v;
    else if (a == "--precision")
      precision_name = v;
    else if (a == "--iterations")
      iterations = std::stoi(v);
    else if (a == "--warmup")
      warmup = std::stoi(v);
    else if (a == "--profile")
      profile = v;
    else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  try {
    const auto device = sam3::parse_device(device_name);
    const auto precision = sam3::parse_precision(precision_name);
    const auto dtype = sam3::precision_dtype(precision);
    sam3::use_cpu_threads();
    torch::NoGradGuard no_grad;
    torch::manual_seed(0);
    std::shared_ptr<sam3::Model> model;
    sam3::Detector det{nullptr};
    torch::Tensor ids, mask;
    if (!model_dir.empty()) {
      model = sam3::Model::load(model_dir, device, precision);
      det = model->detector();
      auto tokens = model->tokenizer().tokenize_batch({"a cat"});
      ids = tokens.input_ids.to(device);
      mask = tokens.attention_mask.to(device);
      preset = model_dir;
    } else {
      const auto config = preset == "full" ? sam3::full_test_config() : sam3::tiny_test_config();
      det = sam3::Detector(config.detector);
      det->eval();
      det->to(device, dtype);
      ids = torch::randint(1, 1000, {1, 32}, torch::kInt64).to(device);
      mask = torch::ones({1, 32}, torch::kInt64).to(device);
    }

    const auto size = det->config().vision.backbone.image_size;
    auto frame = torch::randint(0, 256, {720, 1280, 3}, torch::kUInt8);
    sam3::BoxPrompts boxes{torch::tensor({{{0.5f, 0.5f, 0.2f, 0.3f}}}).to(device),
                           torch::ones({1, 1}, torch::kInt64).to(device),
                           torch::ones({1, 1}, torch::kBool).to(device)};

    const sam3::AutocastScope autocast(device.type(),
                                       precision == sam3::Precision::kAutocastBFloat16);
    std::map<std::string, Stats> stats;
    std::vector<std::string> order = {"preprocess (1280x720)",        "vision encoder (ViT + neck)",
                                      "text encoder (1 prompt)",      "detector heads, text",
                                      "detector heads, text + 1 box", "total, text"};
    auto time = [&](const std::string &name, const std::function<void()> &fn, bool record) {
      sync(device);
      const auto t0 = std::chrono::steady_clock::now();
      fn();
      sync(device);
      const auto t1 = std::chrono::steady_clock::now();
      if (record)
        stats[name].ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    };
    for (int it = 0; it < warmup + iterations; ++it) {
      const bool rec = it >= warmup;
      torch::Tensor pixels;
      sam3::VisionFeatures vision;
      sam3::TextFeatures text;
      const auto t0 = std::chrono::steady_clock::now();
      time(
          order[0], [&] { pixels = sam3::preprocess_image(frame, size, device, dtype); }, rec);
      time(
          order[1], [&] { vision = det->encode_image(pixels); }, rec);
      time(
          order[2], [&] { text = det->encode_text(ids, mask); }, rec);
      time(
          order[3], [&] { det->detect(vision, text); }, rec);
      const auto t1 = std::chrono::steady_clock::now();
      time(
          order[4], [&] { det->detect(vision, text, boxes); }, rec);
      if (rec)
        stats[order[5]].ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }

    if (!profile.empty()) {
      namespace prof = torch::autograd::profiler;
      using torch::profiler::impl::ActivityType;
      auto pixels = sam3::preprocess_image(frame, size, device, dtype);
      // With the operators' input shapes (and strides), so that a slow operator can be told
      // from a slow layout.
      const torch::profiler::impl::ProfilerConfig config(
          torch::profiler::impl::ProfilerState::KINETO, /*report_input_shapes=*/true);
      prof::prepareProfiler(config, {ActivityType::CPU});
      prof::enableProfiler(config, {ActivityType::CPU});
      det->detect(det->encode_image(pixels), det->encode_text(ids, mask));
      sync(device);
      prof::disableProfiler()->save(profile);
    }

    if (csv) {
      for (const auto &name : order)
        std::printf("%s,%.3f,%.3f\n", name.c_str(), stats[name].median(), stats[name].min());
      return 0;
    }
    std::printf("SAM 3 detector, %s, %s, %s, input %lldx%lld, %d threads, %d iterations\n\n",
                preset.c_str(), device.str().c_str(), precision_name.c_str(), (long long)size,
                (long long)size, at::get_num_threads(), iterations);
    std::printf("| %-30s | %12s | %12s |\n", "stage", "median ms", "min ms");
    std::printf("|%s|%s|%s|\n", std::string(32, '-').c_str(), std::string(14, '-').c_str(),
                std::string(14, '-').c_str());
    for (const auto &name : order)
      std::printf("| %-30s | %12.2f | %12.2f |\n", name.c_str(), stats[name].median(),
                  stats[name].min());
  } catch (const std::exception &e) {
    std::cerr << "bench_detector: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
