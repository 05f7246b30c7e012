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
