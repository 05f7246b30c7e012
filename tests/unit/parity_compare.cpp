#include "parity_compare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sam3::parity {
namespace {

bool ends_with(const std::string &name, const std::string &suffix) {
  return name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_logit_stage(const std::string &name) {
  return ends_with(name, "logits") || ends_with(name, "score");
}

} // namespace

std::set<std::string> ParityReport::failing() const {
  std::set<std::string> names;
  for (const auto &s : stages)
    if (!s.pass)
      names.insert(s.name);
  return names;
}

StageResult compare_stage(const std::string &name, const torch::Tensor &ours,
                          const torch::Tensor &ref, Bound bound) {
  StageResult r;
  r.name = name;
  if (ours.sizes() != ref.sizes()) {
    r.problem = "shape " + c10::str(ours.sizes()) + " vs reference " + c10::str(ref.sizes());
    return r;
  }
  if (ref.scalar_type() == torch::kBool || ours.scalar_type() == torch::kBool) {
    const auto mismatches = (ours.to(torch::kBool) != ref.to(torch::kBool)).sum().item<int64_t>();
    r.max_abs = r.max_rel = static_cast<double>(mismatches);
    r.pass = mismatches == 0;
    return r;
  }
  const auto a = ours.to(torch::kCPU, torch::kFloat64);
  const auto b = ref.to(torch::kFloat64);
  const auto diff = (a - b).abs();
  const auto rel = diff / (1.0 + b.abs());
  r.max_ref = b.numel() ? b.abs().max().item<double>() : 0.0;
  r.max_abs = diff.numel() ? diff.max().item<double>() : 0.0;
  r.max_rel = rel.numel() ? rel.max().item<double>() : 0.0;
  // NaN anywhere fails: comparisons with NaN are false.
  if (bound == Bound::kPerElement || (bound == Bound::kByName && is_logit_stage(name))) {
    r.bound = kTolerance;
    r.pass = (rel <= kTolerance).all().item<bool>();
  } else {
    r.bound = kTolerance * (1.0 + r.max_ref);
    r.pass = (diff <= r.bound).all().item<bool>();
  }
  return r;
}

StageResult unmatched_stage(const std::string &name, const std::string &problem) {
  StageResult r;
  r.name = name;
  r.problem = problem;
  return r;
}

void print_report(const ParityReport &report, const std::string &title) {
  std::printf("\nparity: %s (tolerance %.0e: abs <= tol*(1+max|ref|); logits per element "
              "<= tol*(1+|ref|); rel = |d|/(1+|ref|))\n",
              title.c_str(), kTolerance);
  std::printf("%-30s %12s %12s %12s %12s  %s\n", "stage", "max|ref|", "max abs", "max rel", "bound",
              "result");
  for (const auto &s : report.stages) {
    if (!s.problem.empty())
      std::printf("%-30s %s  FAIL\n", s.name.c_str(), s.problem.c_str());
    else
      std::printf("%-30s %12.4e %12.4e %12.4e %12.4e  %s\n", s.name.c_str(), s.max_ref, s.max_abs,
                  s.max_rel, s.bound, s.pass ? "ok" : "FAIL");
  }
  std::fflush(stdout);
}

RankingResult compare_ranking(const std::string &name, int64_t k, const torch::Tensor &logits,
                              const torch::Tensor &presence, const torch::Tensor &masks,
                              const torch::Tensor &ref_logits, const torch::Tensor &ref_presence,
                              const torch::Tensor &ref_masks) {
  auto scores = [](const torch::Tensor &l, const torch::Tensor &p) {
    return l.to(torch::kFloat32).sigmoid() * p.to(torch::kFloat32).reshape({-1, 1}).sigmoid();
  };
  const auto ours = scores(logits, presence), ref = scores(ref_logits, ref_presence);
  if (ours.sizes() != ref.sizes() || masks.sizes() != ref_masks.sizes())
    throw std::runtime_error(name + ": shapes differ from the reference");
  RankingResult r;
  r.name = name;
  r.k = std::min<int64_t>(k, ref.size(1));
  r.prompts = ref.size(0);
  r.max_score_delta = (ours - ref).abs().max().item<double>();
  const auto ours_top = std::get<1>(ours.topk(r.k, 1)), ref_top = std::get<1>(ref.topk(r.k, 1));
  double iou_sum = 0;
  for (int64_t b = 0; b < r.prompts; ++b) {
    r.prompts_same_top_k +=
        torch::equal(std::get<0>(ours_top[b].sort()), std::get<0>(ref_top[b].sort()));
    const auto a = masks[b].index_select(0, ref_top[b]) > 0;
    const auto e = ref_masks[b].index_select(0, ref_top[b]) > 0;
    const auto iou = (a & e).sum({1, 2}).to(torch::kFloat64) /
                     (a | e).sum({1, 2}).to(torch::kFloat64).clamp_min(1);
    r.min_iou = std::min(r.min_iou, iou.min().item<double>());
    iou_sum += iou.sum().item<double>();
  }
  r.mean_iou = iou_sum / static_cast<double>(r.prompts * r.k);
  return r;
}

void print_ranking(const std::vector<RankingResult> &results, const std::string &title) {
  std::printf("\nranking: %s (the k best queries per prompt; their masks' IoU >= %.3f)\n",
              title.c_str(), kBf16MaskIou);
  std::printf("%-22s %3s %12s %16s %10s %10s  %s\n", "outputs", "k", "same top-k",
              "max score delta", "min IoU", "mean IoU", "bound");
  for (const auto &r : results)
    std::printf("%-22s %3lld %7lld / %-3lld %16.4e %10.4f %10.4f  %s\n", r.name.c_str(),
                static_cast<long long>(r.k), static_cast<long long>(r.prompts_same_top_k),
                static_cast<long long>(r.prompts), r.max_score_delta, r.min_iou, r.mean_iou,
                r.pass() ? "met" : "missed");
  std::fflush(stdout);
}

void expect_all_pass(const ParityReport &report) {
  ASSERT_FALSE(report.stages.empty());
  for (const auto &s : report.stages)
    EXPECT_TRUE(s.pass) << s.name << ": "
                        << (s.problem.empty() ? "max abs error " + std::to_string(s.max_abs)
                                              : s.problem);
}

std::string temp_dir() {
  char tmpl[] = "/tmp/sam3-parity-XXXXXX";
  const char *d = mkdtemp(tmpl);
  if (!d)
    throw std::runtime_error("mkdtemp failed");
  return d;
}

void run_tool(const std::string &script, const std::string &arguments, const std::string &log) {
  const char *python = std::getenv("SAM3_PYTHON");
  const char *root = std::getenv("SAM3_SOURCE_ROOT");
  if (!python || !root)
    throw std::runtime_error("SAM3_PYTHON and SAM3_SOURCE_ROOT must be set (meson test sets them)");
  const std::string command = std::string(python) + " " + root + "/tools/" + script + " " +
                              arguments + " > " + log + " 2>&1";
  if (std::system(command.c_str()) != 0) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    throw std::runtime_error(script + " failed:\n" + text.str());
  }
}

StageResult decisive_mask_stage(const std::string &name, const torch::Tensor &ours,
                                const torch::Tensor &ref, double bound) {
  const auto decisive = ref.abs() > bound;
  StageResult r;
  r.name = name;
  r.max_ref = static_cast<double>(decisive.sum().item<int64_t>());
  r.max_abs = static_cast<double>(((ours.gt(0) != ref.gt(0)) & decisive).sum().item<int64_t>());
  r.pass = r.max_abs == 0;
  return r;
}

sam3::DetectorBehaviour transformers_detector_behaviour() {
  sam3::DetectorBehaviour b;
  b.geometry_cls_for_text_only = false;
  b.vit_layer_norm_eps_from_config = true;
  b.clamp_presence_logits = true;
  return b;
}

} // namespace sam3::parity
