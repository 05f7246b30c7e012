// What the parity tests share: comparing one stage of ours with transformers' reference
// under the stated tolerance (docs/parity.md), printing the per-stage table, and running a
// reference generator from tools/ with the project's Python.
#pragma once

#include "model/config.h"

#include <torch/torch.h>

#include <set>
#include <string>
#include <vector>

namespace sam3::parity {

// Per stage, |ours - reference| must stay within kTolerance * (1 + max|reference|): fp32
// kernels in different libraries (and orders of summation) differ by a few ulps per op, and
// the scale term keeps large-magnitude stages from failing on rounding alone. Logit stages
// decide scores, so there the bound applies element by element: kTolerance * (1 + |ref_i|).
constexpr double kTolerance = 1e-4;

struct StageResult {
  std::string name;
  std::string problem; // empty when the stage could be compared
  double max_ref = 0, max_abs = 0, max_rel = 0, bound = 0;
  bool pass = false;
};

struct ParityReport {
  std::vector<StageResult> stages;
  std::set<std::string> failing() const;
};

// How a stage is bounded: as a whole (max|d| <= kTolerance * (1 + max|ref|)), or element by
// element (|d_i| <= kTolerance * (1 + |ref_i|)); kByName: element by element for a stage whose
// name ends in "logits" or "score", as a whole otherwise.
enum class Bound { kByName, kWhole, kPerElement };
StageResult compare_stage(const std::string &name, const torch::Tensor &ours,
                          const torch::Tensor &ref, Bound bound = Bound::kByName);

// The masks (logits > 0) of a stage compared with `bound`, the bound its logits were held to:
// every pixel whose reference logit lies farther from 0 than the bound must agree (nearer
// pixels may flip within tolerance). max_ref counts the decisive pixels, max_abs those that
// differ.
StageResult decisive_mask_stage(const std::string &name, const torch::Tensor &ours,
                                const torch::Tensor &ref, double bound);
// A stage that could not be compared (it exists on one side only): always a failure.
StageResult unmatched_stage(const std::string &name, const std::string &problem);

void print_report(const ParityReport &report, const std::string &title);

// bf16 on both sides holds no per-stage bound (each library rounds in its own order, and the
// roundings compound over the layers), so bf16 is judged as a user sees it: per prompt, are
// the k best queries by score (sigmoid(logit) x sigmoid(presence)) the same set, and do the
// masks (logits > 0) of the reference's k best match with IoU >= kBf16MaskIou (the bound met).
constexpr double kBf16MaskIou = 0.995;

struct RankingResult {
  std::string name;
  int64_t k = 0;
  int64_t prompts = 0, prompts_same_top_k = 0;
  double max_score_delta = 0, min_iou = 1, mean_iou = 1;
  bool pass() const { return prompts_same_top_k == prompts && min_iou >= kBf16MaskIou; }
};

// logits, presence: (B, Q) and (B, 1); masks: (B, Q, H, W) mask logits.
RankingResult compare_ranking(const std::string &name, int64_t k, const torch::Tensor &logits,
                              const torch::Tensor &presence, const torch::Tensor &masks,
                              const torch::Tensor &ref_logits, const torch::Tensor &ref_presence,
                              const torch::Tensor &ref_masks);
void print_ranking(const std::vector<RankingResult> &results, const std::string &title);

// Every stage passed (a gtest expectation per failing stage).
void expect_all_pass(const ParityReport &report);

// The detector as transformers composes it where it departs from the official SAM 3.
sam3::DetectorBehaviour transformers_detector_behaviour();

// A fresh folder under /tmp.
std::string temp_dir();

// Runs tools/<script> with the project's Python (SAM3_PYTHON, SAM3_SOURCE_ROOT: meson test
// sets them) and `arguments`; throws with the script's output when it fails.
void run_tool(const std::string &script, const std::string &arguments, const std::string &log);

} // namespace sam3::parity
