// The tracker's memory encoder and memory attention at the tiny video sizes (C=32, mem=16,
// g=8): shapes, transformers' parameter names, and agreement with computations written out
// here from the reference's definitions.
#include "model/test_model.h"
#include "tracker/memory_attention.h"
#include "tracker/memory_encoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace {

using sam3::TrackerConfig;

constexpr double kPi = 3.14159265358979323846;

TrackerConfig tiny() {
  return sam3::tiny_video_test_config().tracker;
}

// Every parameter drawn at random, so a wrong wiring cannot hide behind identity-like
// default initialisations (LayerNorm 1/0, layer scale 1e-6).
void randomise(torch::nn::Module &module, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto &p : module.parameters())
    p.normal_(0.0, 0.3);
}

std::vector<std::string> names(const torch::nn::Module &module) {
  std::vector<std::string> out;
  for (const auto &item : module.named_parameters())
    out.push_back(item.key());
  std::sort(out.begin(), out.end());
  return out;
}

void expect_close(const torch::Tensor &a, const torch::Tensor &b, double tol) {
  ASSERT_EQ(a.sizes(), b.sizes());
  EXPECT_LT((a - b).abs().max().item<double>(), tol);
}

// ---- memory encoder ------------------------------------------------------------------

TEST(TrackerMemoryEncoder, ParameterNamesFollowTransformers) {
  sam3::TrackerMemoryEncoder encoder(tiny());
  std::vector<std::string> expected;
  for (int i = 0; i < 4; ++i)
    for (const char *p : {"conv.bias", "conv.weight", "layer_norm.bias", "layer_norm.weight"})
      expected.push_back("mask_downsampler.layers." + std::to_string(i) + "." + p);
  for (const char *p : {"mask_downsampler.final_conv.bias", "mask_downsampler.final_conv.weight",
                        "feature_projection.bias", "feature_projection.weight", "projection.bias",
                        "projection.weight"})
    expected.push_back(p);
  for (int i = 0; i < 2; ++i)
    for (const char *p : {"depthwise_conv.bias", "depthwise_conv.weight", "layer_norm.bias",
                          "layer_norm.weight", "pointwise_conv1.bias", "pointwise_conv1.weight",
                          "pointwise_conv2.bias", "pointwise_conv2.weight", "scale"})
      expected.push_back("memory_fuser.layers." + std::to_string(i) + "." + p);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names(*encoder), expected);
  EXPECT_TRUE(encoder->named_buffers().is_empty());

  // Channels 1 -> 4 -> 16 -> 64 -> 256 (stride 2 squared per layer), then to the width.
  auto params = encoder->named_parameters();
  EXPECT_EQ(params["mask_downsampler.layers.0.conv.weight"].sizes(),
            (std::vector<int64_t>{4, 1, 3, 3}));
  EXPECT_EQ(params["mask_downsampler.layers.3.conv.weight"].sizes(),
            (std::vector<int64_t>{256, 64, 3, 3}));
  EXPECT_EQ(params["mask_downsampler.final_conv.weight"].sizes(),
            (std::vector<int64_t>{32, 256, 1, 1}));
  EXPECT_EQ(params["memory_fuser.layers.0.depthwise_conv.weight"].sizes(),
            (std::vector<int64_t>{32, 1, 7, 7}));
  EXPECT_EQ(params["memory_fuser.layers.1.pointwise_conv1.weight"].sizes(),
            (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(params["projection.weight"].sizes(), (std::vector<int64_t>{16, 32, 1, 1}));
}

TEST(TrackerMemoryEncoder, ShapesForOneAndTwoObjects) {
  sam3::TrackerMemoryEncoder encoder(tiny());
  randomise(*encoder, 1);
  torch::NoGradGuard no_grad;
  for (int64_t n : {1, 2}) {
    // 4g x 4g masks (the low-resolution size) and 16g x 16g ones (already the input size).
    for (int64_t side : {32, 128}) {
      auto [features, position] =
          encoder(torch::randn({n, 32, 8, 8}), torch::randn({n, 1, side, side}));
      EXPECT_EQ(features.sizes(), (std::vector<int64_t>{n, 16, 8, 8}));
      EXPECT_EQ(position.sizes(), (std::vector<int64_t>{n, 16, 8, 8}));
    }
  }
}

// The whole encoder written out with functional ops and the module's own weights.
TEST(TrackerMemoryEncoder, MatchesHandAssembledReference) {
  namespace F = torch::nn::functional;
  sam3::TrackerMemoryEncoder encoder(tiny());
  randomise(*encoder, 2);
  torch::NoGradGuard no_grad;
  auto p = encoder->named_parameters();
  auto ln2d = [&](const torch::Tensor &x, const std::string &prefix) {
    auto mean = x.mean(1, true);
    auto var = (x - mean).pow(2).mean(1, true);
    auto y = (x - mean) / torch::sqrt(var + 1e-6);
    return y * p[prefix + ".weight"].view({1, -1, 1, 1}) + p[prefix + ".bias"].view({1, -1, 1, 1});
  };
  auto features = torch::randn({2, 32, 8, 8});
  auto masks = torch::randn({2, 1, 128, 128}) * 10;

  auto m = masks;
  for (int i = 0; i < 4; ++i) {
    const std::string l = "mask_downsampler.layers." + std::to_string(i);
    m = F::conv2d(m, p[l + ".conv.weight"],
                  F::Conv2dFuncOptions().bias(p[l + ".conv.bias"]).stride(2).padding(1));
    m = torch::gelu(ln2d(m, l + ".layer_norm"));
  }
  m = F::conv2d(m, p["mask_downsampler.final_conv.weight"],
                F::Conv2dFuncOptions().bias(p["mask_downsampler.final_conv.bias"]));
  auto x = F::conv2d(features, p["feature_projection.weight"],
                     F::Conv2dFuncOptions().bias(p["feature_projection.bias"])) +
           m;
  for (int i = 0; i < 2; ++i) {
    const std::string l = "memory_fuser.layers." + std::to_string(i);
    auto h =
        F::conv2d(x, p[l + ".depthwise_conv.weight"],
                  F::Conv2dFuncOptions().bias(p[l + ".depthwise_conv.bias"]).padding(3).groups(32));
    h = ln2d(h, l + ".layer_norm").permute({0, 2, 3, 1});
    h = torch::gelu(F::linear(h, p[l + ".pointwise_conv1.weight"], p[l + ".pointwise_conv1.bias"]));
    h = F::linear(h, p[l + ".pointwise_conv2.weight"], p[l + ".pointwise_conv2.bias"]);
    x = x + (h * p[l + ".scale"]).permute({0, 3, 1, 2});
  }
  auto expected =
      F::conv2d(x, p["projection.weight"], F::Conv2dFuncOptions().bias(p["projection.bias"]));

  auto [actual, position] = encoder(features, masks);
  expect_close(actual, expected, 1e-3 * expected.abs().max().item<double>());
}

TEST(TrackerMemoryEncoder, SmallMasksAreResizedToSixteenTimesTheGrid) {
  sam3::TrackerMemoryEncoder encoder(tiny());
  randomise(*encoder, 3);
  torch::NoGradGuard no_grad;
  auto features = torch::randn({1, 32, 8, 8});
  // A constant mask stays constant under any resize, so both sizes must encode alike; a
  // 32 x 32 mask fed to the strided convs unresized would give a 2 x 2 map and fail to add.
  auto [small, pos_small] = encoder(features, torch::full({1, 1, 32, 32}, 7.0));
  auto [large, pos_large] = encoder(features, torch::full({1, 1, 128, 128}, 7.0));
  expect_close(small, large, 1e-4);
  // The mask matters: an inverted one gives another memory.
  auto [inverted, pos_inverted] = encoder(features, torch::full({1, 1, 32, 32}, -7.0));
  EXPECT_GT((inverted - small).abs().max().item<double>(), 1e-2);
}

TEST(TrackerMemoryEncoder, PositionEncodingIsTheNormalisedSineOfTheGrid) {
  sam3::TrackerMemoryEncoder encoder(tiny());
  torch::NoGradGuard no_grad;
  auto [features, position] = encoder(torch::randn({2, 32, 8, 8}), torch::zeros({2, 1, 128, 128}));
  // 8 channels per axis (y first, then x); channel c uses 10000^(2*floor(c/2)/8), even
  // channels sin, odd cos, of the position (i + 1) / 8 * 2 pi.
  const int feats = 8, g = 8;
  auto value = [&](int c, int y, int x) {
    const bool is_y = c < feats;
    const int k = is_y ? c : c - feats;
    const double embed = ((is_y ? y : x) + 1) / (g + 1e-6) * 2 * kPi;
    const double angle = embed / std::pow(10000.0, 2.0 * (k / 2) / feats);
    return k % 2 == 0 ? std::sin(angle) : std::cos(angle);
  };
  for (auto [c, y, x] : std::vector<std::array<int, 3>>{
           {0, 0, 0}, {1, 3, 5}, {6, 7, 2}, {8, 4, 0}, {9, 2, 6}, {15, 7, 7}, {12, 5, 1}}) {
    for (int n = 0; n < 2; ++n)
      EXPECT_NEAR(position[n][c][y][x].item<double>(), value(c, y, x), 1e-5)
          << "channel " << c << " at (" << x << ", " << y << ")";
  }
}

TEST(TrackerMemoryEncoder, RejectsBadInput) {
  sam3::TrackerMemoryEncoder encoder(tiny());
  auto expect_error = [&](const torch::Tensor &f, const torch::Tensor &m, const std::string &what) {
    try {
      encoder(f, m);
      ADD_FAILURE() << "no error for " << what;
    } catch (const std::exception &e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  auto f = torch::randn({1, 32, 8, 8});
  auto m = torch::randn({1, 1, 32, 32});
  expect_error(torch::randn({1, 32, 4, 4}), m, "vision_features must be");
  expect_error(torch::randn({1, 16, 8, 8}), m, "vision_features must be");
  expect_error(f, torch::randn({1, 2, 32, 32}), "masks must be (N, 1, H, W)");
  expect_error(f, torch::randn({2, 1, 32, 32}), "2 masks for 1 feature maps");
  expect_error(f, torch::ones({1, 1, 32, 32}, torch::kLong), "floating point");
  expect_error(f, torch::Tensor(), "masks must be");
}

// ---- memory attention ----------------------------------------------------------------

TEST(TrackerMemoryAttention, ParameterNamesFollowTransformers) {
  sam3::TrackerMemoryAttention attention(tiny());
  std::vector<std::string> expected = {"layer_norm.bias", "layer_norm.weight"};
  for (int i = 0; i < 2; ++i) {
    const std::string l = "layers." + std::to_string(i) + ".";
    for (const char *a : {"self_attn", "cross_attn_image"})
      for (const char *proj : {"q_proj", "k_proj", "v_proj", "o_proj"})
        for (const char *t : {".weight", ".bias"})
          expected.push_back(l + a + "." + proj + t);
    for (const char *p : {"linear1", "linear2", "layer_norm1", "layer_norm2", "layer_norm3"})
      for (const char *t : {".weight", ".bias"})
        expected.push_back(l + p + t);
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names(*attention), expected);
  EXPECT_TRUE(attention->named_buffers().is_empty());
  auto params = attention->named_parameters();
  // Keys and values come from the 16-channel memory.
  EXPECT_EQ(params["layers.0.cross_attn_image.k_proj.weight"].sizes(),
            (std::vector<int64_t>{32, 16}));
  EXPECT_EQ(params["layers.0.cross_attn_image.v_proj.weight"].sizes(),
            (std::vector<int64_t>{32, 16}));
  EXPECT_EQ(params["layers.1.linear1.weight"].sizes(), (std::vector<int64_t>{64, 32}));
}

// Reference rotation written from the definition: pair j of a head_dim-wide head turns by
// x * theta^(-4j/hd) for the first hd/4 pairs and y * theta^(-4(j - hd/4)/hd) for the rest,
// where (x, y) is the token's place on the g x g grid.
torch::Tensor rotate_ref(const torch::Tensor &t, const std::vector<int64_t> &positions, int64_t g,
                         double theta) {
  const int64_t hd = t.size(-1), pairs = hd / 2, quarter = hd / 4;
  auto angle = torch::zeros({static_cast<int64_t>(positions.size()), pairs}, torch::kDouble);
  for (size_t i = 0; i < positions.size(); ++i) {
    const int64_t pos = positions[i];
    if (pos < 0)
      continue;
    for (int64_t j = 0; j < pairs; ++j) {
      const int64_t k = j < quarter ? j : j - quarter;
      const double coordinate = j < quarter ? pos % g : pos / g;
      angle[i][j] = coordinate * std::pow(theta, -4.0 * k / hd);
    }
  }
  auto c = angle.cos().to(t.scalar_type()), s = angle.sin().to(t.scalar_type());
  auto pair = t.view({t.size(0), t.size(1), t.size(2), pairs, 2});
  auto a = pair.select(-1, 0), b = pair.select(-1, 1);
  return torch::stack({a * c - b * s, a * s + b * c}, -1).flatten(-2);
}

torch::Tensor attention_ref(torch::OrderedDict<std::string, torch::Tensor> &p,
                            const std::string &prefix, const torch::Tensor &query,
                            const torch::Tensor &key, const torch::Tensor &value,
                            const std::vector<int64_t> &q_positions,
                            const std::vector<int64_t> &k_positions, int64_t heads, int64_t g) {
  namespace F = torch::nn::functional;
  auto proj = [&](const torch::Tensor &x, const char *name) {
    return F::linear(x, p[prefix + name + ".weight"], p[prefix + name + ".bias"]);
  };
  auto split = [&](const torch::Tensor &x) {
    return x.view({x.size(0), x.size(1), heads, -1}).transpose(1, 2);
  };
  auto q = rotate_ref(split(proj(query, "q_proj")), q_positions, g, 10000.0);
  auto k = rotate_ref(split(proj(key, "k_proj")), k_positions, g, 10000.0);
  auto v = split(proj(value, "v_proj"));
  auto weights = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(q.size(-1)), -1);
  auto out = torch::matmul(weights, v).transpose(1, 2).reshape({query.size(0), query.size(1), -1});
  return proj(out, "o_proj");
}

// The module written out: x = current + 0.1 pos; per layer pre-norm self-attention, cross
// attention to (memory + memory_pos, memory), ReLU feed-forward; final LayerNorm (eps 1e-5).
// `rotate_pointers` rotates the pointer tokens too (as if they were more grid tokens), to
// show that the test can tell.
torch::Tensor memory_attention_ref(sam3::TrackerMemoryAttention &module, const TrackerConfig &cfg,
                                   const torch::Tensor &current, const torch::Tensor &current_pos,
                                   const torch::Tensor &memory, const torch::Tensor &memory_pos,
                                   int64_t pointers, bool rotate_pointers) {
  namespace F = torch::nn::functional;
  auto p = module->named_parameters();
  const int64_t g = cfg.grid(), L = g * g, M = memory.size(1);
  const int64_t heads = cfg.memory_attention_num_attention_heads;
  std::vector<int64_t> q_pos, k_pos;
  for (int64_t i = 0; i < L; ++i)
    q_pos.push_back(i);
  for (int64_t i = 0; i < M; ++i)
    k_pos.push_back(i < M - pointers || rotate_pointers ? i % L : -1);
  auto ln = [&](const torch::Tensor &x, const std::string &name) {
    return F::layer_norm(x, F::LayerNormFuncOptions({x.size(-1)})
                                .weight(p[name + ".weight"])
                                .bias(p[name + ".bias"])
                                .eps(1e-5));
  };
  auto x = current + 0.1 * current_pos;
  for (int64_t i = 0; i < cfg.memory_attention_num_layers; ++i) {
    const std::string l = "layers." + std::to_string(i) + ".";
    auto h = ln(x, l + "layer_norm1");
    x = x + attention_ref(p, l + "self_attn.", h, h, h, q_pos, q_pos, heads, g);
    h = ln(x, l + "layer_norm2");
    x = x + attention_ref(p, l + "cross_attn_image.", h, memory + memory_pos, memory, q_pos, k_pos,
                          heads, g);
    h = torch::relu(
        F::linear(ln(x, l + "layer_norm3"), p[l + "linear1.weight"], p[l + "linear1.bias"]));
    x = x + F::linear(h, p[l + "linear2.weight"], p[l + "linear2.bias"]);
  }
  return ln(x, "layer_norm");
}

struct AttentionInputs {
  torch::Tensor current, current_pos, memory, memory_pos;
};

AttentionInputs random_inputs(int64_t n, int64_t frames, int64_t pointers) {
  const int64_t M = frames * 64 + pointers;
  return {torch::randn({n, 64, 32}), torch::randn({n, 64, 32}), torch::randn({n, M, 16}),
          torch::randn({n, M, 16})};
}

TEST(TrackerMemoryAttention, ShapesForOneAndTwoObjects) {
  sam3::TrackerMemoryAttention attention(tiny());
  randomise(*attention, 4);
  torch::NoGradGuard no_grad;
  for (int64_t n : {1, 2}) {
    auto in = random_inputs(n, 2, 8);
    auto out = attention(in.current, in.current_pos, in.memory, in.memory_pos, 8);
    EXPECT_EQ(out.sizes(), (std::vector<int64_t>{n, 64, 32}));
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  }
}

TEST(TrackerMemoryAttention, ObjectsInABatchAreIndependent) {
  sam3::TrackerMemoryAttention attention(tiny());
  randomise(*attention, 5);
  torch::NoGradGuard no_grad;
  auto in = random_inputs(2, 3, 4);
  auto both = attention(in.current, in.current_pos, in.memory, in.memory_pos, 4);
  for (int64_t i = 0; i < 2; ++i) {
    auto one = attention(in.current.slice(0, i, i + 1), in.current_pos.slice(0, i, i + 1),
                         in.memory.slice(0, i, i + 1), in.memory_pos.slice(0, i, i + 1), 4);
    expect_close(both.slice(0, i, i + 1), one, 1e-4);
  }
}

TEST(TrackerMemoryAttention, MatchesHandAssembledReferenceWithUnrotatedPointers) {
  for (int64_t heads : {1, 2}) {
    TrackerConfig cfg = tiny();
    cfg.memory_attention_num_attention_heads = heads;
    sam3::TrackerMemoryAttention attention(cfg);
    randomise(*attention, 6 + heads);
    torch::NoGradGuard no_grad;
    auto in = random_inputs(2, 2, 8);
    auto out = attention(in.current, in.current_pos, in.memory, in.memory_pos, 8);
    auto expected = memory_attention_ref(attention, cfg, in.current, in.current_pos, in.memory,
                                         in.memory_pos, 8, false);
    expect_close(out, expected, 1e-3);
    // Rotating the pointer tokens as well changes the result clearly, so the agreement above
    // pins down that they are left unrotated.
    auto wrong = memory_attention_ref(attention, cfg, in.current, in.current_pos, in.memory,
                                      in.memory_pos, 8, true);
    EXPECT_GT((wrong - out).abs().max().item<double>(), 1e-2) << heads << " heads";
  }
}

TEST(TrackerMemoryAttention, EveryMemoryFrameTakesTheSameRotaryTable) {
  sam3::TrackerMemoryAttention attention(tiny());
  randomise(*attention, 9);
  torch::NoGradGuard no_grad;
  // Attention is a weighted mean over keys: a memory holding one frame twice (same tokens,
  // same positions) must act exactly like that frame alone. It would not if the second copy
  // were rotated by positions continuing past the first frame.
  auto in = random_inputs(1, 1, 0);
  auto once = attention(in.current, in.current_pos, in.memory, in.memory_pos, 0);
  auto twice = attention(in.current, in.current_pos, torch::cat({in.memory, in.memory}, 1),
                         torch::cat({in.memory_pos, in.memory_pos}, 1), 0);
  expect_close(once, twice, 1e-4);
}

TEST(TrackerMemoryAttention, PointerOnlyMemoryWorks) {
  TrackerConfig cfg = tiny();
  sam3::TrackerMemoryAttention attention(cfg);
  randomise(*attention, 10);
  torch::NoGradGuard no_grad;
  auto in = random_inputs(1, 0, 4);
  auto out = attention(in.current, in.current_pos, in.memory, in.memory_pos, 4);
  auto expected = memory_attention_ref(attention, cfg, in.current, in.current_pos, in.memory,
                                       in.memory_pos, 4, false);
  expect_close(out, expected, 1e-3);
}

TEST(TrackerMemoryAttention, RejectsBadInput) {
  sam3::TrackerMemoryAttention attention(tiny());
  auto in = random_inputs(1, 1, 4);
  auto expect_error = [&](const torch::Tensor &c, const torch::Tensor &cp, const torch::Tensor &m,
                          const torch::Tensor &mp, int64_t pointers, const std::string &what) {
    try {
      attention(c, cp, m, mp, pointers);
      ADD_FAILURE() << "no error for " << what;
    } catch (const std::exception &e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error(torch::randn({1, 49, 32}), torch::randn({1, 49, 32}), in.memory, in.memory_pos, 4,
               "current must be (N, 64, 32)");
  expect_error(in.current, torch::randn({1, 64, 16}), in.memory, in.memory_pos, 4,
               "current_pos must have the shape");
  expect_error(in.current, in.current_pos, torch::randn({1, 68, 32}), torch::randn({1, 68, 32}), 4,
               "memory must be (1, M > 0, 16)");
  expect_error(in.current, in.current_pos, in.memory, in.memory_pos.slice(1, 0, 60), 4,
               "memory_pos must have the shape");
  expect_error(in.current, in.current_pos, in.memory, in.memory_pos, 5,
               "63 spatial memory tokens are not a whole number of 64-token frames");
  expect_error(in.current, in.current_pos, in.memory, in.memory_pos, 69, "object-pointer tokens");
  expect_error(in.current, in.current_pos, torch::randn({2, 68, 16}), torch::randn({2, 68, 16}), 4,
               "memory must be");
}

TEST(TrackerMemoryAttention, RejectsConfigWithoutAxialHeadSize) {
  TrackerConfig cfg = tiny();
  cfg.memory_attention_num_attention_heads = 4; // head dim 8: fine
  EXPECT_NO_THROW(sam3::TrackerMemoryAttention{cfg});
  cfg.memory_attention_hidden_size = 24;
  cfg.memory_attention_num_attention_heads = 3; // head dim 8 of 24: fine
  EXPECT_NO_THROW(sam3::TrackerMemoryAttention{cfg});
  cfg.memory_attention_num_attention_heads = 4; // head dim 6: no axial split
  EXPECT_THROW(sam3::TrackerMemoryAttention{cfg}, std::exception);
}

} // namespace
