// Per-frame cost of the SAM 2-style tracker on the tiny sam3_video model (random weights),
// CPU: propagate every object one frame, then encode their memories, as the video loop does.
// Printed as a table per object count.
//
//   bench_tracker [--frames N] [--warmup N] [--objects 1,4,16,64] [--model DIR] [--csv]
//
// --model times a sam3_video folder instead (bench/compare_video.py hands both sides the same
// one); --csv prints "objects,propagate ms,encode ms,total ms" lines for such scripts.
// The memory banks are warmed up first so that each timed frame reads a full bank.
#include "common/threads.h"
#include "model/model.h"
#include "model/test_model.h"
#include "tracker/sam2_tracker.h"
#include "tracker/tracker_features.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  int frames = 10, warmup = 20;
  std::vector<int64_t> counts = {1, 4, 16, 64};
  std::string model_dir;
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
    if (a == "--frames")
      frames = std::stoi(v);
    else if (a == "--warmup")
      warmup = std::stoi(v);
    else if (a == "--model")
      model_dir = v;
    else if (a == "--objects") {
      counts.clear();
      for (size_t start = 0; start <= v.size();) {
        const size_t end = std::min(v.find(',', start), v.size());
        counts.push_back(std::stoll(v.substr(start, end - start)));
        start = end + 1;
      }
    } else {
      std::cerr << "unknown option " << a
                << " (--frames N, --warmup N, --objects N,N,..., --model DIR, --csv)\n";
      return 2;
    }
  }
  if (frames < 1 || warmup < 0 ||
      std::any_of(counts.begin(), counts.end(), [](int64_t n) { return n < 1; })) {
    std::cerr << "--frames and --objects must be >= 1 and --warmup >= 0\n";
    return 2;
  }
  torch::NoGradGuard no_grad;
  // SAM3_THREADS, as the elements and bench_detector take it (compare_video.py sets it).
  sam3::use_cpu_threads();
  std::shared_ptr<sam3::Model> model;
  if (!model_dir.empty()) {
    model = sam3::Model::load(model_dir, torch::kCPU, sam3::Precision::kFloat32);
  } else {
    char tmpl[] = "/tmp/sam3-bench-tracker-XXXXXX";
    const char *dir = ::mkdtemp(tmpl);
    if (!dir) {
      std::cerr << "cannot create a temporary folder\n";
      return 1;
    }
    sam3::write_test_model(dir, sam3::tiny_video_test_config(), 0);
    model = sam3::Model::load(dir, torch::kCPU, sam3::Precision::kFloat32);
    std::system((std::string("rm -rf ") + dir).c_str());
  }
  const auto &vit = model->config().detector.vision.backbone;
  const auto frame_at = [&](int64_t index) {
    return sam3::make_tracker_frame(index,
                                    torch::randn({1, vit.hidden_size, vit.grid(), vit.grid()}),
                                    model->tracker_neck(), model->tracker());
  };

  if (!csv) {
    std::printf("%s sam3_video tracker, CPU fp32, %d torch threads; median of %d frames\n",
                model_dir.empty() ? "tiny" : model_dir.c_str(), torch::get_num_threads(), frames);
    std::printf("%8s | %14s | %14s | %14s | %12s\n", "objects", "propagate ms", "encode ms",
                "total ms", "memory KiB");
  }
  for (const int64_t n : counts) {
    sam3::Sam2Tracker tracker(model->tracker());
    const auto s = tracker.mask_size();
    const auto first = frame_at(0);
    for (int64_t id = 0; id < n; ++id) {
      const auto centre = torch::rand({2});
      const auto c = (torch::arange(s).to(torch::kFloat32) + 0.5) / s;
      const auto d = (c.view({1, s}) - centre[0]).pow(2) + (c.view({s, 1}) - centre[1]).pow(2);
      tracker.add_object(id, first, (0.02 - d) * 400.0);
    }
    std::vector<double> propagate_ms, encode_ms;
    for (int64_t t = 1; t <= warmup + frames; ++t) {
      const auto frame = frame_at(t);
      const auto t0 = std::chrono::steady_clock::now();
      const auto predictions = tracker.propagate(frame);
      const auto t1 = std::chrono::steady_clock::now();
      std::vector<torch::Tensor> masks;
      std::vector<float> scores;
      for (const auto &p : predictions) {
        masks.push_back(p.mask_logits);
        scores.push_back(p.object_score_logit);
      }
      tracker.encode_memories(frame, tracker.object_ids(), torch::stack(masks),
                              torch::tensor(scores));
      const auto t2 = std::chrono::steady_clock::now();
      if (t > warmup) {
        propagate_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        encode_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
      }
    }
    const auto p = median(propagate_ms), e = median(encode_ms);
    if (csv) {
      std::printf("%lld,%.4f,%.4f,%.4f\n", static_cast<long long>(n), p, e, p + e);
      continue;
    }
    std::printf("%8lld | %14.2f | %14.2f | %14.2f | %12.1f\n", static_cast<long long>(n), p, e,
                p + e, tracker.memory_bytes() / 1024.0);
  }
  return 0;
}
