// The command-line tools as a user runs them: sam3-make-test-model, then sam3-image on a
// picture, with JSON and overlay outputs and clear failures.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Result {
  int status;
  std::string output;
};

Result run(const std::string &cmd) {
  Result r{-1, ""};
  FILE *p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p)
    return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    r.output.append(buf.data(), n);
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string tool(const char *name) {
  const char *root = std::getenv("SAM3_BUILD_ROOT");
  return std::string(root ? root : ".") + "/tools/" + name;
}

class Cli : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sam3-cli-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(Cli, MakeTestModelThenSegmentAnImage) {
  auto made = run(tool("sam3-make-test-model") + " --seed 4 " + dir_ + "/model");
  ASSERT_EQ(made.status, 0) << made.output;
  EXPECT_NE(made.output.find("RANDOM weights"), std::string::npos);

  cv::Mat img(90, 120, CV_8UC3, cv::Scalar(40, 90, 200));
  cv::circle(img, {60, 45}, 20, cv::Scalar(250, 250, 250), -1);
  ASSERT_TRUE(cv::imwrite(dir_ + "/in.png", img));
  auto seg =
      run(tool("sam3-image") + " --model " + dir_ +
          "/model --prompt 'ball;sky' --box 40,25,40,40 --threshold 0 --max-instances 4 --json " +
          dir_ + "/out.json --overlay " + dir_ + "/out.png " + dir_ + "/in.png");
  ASSERT_EQ(seg.status, 0) << seg.output;

  std::ifstream f(dir_ + "/out.json");
  auto json = nlohmann::json::parse(f);
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["width"], 120);
  EXPECT_EQ(json[0]["height"], 90);
  ASSERT_EQ(json[0]["instances"].size(), 4u);
  for (const auto &inst : json[0]["instances"]) {
    const std::string label = inst["label"];
    EXPECT_TRUE(label == "ball" || label == "sky") << label;
    EXPECT_GE(inst["score"].get<double>(), 0.0);
    EXPECT_LE(inst["box_xyxy"][2].get<double>(), 120.0);
  }
  cv::Mat overlay = cv::imread(dir_ + "/out.png");
  ASSERT_FALSE(overlay.empty());
  EXPECT_EQ(overlay.cols, 120);
  EXPECT_GT(cv::norm(overlay, img, cv::NORM_L1), 0.0) << "nothing was drawn";
}

TEST_F(Cli, MasksComeAsRunLengthsOverTheWholeImage) {
  ASSERT_EQ(run(tool("sam3-make-test-model") + " --seed 4 " + dir_ + "/model").status, 0);
  cv::Mat img(50, 70, CV_8UC3, cv::Scalar(40, 90, 200));
  cv::circle(img, {35, 25}, 12, cv::Scalar(250, 250, 250), -1);
  ASSERT_TRUE(cv::imwrite(dir_ + "/in.png", img));
  const std::string common = tool("sam3-image") + " --model " + dir_ +
                             "/model --prompt 'ball;sky' --threshold 0 --max-instances 3 " + dir_ +
                             "/in.png --json ";
  auto seg = run(common + dir_ + "/masks.json --masks");
  ASSERT_EQ(seg.status, 0) << seg.output;
  std::ifstream f(dir_ + "/masks.json");
  auto json = nlohmann::json::parse(f);
  ASSERT_EQ(json[0]["instances"].size(), 3u);
  for (const auto &inst : json[0]["instances"]) {
    const auto &mask = inst["mask"];
    EXPECT_EQ(mask["encoding"], "rle-binary");
    EXPECT_EQ(mask["width"], 70);
    EXPECT_EQ(mask["height"], 50);
    EXPECT_EQ(mask["rect"], nlohmann::json({{"x", 0}, {"y", 0}, {"w", 70}, {"h", 50}}));
    int64_t total = 0, on = 0;
    for (size_t i = 0; i < mask["counts"].size(); ++i) {
      const auto run = mask["counts"][i].get<int64_t>();
      EXPECT_GE(run, 0);
      total += run;
      on += i % 2 ? run : 0;
    }
    EXPECT_EQ(total, 70 * 50);
    EXPECT_EQ(on, inst["mask_area"].get<int64_t>());
  }

  auto plain = run(common + dir_ + "/plain.json");
  ASSERT_EQ(plain.status, 0) << plain.output;
  std::ifstream g(dir_ + "/plain.json");
  EXPECT_FALSE(nlohmann::json::parse(g)[0]["instances"][0].contains("mask"));
}

TEST_F(Cli, RequestsGiveEachPromptItsOwnBoxesInOneRun) {
  ASSERT_EQ(run(tool("sam3-make-test-model") + " --seed 4 " + dir_ + "/model").status, 0);
  cv::Mat img(60, 80, CV_8UC3, cv::Scalar(40, 90, 200));
  cv::circle(img, {40, 30}, 14, cv::Scalar(250, 250, 250), -1);
  ASSERT_TRUE(cv::imwrite(dir_ + "/a.png", img));
  cv::flip(img, img, 1);
  ASSERT_TRUE(cv::imwrite(dir_ + "/b.png", img));
  {
    std::ofstream r(dir_ + "/requests.json");
    r << R"([{"image": ")" << dir_ << R"(/a.png", "prompts": [{"text": "ball"},
               {"boxes": "26,16,28,28"}, {"text": "sky", "boxes": "0,0,10,10,neg"}]},
             {"image": ")"
      << dir_ << R"(/b.png", "prompts": [{"text": "sky"}]}])";
  }
  const std::string base =
      tool("sam3-image") + " --model " + dir_ + "/model --threshold 0 --masks --json ";
  auto batch = run(base + dir_ + "/batch.json --requests " + dir_ + "/requests.json");
  ASSERT_EQ(batch.status, 0) << batch.output;
  std::ifstream f(dir_ + "/batch.json");
  auto json = nlohmann::json::parse(f);
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[1]["image"], dir_ + "/b.png");

  // Each prompt of a request finds what the same prompt alone finds on that image.
  const std::vector<std::pair<int, std::string>> alone = {
      {0, "--prompt ball " + dir_ + "/a.png"},
      {1, "--box 26,16,28,28 " + dir_ + "/a.png"},
      {2, "--prompt sky --box 0,0,10,10,neg " + dir_ + "/a.png"}};
  for (const auto &[index, args] : alone) {
    auto single = run(base + dir_ + "/single.json " + args);
    ASSERT_EQ(single.status, 0) << single.output;
    std::ifstream g(dir_ + "/single.json");
    auto expected = nlohmann::json::parse(g)[0]["instances"];
    std::vector<nlohmann::json> got;
    for (const auto &inst : json[0]["instances"])
      if (inst["prompt_index"] == index)
        got.push_back(inst);
    ASSERT_EQ(got.size(), expected.size()) << args;
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_NEAR(got[k]["score"].get<double>(), expected[k]["score"].get<double>(), 1e-5);
      // Prompts with boxes run as one batch (padded box lists), so a borderline pixel may flip.
      EXPECT_NEAR(got[k]["mask_area"].get<double>(), expected[k]["mask_area"].get<double>(),
                  0.01 * 60 * 80)
          << args;
    }
  }

  std::ofstream(dir_ + "/bad.json") << R"([{"image": "x.png"}])";
  auto bad = run(base + "- --requests " + dir_ + "/bad.json");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.output.find("request 0"), std::string::npos) << bad.output;
  auto mixed = run(base + "- --requests " + dir_ + "/requests.json --prompt x");
  EXPECT_EQ(mixed.status, 2);
}

TEST_F(Cli, CorruptModelAndBadArgumentsFailClearly) {
  ASSERT_EQ(run(tool("sam3-make-test-model") + " " + dir_ + "/model").status, 0);
  cv::Mat img(20, 20, CV_8UC3, cv::Scalar(1, 2, 3));
  ASSERT_TRUE(cv::imwrite(dir_ + "/in.png", img));
  ASSERT_EQ(std::system(("truncate -s 1000 " + dir_ + "/model/model.safetensors").c_str()), 0);
  auto bad = run(tool("sam3-image") + " --model " + dir_ + "/model --prompt x " + dir_ + "/in.png");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("model.safetensors: header length"), std::string::npos) << bad.output;

  auto missing = run(tool("sam3-image") + " --model /nonexistent --prompt x " + dir_ + "/in.png");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("/nonexistent: no such file"), std::string::npos) << missing.output;

  auto no_prompt = run(tool("sam3-image") + " --model " + dir_ + "/model " + dir_ + "/in.png");
  EXPECT_EQ(no_prompt.status, 2);
  EXPECT_NE(no_prompt.output.find("no --prompt"), std::string::npos);

  auto bad_box = run(tool("sam3-image") + " --model " + dir_ + "/model --prompt x --box 1,2,3 " +
                     dir_ + "/in.png");
  EXPECT_EQ(bad_box.status, 2);
  EXPECT_NE(bad_box.output.find("expected x,y,w,h"), std::string::npos) << bad_box.output;

  auto no_image =
      run(tool("sam3-image") + " --model " + dir_ + "/model --prompt x " + dir_ + "/nope.png");
  EXPECT_EQ(no_image.status, 1);

  auto bad_preset = run(tool("sam3-make-test-model") + " --preset huge " + dir_ + "/m2");
  EXPECT_EQ(bad_preset.status, 2);
  EXPECT_NE(bad_preset.output.find("unknown preset"), std::string::npos);
}

} // namespace
