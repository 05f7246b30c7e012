#include "common/layers.h"
#include "common/pointwise_conv.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

namespace {

using sam3::Activation;

sam3::Linear seeded_linear(int64_t in, int64_t out, Activation activation, bool bias = true) {
  torch::manual_seed(7);
  sam3::Linear linear(in, out, activation);
  if (!bias)
    linear = sam3::Linear(torch::nn::LinearOptions(in, out).bias(false));
  return linear;
}

double relative_error(const torch::Tensor &out, const torch::Tensor &ref) {
  return ((out.to(torch::kFloat64) - ref.to(torch::kFloat64)).abs().max() /
          ref.to(torch::kFloat64).abs().max().clamp_min(1e-12))
      .item<double>();
}

// What the packed product must reproduce: at::linear followed by the activation, computed in
// fp64 from the weights the pack was made from.
torch::Tensor reference(const sam3::Linear &linear, const torch::Tensor &x, Activation activation) {
  auto out = torch::nn::functional::linear(
      x.to(torch::kFloat64), linear->dense_weight().to(torch::kFloat64),
      linear->bias.defined() ? linear->bias.to(torch::kFloat64) : torch::Tensor());
  if (activation == Activation::kGelu)
    return torch::gelu(out);
  if (activation == Activation::kRelu)
    return torch::relu(out);
  return out;
}

class PackedLinear : public ::testing::Test {
protected:
  void SetUp() override {
    // The wheel's LibTorch is built with oneDNN; the pack is only skipped where it is not.
    ASSERT_TRUE(at::hasMKLDNN()) << "this LibTorch has no oneDNN: the CPU packs cannot be tested";
  }
};

TEST_F(PackedLinear, FollowsTheUnpackedProductForEachActivationAndDtype) {
  torch::NoGradGuard no_grad;
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (auto activation : {Activation::kNone, Activation::kGelu, Activation::kRelu}) {
      auto linear = seeded_linear(48, 80, activation);
      linear->to(dtype);
      // 3-D input, not contiguous: the rows are made the way the unpacked path makes them.
      auto x = torch::randn({5, 3, 48}).transpose(0, 1).to(dtype);
      const auto unpacked = linear(x);
      ASSERT_FALSE(linear->packed());
      if (!sam3::can_pack_for_cpu(dtype)) {
        // A CPU without a bf16 path in oneDNN: nothing is packed, the plain product serves.
        EXPECT_EQ(sam3::pack_linears_for_cpu(*linear, dtype), 0);
        continue;
      }
      ASSERT_EQ(sam3::pack_linears_for_cpu(*linear, dtype),
                dtype == torch::kFloat32 && activation == Activation::kNone ? 0 : 1);
      if (!linear->packed())
        linear->pack_for_cpu(dtype);
      const auto packed = linear(x);
      EXPECT_EQ(packed.sizes(), unpacked.sizes());
      EXPECT_EQ(packed.scalar_type(), dtype);
      const auto ref = reference(linear, x, activation);
      const double tolerance = dtype == torch::kFloat32 ? 1e-5 : 1e-2;
      EXPECT_LT(relative_error(packed, ref), tolerance)
          << "dtype " << dtype << " activation " << static_cast<int>(activation);
      EXPECT_LT(relative_error(unpacked, ref), tolerance);
    }
  }
}

TEST_F(PackedLinear, AWeightWithoutBiasPacks) {
  torch::NoGradGuard no_grad;
  auto linear = seeded_linear(32, 16, Activation::kNone, /*bias=*/false);
  auto x = torch::randn({7, 32});
  linear->pack_for_cpu(torch::kFloat32);
  ASSERT_TRUE(linear->packed());
  EXPECT_LT(relative_error(linear(x), reference(linear, x, Activation::kNone)), 1e-5);
}

TEST_F(PackedLinear, ServesFp32WeightsUnderBf16AutocastAsAutocastWould) {
  torch::NoGradGuard no_grad;
  auto linear = seeded_linear(64, 96, Activation::kGelu);
  auto x = torch::randn({10, 64});
  at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCPU, true);
  const auto unpacked = linear(x);
  ASSERT_EQ(sam3::pack_linears_for_cpu(*linear, torch::kBFloat16),
            sam3::can_pack_for_cpu(torch::kBFloat16) ? 1 : 0);
  const auto packed = linear(x);
  at::autocast::set_autocast_enabled(at::kCPU, false);
  at::autocast::clear_cache();
  EXPECT_EQ(unpacked.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(packed.scalar_type(), torch::kBFloat16);
  EXPECT_LT(relative_error(packed, unpacked), 2e-2);
  // Outside autocast the bf16 pack does not serve fp32 inputs: the fp32 weights do.
  const auto plain = linear(x);
  EXPECT_EQ(plain.scalar_type(), torch::kFloat32);
  EXPECT_LT(relative_error(plain, reference(linear, x, Activation::kGelu)), 1e-5);
}

TEST_F(PackedLinear, APackInTheWeightsDtypeIsItsOnlyCopyUntilMoved) {
  torch::NoGradGuard no_grad;
  auto linear = seeded_linear(16, 24, Activation::kRelu);
  const auto dense = linear->weight.clone();
  linear->pack_for_cpu(torch::kFloat32);
  ASSERT_TRUE(linear->packed());
  EXPECT_EQ(linear->weight.numel(), 0) << "the dense weight is kept beside its pack";
  EXPECT_TRUE(torch::equal(linear->dense_weight(), dense));
  linear->to(torch::kFloat64);
  EXPECT_FALSE(linear->packed());
  EXPECT_TRUE(torch::equal(linear->weight, dense.to(torch::kFloat64)));
  auto x = torch::randn({4, 16}, torch::kFloat64);
  EXPECT_LT(relative_error(linear(x), reference(linear, x, Activation::kRelu)), 1e-12);
}

TEST_F(PackedLinear, UnderAutogradTheProductIsUnpacked) {
  // A bf16 pack of fp32 weights (autocast's) keeps the weights: they still learn.
  auto kept = seeded_linear(8, 8, Activation::kGelu);
  if (sam3::can_pack_for_cpu(torch::kBFloat16))
    kept->pack_for_cpu(torch::kBFloat16);
  auto x = torch::randn({3, 8}, torch::requires_grad());
  auto out = kept(x);
  EXPECT_EQ(out.scalar_type(), torch::kFloat32);
  out.sum().backward();
  ASSERT_TRUE(kept->weight.grad().defined());
  EXPECT_GT(kept->weight.grad().abs().sum().item<double>(), 0.0);
  // A pack that replaced the weights still passes the input's gradient.
  auto replaced = seeded_linear(8, 8, Activation::kGelu);
  replaced->pack_for_cpu(torch::kFloat32);
  auto y = torch::randn({3, 8}, torch::requires_grad());
  replaced(y).sum().backward();
  ASSERT_TRUE(y.grad().defined());
  EXPECT_GT(y.grad().abs().sum().item<double>(), 0.0);
}

TEST_F(PackedLinear, PacksOnlyWhatTheComputeDtypeSpeedsUp) {
  sam3::FeedForward gelu(16, 32, "gelu");
  EXPECT_EQ(sam3::pack_linears_for_cpu(*gelu, torch::kFloat32), 1); // fc1, with its GELU
  EXPECT_TRUE(gelu->fc1->packed());
  EXPECT_FALSE(gelu->fc2->packed());
  sam3::FeedForward relu(16, 32, "relu");
  relu->to(torch::kBFloat16);
  EXPECT_EQ(sam3::pack_linears_for_cpu(*relu, torch::kBFloat16),
            sam3::can_pack_for_cpu(torch::kBFloat16) ? 2 : 0);
  EXPECT_EQ(relu->fc2->packed(), sam3::can_pack_for_cpu(torch::kBFloat16));
  EXPECT_EQ(sam3::pack_linears_for_cpu(*relu, torch::kFloat16), 0);
}

} // namespace

namespace sam3 {
namespace {

// A 1x1 convolution on channels-last input runs as a GEMM: the same values as the
// convolution, and a channels-last output; every other case is the convolution itself.
TEST(PointwiseConv, IsTheConvolutionAsAMatrixProduct) {
  torch::manual_seed(5);
  torch::NoGradGuard no_grad;
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(24, 16, 1));
  const auto x = torch::randn({2, 24, 9, 7});
  const auto cl = x.contiguous(at::MemoryFormat::ChannelsLast);
  const auto expected = conv->forward(x);
  const auto out = pointwise_conv(conv, cl);
  EXPECT_TRUE(out.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_FALSE(out.is_contiguous()) << "the product's layout, not the convolution's";
  EXPECT_TRUE(torch::allclose(out, expected, 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(pointwise_conv(conv, x), expected)) << "NCHW input: the convolution";

  torch::nn::Conv2d no_bias(torch::nn::Conv2dOptions(24, 1, 1).bias(false));
  EXPECT_TRUE(torch::allclose(pointwise_conv(no_bias, cl), no_bias->forward(x), 1e-5, 1e-5));

  torch::nn::Conv2d bf16(torch::nn::Conv2dOptions(24, 16, 1));
  bf16->to(torch::kBFloat16);
  EXPECT_TRUE(torch::allclose(pointwise_conv(bf16, cl.to(torch::kBFloat16)).to(torch::kFloat32),
                              bf16->forward(x.to(torch::kBFloat16)).to(torch::kFloat32), 2e-2,
                              2e-2));

  for (auto options : {torch::nn::Conv2dOptions(24, 16, 3).padding(1),
                       torch::nn::Conv2dOptions(24, 16, 1).stride(2),
                       torch::nn::Conv2dOptions(24, 16, 1).padding(1),
                       torch::nn::Conv2dOptions(24, 16, 1).groups(2)}) {
    torch::nn::Conv2d other(options);
    EXPECT_TRUE(torch::equal(pointwise_conv(other, cl), other->forward(cl)));
  }
}

} // namespace
} // namespace sam3
