// The model as users load it: generated model folders, strict weight loading, the registry,
// the image API and its bad inputs.
#include "model/test_model.h"
#include "common/allocator.h"
#include "common/layers.h"
#include "common/threads.h"
#include "image/image_predictor.h"
#include "image/preprocess.h"
#include "image/prompts.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "model/registry.h"
#include "model/weights.h"

#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <malloc.h>
#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

namespace {

std::string temp_dir(const std::string &name) {
  char tmpl[] = "/tmp/sam3-test-XXXXXX";
  const char *d = mkdtemp(tmpl);
  if (!d)
    throw std::runtime_error("mkdtemp failed");
  return std::string(d) + "/" + name;
}

// One tiny model for the whole suite: generating it costs a few hundred milliseconds.
class ModelTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(temp_dir("tiny"));
    sam3::write_test_model(*dir_, sam3::tiny_test_config(), 7);
  }
  static void TearDownTestSuite() {
    std::system(("rm -rf " + dir_->substr(0, dir_->rfind('/'))).c_str());
    delete dir_;
  }
  static std::string *dir_;
};
std::string *ModelTest::dir_ = nullptr;

torch::Tensor test_image(int64_t h, int64_t w) {
  torch::manual_seed(3);
  return torch::randint(0, 256, {h, w, 3}, torch::kUInt8);
}

TEST_F(ModelTest, LoadsWhatWasWritten) {
  auto model = sam3::Model::load(*dir_, torch::kCPU, sam3::Precision::kFloat32);
  EXPECT_EQ(model->config().detector.vision.backbone.hidden_size, 32);
  EXPECT_EQ(model->image_size(), 112);
  // The byte-level tokenizer of a test model: "a" is one byte symbol plus SOT/EOT.
  auto t = model->tokenizer().tokenize("a");
  EXPECT_EQ(t.ids[0], model->tokenizer().bos_id());
  EXPECT_EQ(t.ids[2], model->tokenizer().eos_id());
  // The loaded weights are the file's, not a fresh initialisation.
  auto file = sam3::SafetensorsFile::open(*dir_ + "/model.safetensors");
  auto name = std::string("detr_decoder.query_embed.weight");
  ASSERT_TRUE(file.has(name));
  EXPECT_TRUE(torch::equal(file.tensor(name),
                           model->detector()->detr_decoder->query_embed->weight.detach()));
}

TEST_F(ModelTest, SameSeedSameWeightsOtherSeedOthers) {
  const auto other = temp_dir("again");
  sam3::write_test_model(other, sam3::tiny_test_config(), 7);
  const auto third = temp_dir("other");
  sam3::write_test_model(third, sam3::tiny_test_config(), 8);
  auto a = sam3::SafetensorsFile::open(*dir_ + "/model.safetensors");
  auto b = sam3::SafetensorsFile::open(other + "/model.safetensors");
  auto c = sam3::SafetensorsFile::open(third + "/model.safetensors");
  const std::string key = "vision_encoder.backbone.layers.0.mlp.fc1.weight";
  EXPECT_TRUE(torch::equal(a.tensor(key), b.tensor(key)));
  EXPECT_FALSE(torch::equal(a.tensor(key), c.tensor(key)));
}

TEST_F(ModelTest, StrictLoadListsMissingMisshapedAndUnexpectedKeys) {
  auto file = sam3::SafetensorsFile::open(*dir_ + "/model.safetensors");
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto &n : file.names()) {
    if (n == "dot_product_scoring.text_proj.bias")
      continue; // missing
    auto t = file.tensor(n);
    if (n == "detr_decoder.query_embed.weight")
      t = torch::zeros({3, 3}); // wrong shape
    tensors.emplace_back(n, t);
  }
  tensors.emplace_back("not_a_module.weight", torch::zeros({2}));
  const auto bad = temp_dir("bad.safetensors");
  sam3::write_safetensors(bad, tensors);
  sam3::Detector detector(sam3::tiny_test_config().detector);
  try {
    sam3::load_weights(*detector, sam3::SafetensorsFile::open(bad), "");
    FAIL() << "a mismatched file loaded";
  } catch (const sam3::ModelFileError &e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(bad), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing keys:\n    dot_product_scoring.text_proj.bias"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("detr_decoder.query_embed.weight (file [3, 3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected keys:\n    not_a_module.weight"), std::string::npos) << msg;
  }
}

TEST_F(ModelTest, CorruptedWeightsGiveAClearError) {
  const auto dir = temp_dir("corrupt");
  sam3::write_test_model(dir, sam3::tiny_test_config(), 1);
  {
    std::ofstream(dir + "/model.safetensors", std::ios::binary)
        << "\x10\x00\x00\x00\x00\x00\x00\x00{broken";
  }
  try {
    sam3::Model::load(dir, torch::kCPU, sam3::Precision::kFloat32);
    FAIL() << "a corrupted file loaded";
  } catch (const sam3::ModelFileError &e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
}

TEST(ModelFiles, MissingFolderAndFilesAreNamed) {
  EXPECT_THROW(sam3::locate_model(""), sam3::ModelFileError);
  try {
    sam3::locate_model("/nonexistent/sam3");
    FAIL();
  } catch (const sam3::ModelFileError &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/sam3: no such file"), std::string::npos);
  }
  const auto dir = temp_dir("");
  try {
    sam3::locate_model(dir);
    FAIL();
  } catch (const sam3::ModelFileError &e) {
    EXPECT_NE(std::string(e.what()).find("config.json: missing"), std::string::npos) << e.what();
  }
}

TEST(ModelOptions, DeviceAndPrecisionNames) {
  EXPECT_EQ(sam3::parse_precision("bf16"), sam3::Precision::kBFloat16);
  EXPECT_EQ(sam3::parse_precision("FP16"), sam3::Precision::kFloat16);
  EXPECT_EQ(sam3::parse_precision("float32"), sam3::Precision::kFloat32);
  EXPECT_THROW(sam3::parse_precision("int8"), std::invalid_argument);
  EXPECT_TRUE(sam3::parse_device("cpu").is_cpu());
  EXPECT_THROW(sam3::parse_device("tpu"), std::invalid_argument);
  EXPECT_THROW(sam3::parse_device("cuda:x"), std::invalid_argument);
  if (!torch::cuda::is_available()) {
    try {
      sam3::parse_device("cuda");
      FAIL();
    } catch (const std::runtime_error &e) {
      EXPECT_NE(std::string(e.what()).find("CUDA is not available"), std::string::npos);
    }
  }
}

TEST_F(ModelTest, RegistrySharesOneLoadPerModelDeviceAndPrecision) {
  const auto before = sam3::model_load_count();
  auto a = sam3::acquire_model(*dir_, "cpu", sam3::Precision::kFloat32);
  auto b = sam3::acquire_model(*dir_ + "/config.json", "cpu", sam3::Precision::kFloat32);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(sam3::model_load_count(), before + 1);
  const auto copy = temp_dir("copy");
  sam3::write_test_model(copy, sam3::tiny_test_config(), 7);
  auto c = sam3::acquire_model(copy, "cpu", sam3::Precision::kFloat32);
  EXPECT_NE(a.get(), c.get());
  EXPECT_EQ(sam3::model_load_count(), before + 2);
  a.reset();
  b.reset();
  // Freed when the last user lets go, loaded again on the next request.
  auto d = sam3::acquire_model(*dir_, "cpu", sam3::Precision::kFloat32);
  EXPECT_EQ(sam3::model_load_count(), before + 3);
}

TEST_F(ModelTest, RegistryLoadsAWeightsFileReplacedOnDisk) {
  const auto dir = temp_dir("replaced");
  sam3::write_test_model(dir, sam3::tiny_test_config(), 7);
  const auto other = temp_dir("other");
  sam3::write_test_model(other, sam3::tiny_test_config(), 8);
  const auto before = sam3::model_load_count();
  auto a = sam3::acquire_model(dir, "cpu", sam3::Precision::kFloat32);
  // Renamed over (another inode): the next user gets the new file, the old model lives on.
  ASSERT_EQ(
      std::rename((other + "/model.safetensors").c_str(), (dir + "/model.safetensors").c_str()), 0);
  auto b = sam3::acquire_model(dir, "cpu", sam3::Precision::kFloat32);
  EXPECT_NE(a.get(), b.get());
  EXPECT_EQ(sam3::model_load_count(), before + 2);
  EXPECT_EQ(sam3::acquire_model(dir, "cpu", sam3::Precision::kFloat32).get(), b.get());
  // Rewritten in place (another size): loaded again, and garbage is a clear error.
  std::ofstream(dir + "/model.safetensors", std::ios::trunc) << "garbage";
  EXPECT_THROW(sam3::acquire_model(dir, "cpu", sam3::Precision::kFloat32), sam3::ModelFileError);
  std::system(("rm -rf " + dir.substr(0, dir.rfind('/')) + " " + other.substr(0, other.rfind('/')))
                  .c_str());
}

// bf16 and fp16 run on the CPU (LibTorch 2.x: oneDNN bf16 kernels, fp16 through fp32
// accumulation) and follow the fp32 model query by query: scores within a few hundredths,
// the same masks but for pixels whose logit sits near 0 (docs/performance.md states the
// measured numbers).
TEST_F(ModelTest, HalfPrecisionOnTheCpuFollowsFp32) {
  auto run = [&](sam3::Precision precision) {
    auto model = sam3::Model::load(*dir_, torch::kCPU, precision);
    torch::NoGradGuard no_grad;
    sam3::ModelRun scope(*model);
    auto pixels = sam3::preprocess_image(test_image(60, 90), model->image_size(), torch::kCPU,
                                         model->dtype());
    auto vision = model->detector()->encode_image(pixels);
    auto out = model->detector()->detect(vision, model->text_features("red car"));
    // Under autocast the weights stay fp32 and the projections still run in bf16.
    if (precision == sam3::Precision::kAutocastBFloat16) {
      EXPECT_EQ(pixels.scalar_type(), torch::kFloat32);
      EXPECT_EQ(out.pred_logits.scalar_type(), torch::kBFloat16);
    }
    auto scores = (out.pred_logits.to(torch::kFloat32).sigmoid() *
                   out.presence_logits.to(torch::kFloat32).sigmoid())
                      .squeeze(0);
    return std::make_pair(scores, out.pred_masks.to(torch::kFloat32).squeeze(0) > 0);
  };
  const auto [ref_scores, ref_masks] = run(sam3::Precision::kFloat32);
  for (auto precision : {sam3::Precision::kBFloat16, sam3::Precision::kFloat16,
                         sam3::Precision::kAutocastBFloat16}) {
    const auto [scores, masks] = run(precision);
    ASSERT_EQ(scores.sizes(), ref_scores.sizes());
    const double max_score_delta = (scores - ref_scores).abs().max().item<double>();
    const auto intersection = (masks & ref_masks).sum({1, 2}).to(torch::kFloat64);
    const auto uni = (masks | ref_masks).sum({1, 2}).to(torch::kFloat64).clamp_min(1);
    const auto iou = intersection / uni;
    const double mean_iou = iou.mean().item<double>(), min_iou = iou.min().item<double>();
    std::printf("%s vs fp32 on the CPU: max score delta %.4f, mask IoU mean %.4f min %.4f\n",
                sam3::precision_name(precision).c_str(), max_score_delta, mean_iou, min_iou);
    EXPECT_LT(max_score_delta, 0.02) << sam3::precision_name(precision);
    EXPECT_GT(mean_iou, 0.97) << sam3::precision_name(precision);
  }
}

// Loading a model for the CPU raises glibc's mmap threshold, so a large activation is taken
// from the heap rather than mapped (and faulted in) afresh on every operation.
TEST_F(ModelTest, ACpuModelPacksTheProductsThatOneDnnSpeedsUp) {
  struct Count {
    int linears = 0, with_activation = 0, packed = 0, dense = 0;
  };
  auto count = [](torch::nn::Module &root) {
    Count n;
    for (const auto &module : root.modules())
      if (auto *linear = dynamic_cast<sam3::LinearImpl *>(module.get())) {
        ++n.linears;
        n.with_activation += linear->activation() != sam3::Activation::kNone;
        n.packed += linear->packed();
        n.dense += linear->weight.numel() > 0;
      }
    return n;
  };
  auto fp32 = sam3::Model::load(*dir_, torch::kCPU, sam3::Precision::kFloat32);
  const auto in_fp32 = count(*fp32->detector());
  EXPECT_GT(in_fp32.with_activation, 0);
  EXPECT_EQ(in_fp32.packed, in_fp32.with_activation)
      << "fp32 packs the products with a fused activation";
  EXPECT_EQ(in_fp32.dense, in_fp32.linears - in_fp32.packed) << "a pack replaces its weight";
  // A CPU without oneDNN's bf16 path packs nothing in bf16.
  const int bf16_packs = sam3::can_pack_for_cpu(torch::kBFloat16) ? 1 : 0;
  auto bf16 = sam3::Model::load(*dir_, torch::kCPU, sam3::Precision::kBFloat16);
  const auto in_bf16 = count(*bf16->detector());
  EXPECT_EQ(in_bf16.packed, bf16_packs * in_bf16.linears) << "bf16 packs every product";
  EXPECT_EQ(in_bf16.dense, in_bf16.linears - in_bf16.packed);
  auto autocast = sam3::Model::load(*dir_, torch::kCPU, sam3::Precision::kAutocastBFloat16);
  const auto in_autocast = count(*autocast->detector());
  EXPECT_EQ(in_autocast.packed, bf16_packs * in_bf16.linears);
  EXPECT_EQ(in_autocast.dense, in_bf16.linears) << "autocast keeps the fp32 weights beside";
  auto fp16 = sam3::Model::load(*dir_, torch::kCPU, sam3::Precision::kFloat16);
  EXPECT_EQ(count(*fp16->detector()).packed, 0);
}

TEST_F(ModelTest, LargeActivationsOnTheCpuComeFromTheHeap) {
  auto model = sam3::Model::load(*dir_, torch::kCPU, sam3::Precision::kFloat32);
#if defined(__SANITIZE_ADDRESS__)
  // The sanitized test build: AddressSanitizer's allocator replaces glibc's and refuses it.
  EXPECT_FALSE(sam3::keep_activations_in_the_heap());
#else
  ASSERT_TRUE(sam3::keep_activations_in_the_heap());
  const auto mapped = mallinfo2().hblkhd;
  {
    auto activation = torch::empty({int64_t{64} << 20}, torch::kUInt8);
    EXPECT_EQ(mallinfo2().hblkhd, mapped) << "a 64 MiB tensor was mmap'd";
    activation.fill_(1);
  }
  // Freed, it stays in the heap for the next one rather than going back to the system.
  EXPECT_GE(mallinfo2().fordblks, std::size_t{64} << 20) << "the freed 64 MiB were trimmed";
#endif
}

TEST_F(ModelTest, PredictReturnsSortedInstancesInsideTheImage) {
  sam3::ImagePredictor predictor(sam3::acquire_model(*dir_, "cpu", sam3::Precision::kFloat32));
  sam3::DetectOptions all;
  all.threshold = 0.f;
  auto instances = predictor.predict(test_image(60, 90), {{"cat", {}}, {"red car", {}}}, all);
  const auto Q = predictor.model().config().detector.detr_decoder.num_queries;
  ASSERT_EQ(static_cast<int64_t>(instances.size()), 2 * Q);
  int per_prompt[2] = {0, 0};
  for (size_t i = 0; i < instances.size(); ++i) {
    const auto &inst = instances[i];
    per_prompt[inst.prompt_index]++;
    if (i > 0) {
      EXPECT_GE(instances[i - 1].score, inst.score);
    }
    EXPECT_GE(inst.score, 0.f);
    EXPECT_LE(inst.score, 1.f);
    EXPECT_GE(inst.x0, 0.f);
    EXPECT_LE(inst.x1, 90.f);
    EXPECT_GE(inst.y0, 0.f);
    EXPECT_LE(inst.y1, 60.f);
    EXPECT_EQ(inst.mask_logits.sizes(), (c10::IntArrayRef{32, 32}));
  }
  EXPECT_EQ(per_prompt[0], Q);
  EXPECT_EQ(per_prompt[1], Q);

  sam3::DetectOptions some = all;
  some.threshold = instances[Q / 2].score;
  some.max_instances = 3;
  auto fewer = predictor.predict(test_image(60, 90), {{"cat", {}}, {"red car", {}}}, some);
  ASSERT_EQ(fewer.size(), 3u);
  EXPECT_FLOAT_EQ(fewer[0].score, instances[0].score);
}

TEST_F(ModelTest, PromptsShareOneBackboneAndMatchSinglePromptRuns) {
  sam3::ImagePredictor predictor(sam3::acquire_model(*dir_, "cpu", sam3::Precision::kFloat32));
  sam3::DetectOptions all;
  all.threshold = 0.f;
  auto image = predictor.encode(test_image(40, 40));
  auto both = predictor.detect(image, {{"cat", {}}, {"dog", {}}}, all);
  auto dog = predictor.detect(image, {{"dog", {}}}, all);
  std::vector<float> dog_scores, both_dog_scores;
  for (auto &i : dog)
    dog_scores.push_back(i.score);
  for (auto &i : both)
    if (i.prompt_index == 1)
      both_dog_scores.push_back(i.score);
  ASSERT_EQ(dog_scores.size(), both_dog_scores.size());
  for (size_t i = 0; i < dog_scores.size(); ++i)
    EXPECT_NEAR(dog_scores[i], both_dog_scores[i], 1e-5);
}

TEST_F(ModelTest, ExemplarBoxesChangeTheResult) {
  sam3::ImagePredictor predictor(sam3::acquire_model(*dir_, "cpu", sam3::Precision::kFloat32));
  sam3::DetectOptions all;
  all.threshold = 0.f;
  auto image = predictor.encode(test_image(64, 64));
  auto plain = predictor.detect(image, {{"cat", {}}}, all);
  auto boxed = predictor.detect(image, {{"cat", {{4, 4, 30, 40, true}}}}, all);
  auto visual = predictor.detect(image, {{"", {{4, 4, 30, 40, false}}}}, all);
  ASSERT_EQ(plain.size(), boxed.size());
  EXPECT_EQ(visual.size(), plain.size());
  EXPECT_NE(plain[0].score, boxed[0].score);
}

TEST_F(ModelTest, EmptyPromptsGiveNothing) {
  sam3::ImagePredictor predictor(sam3::acquire_model(*dir_, "cpu", sam3::Precision::kFloat32));
  EXPECT_TRUE(predictor.predict(test_image(8, 8), {}).empty());
  EXPECT_TRUE(predictor.predict(test_image(8, 8), {{"", {}}}).empty());
}

TEST_F(ModelTest, BadImagesAreRejected) {
  sam3::ImagePredictor predictor(sam3::acquire_model(*dir_, "cpu", sam3::Precision::kFloat32));
  EXPECT_THROW(predictor.predict(torch::zeros({8, 8, 4}, torch::kUInt8), {{"cat", {}}}),
               c10::Error);
  EXPECT_THROW(predictor.predict(torch::zeros({0, 8, 3}, torch::kUInt8), {{"cat", {}}}),
               c10::Error);
  EXPECT_THROW(predictor.predict(torch::zeros({8, 8, 3}), {{"cat", {}}}), c10::Error);
}

TEST_F(ModelTest, TextFeaturesAreCachedPerPrompt) {
  auto model = sam3::acquire_model(*dir_, "cpu", sam3::Precision::kFloat32);
  auto a = model->text_features("person");
  auto b = model->text_features("person");
  auto c = model->text_features("car");
  EXPECT_EQ(a.features.data_ptr(), b.features.data_ptr());
  EXPECT_FALSE(torch::equal(a.features, c.features));
}

TEST(MaskProbabilities, EqualsUpsamplingThenCropping) {
  torch::manual_seed(5);
  auto logits = torch::randn({12, 12});
  namespace F = torch::nn::functional;
  auto full = torch::sigmoid(
      F::interpolate(logits.view({1, 1, 12, 12}), F::InterpolateFuncOptions()
                                                      .size(std::vector<int64_t>{50, 70})
                                                      .mode(torch::kBilinear)
                                                      .align_corners(false)))[0][0];
  auto crop = sam3::mask_probabilities(logits, 70, 50, 13, 7, 30, 20);
  EXPECT_TRUE(torch::allclose(crop, full.slice(0, 7, 27).slice(1, 13, 43), 1e-5, 1e-5));
  auto whole = sam3::mask_probabilities(logits, 70, 50, 0, 0, 70, 50);
  EXPECT_TRUE(torch::allclose(whole, full, 1e-5, 1e-5));
}

TEST(Prompts, SplitAndBoxes) {
  EXPECT_EQ(sam3::split_prompts(" person ; red car;;"),
            (std::vector<std::string>{"person", "red car"}));
  EXPECT_TRUE(sam3::split_prompts(" ; ").empty());
  auto boxes = sam3::parse_exemplar_boxes("10,20,30,40; 1.5,2,3,4,neg");
  ASSERT_EQ(boxes.size(), 2u);
  EXPECT_FLOAT_EQ(boxes[0].x1, 40.f);
  EXPECT_FLOAT_EQ(boxes[0].y1, 60.f);
  EXPECT_TRUE(boxes[0].positive);
  EXPECT_FALSE(boxes[1].positive);
  EXPECT_EQ(sam3::parse_exemplar_boxes(sam3::format_exemplar_boxes(boxes)).size(), 2u);
  EXPECT_TRUE(sam3::parse_exemplar_boxes("").empty());
  for (const char *bad : {"1,2,3", "1,2,3,4,5,6", "a,2,3,4", "1,2,0,4", "1,2,3,-4", "1,2,3,4,maybe",
                          "1,2,inf,4", "1,,3,4", "122222222222220,1,30,4"})
    EXPECT_THROW(sam3::parse_exemplar_boxes(bad), std::invalid_argument) << bad;
}

TEST(Prompts, Points) {
  const auto points = sam3::parse_points("10,20; 5.5,6,neg;");
  ASSERT_EQ(points.size(), 2u);
  EXPECT_FLOAT_EQ(points[0].x, 10.f);
  EXPECT_FLOAT_EQ(points[0].y, 20.f);
  EXPECT_TRUE(points[0].positive);
  EXPECT_FLOAT_EQ(points[1].x, 5.5f);
  EXPECT_FALSE(points[1].positive);
  for (const char *bad : {"", ";", "1", "1,2,3,4", "a,2", "1,2,maybe", "1,nan"})
    EXPECT_THROW(sam3::parse_points(bad), std::invalid_argument) << bad;
  try {
    sam3::parse_points("1,x");
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("point \"1,x\""), std::string::npos) << e.what();
  }
}

// SAM3_THREADS set to `value` (unset when null) for one test.
class ThreadsEnv {
public:
  explicit ThreadsEnv(const char *value) {
    if (value)
      setenv("SAM3_THREADS", value, 1);
    else
      unsetenv("SAM3_THREADS");
  }
  ~ThreadsEnv() { unsetenv("SAM3_THREADS"); }
};

int affinity_cpus() {
  cpu_set_t set;
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  return CPU_COUNT(&set);
}

TEST(Threads, DefaultIsEveryCpuOfTheAffinityMask) {
  ThreadsEnv env(nullptr);
  EXPECT_EQ(sam3::cpu_threads(), affinity_cpus());
}

TEST(Threads, Sam3ThreadsChoosesTheCountOfEachThreadThatRunsTheModel) {
  ThreadsEnv env("1");
  EXPECT_EQ(sam3::cpu_threads(), 1);
  // OpenMP keeps the count per thread: a fresh thread (as a streaming thread is) gets it from
  // use_cpu_threads().
  int seen = 0;
  std::thread([&] {
    sam3::use_cpu_threads();
    seen = at::get_num_threads();
  }).join();
  EXPECT_EQ(seen, 1);
}

TEST(Threads, AnythingButAPositiveCountIsIgnored) {
  for (const char *bad : {"abc", "0", "-3", "2x", "100000"}) {
    ThreadsEnv env(bad);
    EXPECT_EQ(sam3::cpu_threads(), affinity_cpus()) << bad;
  }
}

} // namespace
