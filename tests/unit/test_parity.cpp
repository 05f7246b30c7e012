// Numerical parity of the detector with transformers' Sam3Model: the goldens in
// tests/parity/tiny (a generated model folder plus reference.safetensors written by
// tools/make_reference.py) hold fixed inputs and every intermediate stage; libsam3 runs the
// same inputs stage by stage and each stage must match within tolerance (docs/parity.md).
//
// The comparison itself is tested on goldens libsam3 writes on the fly: its own output must
// pass and a model with one changed weight must fail at the right stages.
#include "detector/detector.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/test_model.h"
#include "model/weights.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

// Per stage, |ours - reference| must stay within kTolerance * (1 + max|reference|): fp32
// kernels in different libraries (and orders of summation) differ by a few ulps per op, and
// the scale term keeps large-magnitude stages from failing on rounding alone. Logit stages
// decide scores, so there the bound applies element by element: kTolerance * (1 + |ref_i|).
constexpr double kTolerance = 1e-4;

const std::vector<std::string> kInputNames = {"pixel_values", "input_ids", "attention_mask",
                                              "input_boxes", "input_boxes_labels"};
// The prompts and boxes tools/make_reference.py uses; the self-made goldens use them too so
// that both kinds of golden exercise the same paths (padding box included).
const std::vector<std::string> kPrompts = {"a cat", "red car on the left"};
const std::vector<float> kInputBoxes = {0.40f, 0.45f, 0.30f, 0.50f, 0.70f, 0.30f, 0.20f, 0.25f,
                                        0.55f, 0.60f, 0.50f, 0.40f, 0.10f, 0.10f, 0.05f, 0.05f};
const std::vector<int64_t> kInputBoxesLabels = {1, 0, 1, -10};
constexpr int64_t kPixelSeed = 0;

bool is_file(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string temp_dir() {
  char tmpl[] = "/tmp/sam3-parity-XXXXXX";
  const char *d = mkdtemp(tmpl);
  if (!d)
    throw std::runtime_error("mkdtemp failed");
  return d;
}

void copy_file(const std::string &from, const std::string &to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
  if (!in || !out)
    throw std::runtime_error("cannot copy " + from + " to " + to);
}

struct ParityInputs {
  torch::Tensor pixel_values;       // (1,3,S,S) float
  torch::Tensor input_ids;          // (B,32) int64
  torch::Tensor attention_mask;     // (B,32) int64, 1 = token
  torch::Tensor input_boxes;        // (B,N,4) cxcywh normalised
  torch::Tensor input_boxes_labels; // (B,N) int64: 1, 0, or -10 = padding (transformers)
};

ParityInputs read_inputs(const sam3::SafetensorsFile &file) {
  for (const auto &name : kInputNames)
    if (!file.has(name))
      throw std::runtime_error(file.path() + ": no input tensor \"" + name + "\"");
  return {file.tensor("pixel_values").to(torch::kFloat32), file.tensor("input_ids"),
          file.tensor("attention_mask"), file.tensor("input_boxes").to(torch::kFloat32),
          file.tensor("input_boxes_labels")};
}

// Encoder and decoder stages for one prompt, named as make_reference.py names them.
void run_heads(sam3::Detector &detector, const std::vector<torch::Tensor> &fpn,
               const std::vector<torch::Tensor> &pos, const torch::Tensor &prompt,
               const torch::Tensor &prompt_mask, const std::string &prefix,
               std::map<std::string, torch::Tensor> &out) {
  auto encoded = detector->detr_encoder->forward(fpn.back(), pos.back(), prompt, prompt_mask);
  auto decoded = detector->detr_decoder->forward(encoded.memory, encoded.pos, encoded.height,
                                                 encoded.width, prompt, prompt_mask);
  out[prefix + "encoder.memory"] = encoded.memory;
  out[prefix + "decoder.hidden_states"] = decoded.hidden_states;
  out[prefix + "decoder.reference_boxes"] = decoded.reference_boxes;
  out[prefix + "decoder.presence_logits"] = decoded.presence_logits;
}

void add_outputs(const sam3::DetectorOutputs &o, const std::string &prefix,
                 std::map<std::string, torch::Tensor> &out) {
  out[prefix + "pred_masks"] = o.pred_masks;
  out[prefix + "pred_boxes"] = o.pred_boxes;
  out[prefix + "pred_logits"] = o.pred_logits;
  out[prefix + "presence_logits"] = o.presence_logits;
  out[prefix + "semantic_seg"] = o.semantic_seg;
}

// Every stage the goldens hold, computed by libsam3. The final outputs come from
// Detector::detect itself (the path the elements run); the intermediates from its blocks,
// composed as detect() composes them.
std::map<std::string, torch::Tensor> run_stages(sam3::Detector &detector, const ParityInputs &in) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> out;
  auto vision = detector->encode_image(in.pixel_values);
  out["vision.backbone"] = vision.backbone;
  for (size_t i = 0; i < vision.fpn.size(); ++i) {
    out["vision.fpn." + std::to_string(i)] = vision.fpn[i];
    out["vision.fpn_pos." + std::to_string(i)] = vision.fpn_pos[i];
  }
  auto text = detector->encode_text(in.input_ids, in.attention_mask);
  out["text.features"] = text.features;
  out["text.mask"] = text.mask;

  const auto batch = in.input_ids.size(0);
  std::vector<torch::Tensor> fpn, pos;
  for (size_t i = 0; i + 1 < vision.fpn.size(); ++i) {
    fpn.push_back(vision.fpn[i].expand({batch, -1, -1, -1}));
    pos.push_back(vision.fpn_pos[i].expand({batch, -1, -1, -1}));
  }

  run_heads(detector, fpn, pos, text.features, text.mask, "", out);
  add_outputs(detector->detect(vision, text), "text.", out);

  const auto padding = in.input_boxes_labels == -10;
  sam3::BoxPrompts boxes{
      in.input_boxes,
      torch::where(padding, torch::zeros_like(in.input_boxes_labels), in.input_boxes_labels),
      padding.logical_not()};
  auto geometry = detector->geometry_encoder->forward(boxes.boxes, boxes.mask, boxes.labels,
                                                      fpn.back(), pos.back());
  out["geometry.prompt"] = geometry.prompt;
  out["geometry.mask"] = geometry.mask;
  run_heads(detector, fpn, pos, torch::cat({text.features, geometry.prompt}, 1),
            torch::cat({text.mask, geometry.mask}, 1), "boxes.", out);
  add_outputs(detector->detect(vision, text, boxes), "boxes.", out);
  return out;
}

struct StageResult {
  std::string name;
  std::string problem; // empty when the stage could be compared
  double max_ref = 0, max_abs = 0, max_rel = 0, bound = 0;
  bool pass = false;
};

struct ParityReport {
  std::vector<StageResult> stages;
  std::set<std::string> failing() const {
    std::set<std::string> names;
    for (const auto &s : stages)
      if (!s.pass)
        names.insert(s.name);
    return names;
  }
};

bool is_logit_stage(const std::string &name) {
  return name.size() >= 6 && name.compare(name.size() - 6, 6, "logits") == 0;
}

StageResult compare_stage(const std::string &name, const torch::Tensor &ours,
                          const torch::Tensor &ref) {
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
  if (is_logit_stage(name)) {
    r.bound = kTolerance;
    r.pass = (rel <= kTolerance).all().item<bool>();
  } else {
    r.bound = kTolerance * (1.0 + r.max_ref);
    r.pass = (diff <= r.bound).all().item<bool>();
  }
  return r;
}

// Every stage either side has (inputs aside) is compared; a stage only one side has fails.
ParityReport compare_stages(const std::map<std::string, torch::Tensor> &ours,
                            const sam3::SafetensorsFile &reference) {
  ParityReport report;
  const std::set<std::string> inputs(kInputNames.begin(), kInputNames.end());
  for (const auto &[name, tensor] : ours) {
    if (!reference.has(name)) {
      StageResult r;
      r.name = name;
      r.problem = "missing from the reference";
      report.stages.push_back(r);
      continue;
    }
    report.stages.push_back(compare_stage(name, tensor, reference.tensor(name)));
  }
  for (const auto &name : reference.names()) {
    if (inputs.count(name) || ours.count(name))
      continue;
    StageResult r;
    r.name = name;
    r.problem = "in the reference but not computed here";
    report.stages.push_back(r);
  }
  return report;
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

// Loads the model folder `dir`, runs its reference.safetensors' inputs through it and
// compares every stage with the reference.
ParityReport check_golden(const std::string &dir, const std::string &title) {
  const auto reference = sam3::SafetensorsFile::open(dir + "/reference.safetensors");
  const auto &meta = reference.metadata();
  const auto dtype = meta.count("dtype") ? meta.at("dtype") : std::string("fp32");
  if (dtype != "fp32")
    throw std::runtime_error(reference.path() + ": reference computed in " + dtype +
                             "; the fp32 tolerance only holds for fp32 references");
  auto model = sam3::Model::load(dir, torch::kCPU, sam3::Precision::kFloat32);
  const auto report =
      compare_stages(run_stages(model->detector(), read_inputs(reference)), reference);
  print_report(report, title);
  return report;
}

// A golden from libsam3 itself, with the inputs make_reference.py uses: a tiny model in
// `dir` and its stages in dir/reference.safetensors.
void write_self_golden(const std::string &dir) {
  sam3::write_test_model(dir, sam3::tiny_test_config(), 0);
  auto model = sam3::Model::load(dir, torch::kCPU, sam3::Precision::kFloat32);
  const auto size = model->image_size();
  auto gen = at::detail::createCPUGenerator(kPixelSeed);
  ParityInputs in;
  in.pixel_values = at::rand({1, 3, size, size}, gen) * 2 - 1;
  auto tokens = model->tokenizer().tokenize_batch(kPrompts);
  in.input_ids = tokens.input_ids;
  in.attention_mask = tokens.attention_mask;
  in.input_boxes = torch::tensor(kInputBoxes).view({2, 2, 4});
  in.input_boxes_labels = torch::tensor(kInputBoxesLabels).view({2, 2});

  auto stages = run_stages(model->detector(), in);
  std::vector<std::pair<std::string, torch::Tensor>> tensors(stages.begin(), stages.end());
  tensors.emplace_back("pixel_values", in.pixel_values);
  tensors.emplace_back("input_ids", in.input_ids);
  tensors.emplace_back("attention_mask", in.attention_mask);
  tensors.emplace_back("input_boxes", in.input_boxes);
  tensors.emplace_back("input_boxes_labels", in.input_boxes_labels);
  sam3::write_safetensors(dir + "/reference.safetensors", tensors,
                          {{"generator", "test_parity (libsam3 itself)"}, {"dtype", "fp32"}});
}

TEST(Parity, MatchesTransformersGoldens) {
  // SAM3_PARITY_DIR points the check at other goldens (the full-size ones, which stay out
  // of the repository).
  const char *root = std::getenv("SAM3_SOURCE_ROOT");
  const char *other = std::getenv("SAM3_PARITY_DIR");
  const std::string dir =
      other && *other ? std::string(other) : std::string(root ? root : ".") + "/tests/parity/tiny";
  if (!is_file(dir + "/reference.safetensors"))
    GTEST_SKIP() << "no parity goldens in tests/parity/tiny (generate them with "
                    "tools/make_reference.py on a machine with transformers; see docs/parity.md)";
  const auto report = check_golden(dir, "transformers goldens in " + dir);
  ASSERT_FALSE(report.stages.empty());
  for (const auto &s : report.stages)
    EXPECT_TRUE(s.pass) << s.name << ": " << (s.problem.empty() ? "max abs error " : s.problem)
                        << (s.problem.empty() ? std::to_string(s.max_abs) : "");
}

class SelfGolden : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    root_ = new std::string(temp_dir());
    write_self_golden(*root_ + "/golden");
  }
  static void TearDownTestSuite() {
    std::system(("rm -rf " + *root_).c_str());
    delete root_;
  }
  static std::string *root_;
};
std::string *SelfGolden::root_ = nullptr;

TEST_F(SelfGolden, ItsOwnOutputPasses) {
  const auto report = check_golden(*root_ + "/golden", "libsam3 against itself");
  // Every stage make_reference.py writes is there: 4 FPN levels of the tiny model, the
  // text and box heads, the geometry prompt.
  std::set<std::string> names;
  for (const auto &s : report.stages)
    names.insert(s.name);
  for (const auto *expected : {"vision.backbone",
                               "vision.fpn.3",
                               "vision.fpn_pos.3",
                               "text.features",
                               "text.mask",
                               "geometry.prompt",
                               "geometry.mask",
                               "encoder.memory",
                               "decoder.hidden_states",
                               "decoder.reference_boxes",
                               "decoder.presence_logits",
                               "text.pred_masks",
                               "text.pred_boxes",
                               "text.pred_logits",
                               "text.presence_logits",
                               "text.semantic_seg",
                               "boxes.pred_logits",
                               "boxes.pred_boxes",
                               "boxes.pred_masks",
                               "boxes.presence_logits"})
    EXPECT_TRUE(names.count(expected)) << expected;
  EXPECT_TRUE(report.failing().empty());
}

TEST_F(SelfGolden, OneChangedWeightFailsFromItsStageOn) {
  // The fusion encoder's MLP, nudged: the vision and text stages before it must still pass,
  // the encoder output and everything after it must fail.
  const std::string golden = *root_ + "/golden";
  const std::string perturbed = *root_ + "/perturbed";
  ASSERT_EQ(::mkdir(perturbed.c_str(), 0755), 0);
  for (const auto *f : {"config.json", "vocab.json", "merges.txt", "reference.safetensors"})
    copy_file(golden + "/" + f, perturbed + "/" + f);
  const auto weights = sam3::SafetensorsFile::open(golden + "/model.safetensors");
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  const std::string changed = "detr_encoder.layers.0.mlp.fc2.weight";
  ASSERT_TRUE(weights.has(changed));
  for (const auto &name : weights.names()) {
    auto t = weights.tensor(name).clone();
    if (name == changed)
      t.view(-1)[0] += 0.5;
    tensors.emplace_back(name, t);
  }
  sam3::write_safetensors(perturbed + "/model.safetensors", tensors, weights.metadata());

  const auto failing = check_golden(perturbed, "perturbed model (" + changed + ")").failing();
  for (const auto *still_equal :
       {"vision.backbone", "vision.fpn.0", "text.features", "text.mask", "geometry.prompt"})
    EXPECT_FALSE(failing.count(still_equal)) << still_equal;
  for (const auto *detected : {"encoder.memory", "decoder.hidden_states", "text.pred_logits",
                               "text.pred_masks", "boxes.encoder.memory", "boxes.pred_boxes"})
    EXPECT_TRUE(failing.count(detected)) << detected << " did not detect the changed weight";
}

TEST(ParityCompare, ShapeAndMissingStagesFail) {
  const auto root = temp_dir();
  const auto path = root + "/reference.safetensors";
  sam3::write_safetensors(path, {{"a", torch::zeros({2, 3})},
                                 {"only_in_reference", torch::ones({1})},
                                 {"pixel_values", torch::zeros({1})}});
  const auto reference = sam3::SafetensorsFile::open(path);
  std::map<std::string, torch::Tensor> ours = {{"a", torch::zeros({3, 2})},
                                               {"only_here", torch::zeros({1})}};
  const auto failing = compare_stages(ours, reference).failing();
  std::system(("rm -rf " + root).c_str());
  EXPECT_EQ(failing, (std::set<std::string>{"a", "only_here", "only_in_reference"}));
}

TEST(ParityCompare, ToleranceScalesWithTheReference) {
  const auto ref = torch::tensor({1000.0, 0.0});
  // 0.05 off on a stage whose largest value is 1000: within 1e-4 * 1001.
  EXPECT_TRUE(compare_stage("x", ref + torch::tensor({0.0, 0.05}), ref).pass);
  EXPECT_FALSE(compare_stage("x", ref + torch::tensor({0.0, 0.2}), ref).pass);
  // Logits are judged element by element: 0.05 off a logit of 0 fails even next to 1000.
  EXPECT_FALSE(compare_stage("pred_logits", ref + torch::tensor({0.0, 0.05}), ref).pass);
  EXPECT_TRUE(compare_stage("pred_logits", ref + torch::tensor({0.05, 0.0}), ref).pass);
  EXPECT_FALSE(
      compare_stage("x", torch::tensor({std::nan(""), 0.0}), torch::tensor({0.0, 0.0})).pass);
  EXPECT_FALSE(
      compare_stage("mask", torch::tensor({true, false}), torch::tensor({true, true})).pass);
}

} // namespace
