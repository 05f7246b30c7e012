// The detector's behaviour with models/sam3-shapes through ImagePredictor, on the explicit
// scenes of tools/shapes/make_behaviour_cases.py: the right objects for several prompts, an
// absent concept finds nothing, a positive exemplar box finds the others like it, a negative
// one removes them. Every criterion aggregates over several scenes, so a retrained model that
// behaves the same passes, and each fails with random weights (they find nothing where it
// should) and when labels are mixed up (an instance of the wrong prompt is a false positive).
#include "behaviour/cases.h"

#include "image/image_predictor.h"
#include "model/registry.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>

namespace {

using namespace sam3_behaviour;

struct Tally {
  int prompts = 0;
  int prompts_with_detections = 0;
  int top1_hits = 0; // prompts whose best instance (any score) is one they should find
  int tp = 0, fp = 0, fn = 0;
  double precision() const { return tp + fp ? double(tp) / (tp + fp) : 1.0; }
  double recall() const { return tp + fn ? double(tp) / (tp + fn) : 1.0; }
};

// The objects one prompt's kept instances found.
struct PromptResult {
  const Scene *scene;
  const Prompt *prompt;
  std::set<int> found;
};

// How an object relates to the one a prompt's box lies on.
std::string role(const Object &o, const Object &boxed) {
  if (o.id == boxed.id)
    return "the boxed object";
  if (o.color == boxed.color && o.shape == boxed.shape)
    return "its category";
  if (o.shape == boxed.shape)
    return "its shape, another colour";
  if (o.color == boxed.color)
    return "its colour, another shape";
  return "unrelated";
}

// Per role: objects of that role found, and objects of that role in the scenes.
std::map<std::string, std::pair<int, int>> by_role(const std::vector<PromptResult> &results) {
  std::map<std::string, std::pair<int, int>> out;
  for (const auto &r : results) {
    const Object *boxed = nullptr;
    // The prompt's box, or for a prompt without one (a control) the box of the scene's prompt
    // that has one.
    const Prompt *with_box = r.prompt;
    for (const Prompt &p : r.scene->prompts)
      if (with_box->boxes.empty() && !p.boxes.empty())
        with_box = &p;
    if (with_box->boxes.empty())
      continue;
    const auto &b = with_box->boxes[0];
    for (const Object &o : r.scene->objects)
      if (std::abs(o.box[0] - b.x0) < 0.5f && std::abs(o.box[1] - b.y0) < 0.5f &&
          std::abs(o.box[2] - b.x1) < 0.5f && std::abs(o.box[3] - b.y1) < 0.5f)
        boxed = &o;
    EXPECT_NE(boxed, nullptr) << r.scene->name << ": the box lies on no object";
    if (!boxed)
      continue;
    for (const Object &o : r.scene->objects) {
      auto &n = out[role(o, *boxed)];
      n.first += r.found.count(o.id) ? 1 : 0;
      n.second++;
    }
  }
  for (const auto &[name, n] : out)
    std::printf("  found %d of %d: %s\n", n.first, n.second, name.c_str());
  std::fflush(stdout);
  return out;
}

class Behaviour : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(sam3_test_dir());
    try {
      cases_ = new Cases(make_cases(*dir_));
      predictor_ = new sam3::ImagePredictor(
          sam3::acquire_model(model_dir(), "cpu", sam3::Precision::kFloat32));
    } catch (const std::exception &e) {
      error_ = new std::string(e.what());
    }
  }
  static void TearDownTestSuite() {
    std::system(("rm -rf '" + *dir_ + "'").c_str());
    delete predictor_;
    delete cases_;
    delete dir_;
    delete error_;
    predictor_ = nullptr;
    cases_ = nullptr;
    error_ = nullptr;
  }
  void SetUp() override {
    if (error_)
      FAIL() << *error_;
  }

  static std::string sam3_test_dir() {
    std::string tmpl = "/tmp/sam3-behaviour-XXXXXX";
    return mkdtemp(tmpl.data());
  }

  static cv::Mat instance_mask(const sam3::Instance &inst, int width, int height) {
    const torch::Tensor p =
        sam3::mask_probabilities(inst.mask_logits, width, height, 0, 0, width, height);
    const torch::Tensor m = p.gt(0.5).to(torch::kU8).contiguous();
    return cv::Mat(height, width, CV_8U, m.data_ptr()).clone();
  }

  // Runs the prompts of `kinds` of every scene, each scene's prompts of one kind in one call
  // (so the instances' prompt_index must route them), and matches the instances of each
  // prompt, best first, to the objects it should find at mask IoU >= kMatchIou.
  static Tally run(const std::set<std::string> &kinds,
                   std::vector<PromptResult> *results = nullptr) {
    Tally t;
    for (const Scene &scene : cases_->scenes) {
      std::vector<const Prompt *> prompts;
      std::vector<sam3::ConceptPrompt> concept_prompts;
      for (const Prompt &p : scene.prompts) {
        if (!kinds.count(p.kind))
          continue;
        prompts.push_back(&p);
        sam3::ConceptPrompt c;
        c.text = p.text;
        for (const auto &b : p.boxes)
          c.boxes.push_back({b.x0, b.y0, b.x1, b.y1, b.positive});
        concept_prompts.push_back(c);
      }
      if (prompts.empty())
        continue;
      const torch::Tensor rgb =
          torch::from_blob(scene.rgb.data, {scene.rgb.rows, scene.rgb.cols, 3}, torch::kU8);
      sam3::DetectOptions options;
      options.threshold = 0.0f; // all of them: the best one's object is reported too
      const auto instances = predictor_->predict(rgb, concept_prompts, options);
      for (size_t i = 0; i < prompts.size(); i++) {
        const Prompt &p = *prompts[i];
        std::set<int> expect(p.expect.begin(), p.expect.end()), matched, found;
        bool first = true;
        bool any = false;
        for (const auto &inst : instances) { // best first
          if (inst.prompt_index != static_cast<int>(i))
            continue;
          const cv::Mat m = instance_mask(inst, scene.rgb.cols, scene.rgb.rows);
          // The object this instance covers best, of all in the scene.
          int best_id = 0;
          double best_iou = 0;
          for (const Object &o : scene.objects) {
            const double iou = mask_iou(m, o.mask);
            if (iou > best_iou)
              best_iou = iou, best_id = o.id;
          }
          const int object = best_iou >= kMatchIou ? best_id : 0;
          if (first)
            t.top1_hits += expect.count(object) ? 1 : 0;
          first = false;
          if (inst.score < kThreshold)
            continue;
          any = true;
          if (object)
            found.insert(object);
          if (expect.count(object) && !matched.count(object)) {
            matched.insert(object);
            t.tp++;
          } else {
            t.fp++;
          }
        }
        t.fn += static_cast<int>(expect.size() - matched.size());
        t.prompts++;
        t.prompts_with_detections += any ? 1 : 0;
        if (results)
          results->push_back({&scene, &p, found});
      }
    }
    return t;
  }

  static void print(const char *what, const Tally &t) {
    std::printf("%-34s prompts %3d, with detections %3d, best is right %3d | tp %3d fp %3d fn "
                "%3d | precision %.3f recall %.3f (threshold %.2f)\n",
                what, t.prompts, t.prompts_with_detections, t.top1_hits, t.tp, t.fp, t.fn,
                t.precision(), t.recall(), kThreshold);
    std::fflush(stdout);
  }

  static std::string *dir_;
  static std::string *error_;
  static Cases *cases_;
  static sam3::ImagePredictor *predictor_;
};

std::string *Behaviour::dir_ = nullptr;
std::string *Behaviour::error_ = nullptr;
Cases *Behaviour::cases_ = nullptr;
sam3::ImagePredictor *Behaviour::predictor_ = nullptr;

// "red circle", "blue square", ... (three per scene, six scenes of four mid-to-large objects,
// one category twice), all of a scene's in one call: the kept instances are the right objects
// of the right prompt, most objects are found, and each prompt's best instance is its own.
TEST_F(Behaviour, ColourShapePromptsFindTheirObjects) {
  const Tally t = run({"present"});
  print("colour + shape prompts", t);
  ASSERT_EQ(t.prompts, 18);
  EXPECT_GE(t.recall(), 0.6) << "too few of the prompted objects were found";
  EXPECT_GE(t.precision(), 0.8) << "instances on objects the prompt does not name";
  EXPECT_GE(t.top1_hits, 15) << "the best instance of a prompt should be one of its objects";
  // In these scenes no two categories share a colour; whether the shape words are heeded is
  // DISABLED_ShapesAreToldApart's question. Its numbers print here too, to follow them.
  print("(shape prompts, judged when enabled)", run({"present-shape"}));
}

// A shape of the scene in a colour nothing there has ("green square" beside a blue square)
// finds nothing, on the same scenes where the colour + shape prompts find their objects.
TEST_F(Behaviour, AnAbsentConceptFindsNothing) {
  const Tally absent = run({"absent"});
  const Tally present = run({"present"});
  print("absent colour on a present shape", absent);
  ASSERT_EQ(absent.prompts, 18);
  EXPECT_LE(absent.prompts_with_detections, 2) << "absent concepts found something";
  EXPECT_GE(present.recall(), 0.6) << "on scenes where present concepts are not found, finding "
                                      "nothing for absent ones shows nothing";
  // Colours of the scene on absent shapes: DISABLED_ShapesAreToldApart; absent shapes alone
  // ("star" where there is none) are not judged. Both print, to follow them.
  print("(near misses: scene colour, other shape)", run({"near-miss"}));
  print("(absent shape alone)", run({"absent-shape"}));
}

// No text and one positive box on, say, a green star (scenes of three of a category, one of
// its shape in another colour, one of its colour in another shape, one unrelated object): the
// other instances of the boxed category are found, objects of other colours are not.
TEST_F(Behaviour, APositiveExemplarFindsTheOthersLikeIt) {
  std::vector<PromptResult> results;
  const Tally t = run({"exemplar"}, &results);
  print("positive exemplar box", t);
  auto roles = by_role(results);
  ASSERT_EQ(t.prompts, 4);
  const auto &same = roles["its category"];
  EXPECT_EQ(same.second, 8);
  EXPECT_GE(same.first, 0.6 * same.second) << "the others like the boxed object";
  EXPECT_LE(roles["its shape, another colour"].first + roles["unrelated"].first, 1)
      << "objects of other colours were found";
  // Not judged here (ShapesAreToldApart): the object of the boxed colour in another shape.
}

// A shape ("square") and a negative box on a red square (scenes of two red squares, two
// squares of another colour, a red object of another shape and an unrelated one): the squares
// of the other colour are found, the red ones are not -- while the same shape without the box
// finds both.
//
// Disabled until a models/sam3-shapes passes it (issue 21): the current one fails it. With the
// negative box it finds the other instance of the boxed kind (4 of 4 scenes) and none of the 8
// squares of the other colour: the box acts as a positive one. Run with
// --gtest_also_run_disabled_tests for the numbers.
TEST_F(Behaviour, DISABLED_ANegativeExemplarRemovesThoseLikeIt) {
  std::vector<PromptResult> with_box, without_box;
  const Tally t = run({"negative"}, &with_box);
  print("shape + negative box", t);
  auto with_roles = by_role(with_box);
  const Tally control = run({"negative-control"}, &without_box);
  print("the same shape, no box", control);
  auto without_roles = by_role(without_box);
  ASSERT_EQ(t.prompts, 4);
  const auto &kept = with_roles["its shape, another colour"];
  const auto removed = with_roles["its category"].first + with_roles["the boxed object"].first;
  const auto before = without_roles["its category"].first + without_roles["the boxed object"].first;
  EXPECT_GE(kept.first, 0.6 * kept.second) << "the instances of other colours should stay";
  EXPECT_LE(removed, 1) << "the boxed kind should be removed";
  EXPECT_GE(before, 4) << "without the box, the shape should find the boxed kind";
}

// The shape words matter: a colour of the scene on a shape it does not have ("red cross"
// beside red circles) finds nothing, a shape alone ("circle") finds its shapes and not the
// others, and a positive exemplar box does not find objects of its colour in another shape.
//
// Disabled until a models/sam3-shapes passes it (issue 21): the current one answers to colours far
// more than to shapes and fails it (the numbers print; run with --gtest_also_run_disabled_tests).
TEST_F(Behaviour, DISABLED_ShapesAreToldApart) {
  const Tally near_miss = run({"near-miss"});
  print("near misses: scene colour, other shape", near_miss);
  const Tally shape = run({"present-shape"});
  print("shape prompts", shape);
  std::vector<PromptResult> results;
  run({"exemplar"}, &results);
  auto roles = by_role(results);
  EXPECT_LE(near_miss.prompts_with_detections, 2);
  EXPECT_GE(shape.recall(), 0.6);
  EXPECT_GE(shape.precision(), 0.8);
  EXPECT_LE(roles["its colour, another shape"].first, 1);
}

} // namespace
