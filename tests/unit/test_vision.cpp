#include "vision/neck.h"
#include "vision/position_encoding.h"
#include "vision/rope.h"
#include "vision/vision_encoder.h"
#include "vision/vit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace {

using sam3::VisionConfig;
using sam3::VitConfig;

// hidden 32, 2 layers (layer 1 global), 4 heads (head_dim 8), 112/14 -> 8x8 grid, window 4,
// pretrain 56/14 -> 4x4 position grid tiled 2x2, fpn 16.
VisionConfig tiny_config() {
  VisionConfig config;
  VitConfig &vit = config.backbone;
  vit.hidden_size = 32;
  vit.intermediate_size = 64;
  vit.num_hidden_layers = 2;
  vit.num_attention_heads = 4;
  vit.image_size = 112;
  vit.patch_size = 14;
  vit.window_size = 4;
  vit.global_attn_indexes = {1};
  vit.pretrain_image_size = 56;
  config.fpn_hidden_size = 16;
  config.backbone_feature_sizes = {{32, 32}, {16, 16}, {8, 8}};
  config.scale_factors = {4.0, 2.0, 1.0, 0.5};
  return config;
}

// Every parameter random, so that norms, biases and position embeddings all matter.
void randomize(torch::nn::Module &module, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto &p : module.parameters())
    p.normal_(0.0, 0.5);
}

std::map<std::string, std::vector<int64_t>> shapes_of(const torch::nn::Module &module) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto &item : module.named_parameters())
    out[item.key()] = item.value().sizes().vec();
  return out;
}

TEST(Vision, ParameterNamesAndShapesMatchTransformers) {
  sam3::VisionEncoder encoder(tiny_config());
  std::map<std::string, std::vector<int64_t>> expected = {
      {"backbone.embeddings.patch_embeddings.projection.weight", {32, 3, 14, 14}},
      {"backbone.embeddings.position_embeddings", {1, 16, 32}},
      {"backbone.layer_norm.weight", {32}},
      {"backbone.layer_norm.bias", {32}},
  };
  for (const std::string layer : {"0", "1"}) {
    const auto p = "backbone.layers." + layer + ".";
    for (const std::string norm : {"layer_norm1", "layer_norm2"}) {
      expected[p + norm + ".weight"] = {32};
      expected[p + norm + ".bias"] = {32};
    }
    for (const std::string proj : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      expected[p + "attention." + proj + ".weight"] = {32, 32};
      expected[p + "attention." + proj + ".bias"] = {32};
    }
    expected[p + "mlp.fc1.weight"] = {64, 32};
    expected[p + "mlp.fc1.bias"] = {64};
    expected[p + "mlp.fc2.weight"] = {32, 64};
    expected[p + "mlp.fc2.bias"] = {32};
  }
  // ConvTranspose2d weights are (in, out, k, k).
  const std::string n = "neck.fpn_layers.";
  expected[n + "0.scale_layers.0.weight"] = {32, 16, 2, 2};
  expected[n + "0.scale_layers.0.bias"] = {16};
  expected[n + "0.scale_layers.2.weight"] = {16, 8, 2, 2};
  expected[n + "0.scale_layers.2.bias"] = {8};
  expected[n + "0.proj1.weight"] = {16, 8, 1, 1};
  expected[n + "1.scale_layers.0.weight"] = {32, 16, 2, 2};
  expected[n + "1.scale_layers.0.bias"] = {16};
  expected[n + "1.proj1.weight"] = {16, 16, 1, 1};
  expected[n + "2.proj1.weight"] = {16, 32, 1, 1};
  expected[n + "3.proj1.weight"] = {16, 32, 1, 1};
  for (const std::string level : {"0", "1", "2", "3"}) {
    expected[n + level + ".proj1.bias"] = {16};
    expected[n + level + ".proj2.weight"] = {16, 16, 3, 3};
    expected[n + level + ".proj2.bias"] = {16};
  }
  EXPECT_EQ(shapes_of(*encoder), expected);
  // The RoPE tables are derived state: no buffer may be required from a weights file.
  EXPECT_TRUE(encoder->named_buffers().is_empty());
}

TEST(Vision, OutputShapesPerLevel) {
  sam3::VisionEncoder encoder(tiny_config());
  randomize(*encoder, 1);
  torch::NoGradGuard no_grad;
  auto features = encoder->forward(torch::randn({2, 3, 112, 112}));
  EXPECT_EQ(features.backbone.sizes(), torch::IntArrayRef({2, 32, 8, 8}));
  ASSERT_EQ(features.fpn.size(), 4u);
  ASSERT_EQ(features.fpn_pos.size(), 4u);
  const std::vector<int64_t> sizes = {32, 16, 8, 4};
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(features.fpn[i].sizes(), torch::IntArrayRef({2, 16, sizes[i], sizes[i]})) << i;
    EXPECT_EQ(features.fpn_pos[i].sizes(), features.fpn[i].sizes()) << i;
    auto expected_pos =
        sam3::PositionEmbeddingSine(8, 10000.0, true)(2, sizes[i], sizes[i], torch::kFloat);
    EXPECT_TRUE(torch::equal(features.fpn_pos[i], expected_pos)) << i;
  }
}

TEST(Vision, NeckLevelsApplyTheirScaleOpsThenProjections) {
  auto config = tiny_config();
  sam3::VisionNeck neck(config);
  randomize(*neck, 2);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 32, 8, 8});
  auto out = neck->forward(x);
  auto layer = [&](size_t i) { return neck->fpn_layers[i]->as<sam3::FpnLayerImpl>(); };
  auto project = [&](size_t i, const torch::Tensor &t) {
    return layer(i)->proj2(layer(i)->proj1(t));
  };
  auto up0 = layer(0)->scale_layers[0]->as<torch::nn::ConvTranspose2dImpl>();
  auto up1 = layer(0)->scale_layers[2]->as<torch::nn::ConvTranspose2dImpl>();
  auto x4 = up1->forward(torch::gelu(up0->forward(x)));
  auto x2 = layer(1)->scale_layers[0]->as<torch::nn::ConvTranspose2dImpl>()->forward(x);
  auto xhalf = torch::max_pool2d(x, 2, 2);
  EXPECT_TRUE(torch::allclose(out.fpn[0], project(0, x4), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(out.fpn[1], project(1, x2), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(out.fpn[2], project(2, x), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(out.fpn[3], project(3, xhalf), 1e-5, 1e-5));
}

TEST(Vision, EncoderFeedsBackboneOutputToNeck) {
  sam3::VisionEncoder encoder(tiny_config());
  randomize(*encoder, 3);
  torch::NoGradGuard no_grad;
  auto pixels = torch::randn({1, 3, 112, 112});
  auto features = encoder->forward(pixels);
  auto backbone = encoder->backbone->forward(pixels);
  EXPECT_TRUE(torch::equal(features.backbone, backbone));
  auto levels = encoder->neck->forward(backbone);
  for (size_t i = 0; i < levels.fpn.size(); ++i)
    EXPECT_TRUE(torch::equal(features.fpn[i], levels.fpn[i])) << i;
}

TEST(Vision, ViTComposesEmbeddingsNormAndLayers) {
  sam3::ViT vit(tiny_config().backbone);
  randomize(*vit, 4);
  torch::NoGradGuard no_grad;
  auto pixels = torch::randn({2, 3, 112, 112});
  auto weight = vit->embeddings->patch_embeddings->projection->weight;
  auto patches = torch::conv2d(pixels, weight, torch::Tensor(), 14).permute({0, 2, 3, 1});
  auto pos = sam3::tile_position_embeddings(vit->embeddings->position_embeddings, 8, 8)
                 .reshape({1, 8, 8, 32});
  auto hidden = vit->layer_norm(patches + pos);
  hidden = vit->layers[0]->as<sam3::ViTLayerImpl>()->forward(hidden);
  hidden = vit->layers[1]->as<sam3::ViTLayerImpl>()->forward(hidden);
  EXPECT_TRUE(torch::allclose(vit->forward(pixels), hidden.permute({0, 3, 1, 2}), 1e-5, 1e-5));
  EXPECT_EQ(vit->layers[0]->as<sam3::ViTLayerImpl>()->window(), 4);
  EXPECT_EQ(vit->layers[1]->as<sam3::ViTLayerImpl>()->window(), 0);
}

TEST(Vision, TiledPositionEmbeddingRepeatsThePretrainGrid) {
  torch::manual_seed(5);
  auto table = torch::randn({1, 16, 6});
  for (int64_t size : {8, 6, 4}) {
    auto tiled = sam3::tile_position_embeddings(table, size, size);
    ASSERT_EQ(tiled.sizes(), torch::IntArrayRef({1, size * size, 6}));
    for (int64_t y = 0; y < size; ++y)
      for (int64_t x = 0; x < size; ++x)
        EXPECT_TRUE(torch::equal(tiled[0][y * size + x], table[0][(y % 4) * 4 + x % 4]))
            << size << " " << y << "," << x;
  }
  EXPECT_THROW(sam3::tile_position_embeddings(torch::randn({1, 15, 6}), 8, 8), std::exception);
}

TEST(Vision, EmbeddingsAddTiledPositionsToPatches) {
  sam3::ViTEmbeddings embeddings(tiny_config().backbone);
  randomize(*embeddings, 6);
  torch::NoGradGuard no_grad;
  embeddings->patch_embeddings->projection->weight.zero_();
  auto out = embeddings->forward(torch::randn({1, 3, 112, 112}));
  EXPECT_TRUE(
      torch::equal(out, sam3::tile_position_embeddings(embeddings->position_embeddings, 8, 8)));
}

TEST(Vision, WindowPartitionRoundTripsAndPads) {
  torch::manual_seed(7);
  auto x = torch::randn({2, 8, 8, 3});
  auto [windows, padded] = sam3::window_partition(x, 4);
  EXPECT_EQ(windows.sizes(), torch::IntArrayRef({8, 4, 4, 3}));
  EXPECT_EQ(padded, (std::pair<int64_t, int64_t>{8, 8}));
  // Windows are row-major per image: window 1 of image 0 is rows 0-3, columns 4-7.
  EXPECT_TRUE(torch::equal(windows[1], x[0].slice(0, 0, 4).slice(1, 4, 8)));
  EXPECT_TRUE(torch::equal(windows[6], x[1].slice(0, 4, 8).slice(1, 0, 4)));
  EXPECT_TRUE(torch::equal(sam3::window_unpartition(windows, 4, padded, {8, 8}), x));

  auto odd = torch::randn({1, 6, 6, 3});
  auto [odd_windows, odd_padded] = sam3::window_partition(odd, 4);
  EXPECT_EQ(odd_windows.sizes(), torch::IntArrayRef({4, 4, 4, 3}));
  EXPECT_EQ(odd_padded, (std::pair<int64_t, int64_t>{8, 8}));
  EXPECT_TRUE(torch::equal(odd_windows[3].slice(0, 0, 2).slice(1, 0, 2),
                           odd[0].slice(0, 4, 6).slice(1, 4, 6)));
  EXPECT_EQ(odd_windows[3].slice(0, 2, 4).abs().sum().item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(sam3::window_unpartition(odd_windows, 4, odd_padded, {6, 6}), odd));
}

// Angle of channel pair p for a token at (x, y), by the formula of the reference notes.
double rope_angle(int64_t pair, int64_t head_dim, double x, double y, double theta) {
  const auto quarter = head_dim / 4;
  const auto j = pair % quarter;
  const double freq = std::pow(theta, -4.0 * static_cast<double>(j) / head_dim);
  return (pair < quarter ? x : y) * freq;
}

void expect_tables_match_formula(const sam3::RopeTables &tables, int64_t head_dim, int64_t grid,
                                 double scale) {
  ASSERT_EQ(tables.cos.sizes(), torch::IntArrayRef({grid * grid, head_dim}));
  auto c = tables.cos.accessor<float, 2>();
  auto s = tables.sin.accessor<float, 2>();
  for (int64_t t = 0; t < grid * grid; ++t) {
    const double x = (t % grid) * scale, y = (t / grid) * scale;
    for (int64_t ch = 0; ch < head_dim; ++ch) {
      const double angle = rope_angle(ch / 2, head_dim, x, y, 10000.0);
      EXPECT_NEAR(c[t][ch], std::cos(angle), 1e-5) << t << " " << ch;
      EXPECT_NEAR(s[t][ch], std::sin(angle), 1e-5) << t << " " << ch;
    }
  }
}

TEST(Vision, RopeTablesMatchAxialFormula) {
  expect_tables_match_formula(sam3::axial_rope_tables(8, 4, 4, 1.0, 10000.0), 8, 4, 1.0);
  expect_tables_match_formula(sam3::axial_rope_tables(16, 6, 6, 1.0 / 3.0, 10000.0), 16, 6,
                              1.0 / 3.0);
  EXPECT_THROW(sam3::axial_rope_tables(6, 4, 4, 1.0, 10000.0), std::exception);
}

TEST(Vision, GlobalLayerRopePositionsScaledByWindowOverGrid) {
  sam3::ViT vit(tiny_config().backbone);
  auto window_layer = vit->layers[0]->as<sam3::ViTLayerImpl>();
  auto global_layer = vit->layers[1]->as<sam3::ViTLayerImpl>();
  EXPECT_DOUBLE_EQ(window_layer->rotary_emb->scale(), 1.0);
  EXPECT_DOUBLE_EQ(global_layer->rotary_emb->scale(), 0.5);
  expect_tables_match_formula(window_layer->rotary_emb->tables(), 8, 4, 1.0);
  expect_tables_match_formula(global_layer->rotary_emb->tables(), 8, 8, 0.5);
}

TEST(Vision, RopePreservesPairNorms) {
  torch::manual_seed(8);
  auto tables = sam3::axial_rope_tables(8, 4, 4, 1.0, 10000.0);
  auto q = torch::randn({2, 3, 16, 8}), k = torch::randn({2, 3, 16, 8});
  auto [rq, rk] = sam3::apply_rope(q, k, tables);
  auto pair_norms = [](const torch::Tensor &t) { return t.reshape({2, 3, 16, 4, 2}).norm(2, -1); };
  EXPECT_TRUE(torch::allclose(pair_norms(rq), pair_norms(q), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(pair_norms(rk), pair_norms(k), 1e-5, 1e-5));
  EXPECT_FALSE(torch::allclose(rq, q, 1e-3, 1e-3));
}

TEST(Vision, RopeDotProductDependsOnlyOnRelativePosition) {
  torch::manual_seed(9);
  const int64_t grid = 4, L = grid * grid;
  auto tables = sam3::axial_rope_tables(8, grid, grid, 1.0, 10000.0);
  auto q = torch::randn({8}).expand({L, 8}).contiguous();
  auto k = torch::randn({8}).expand({L, 8}).contiguous();
  auto [rq, rk] = sam3::apply_rope(q, k, tables);
  auto score_matrix = torch::matmul(rq, rk.t());
  auto scores = score_matrix.accessor<float, 2>();
  std::map<std::pair<int64_t, int64_t>, float> by_offset;
  for (int64_t i = 0; i < L; ++i) {
    for (int64_t j = 0; j < L; ++j) {
      const auto offset = std::make_pair(j % grid - i % grid, j / grid - i / grid);
      auto [it, inserted] = by_offset.emplace(offset, scores[i][j]);
      if (!inserted) {
        EXPECT_NEAR(scores[i][j], it->second, 1e-4) << i << " " << j;
      }
    }
  }
  EXPECT_GT(std::abs(by_offset[{0, 0}] - by_offset[{1, 0}]), 1e-3);
  EXPECT_GT(std::abs(by_offset[{0, 0}] - by_offset[{0, 1}]), 1e-3);
}

// transformers' form of the rotation: x * cos + rotate_pairwise(x) * sin in float32, where
// rotate_pairwise maps each interleaved pair (x0, x1) to (-x1, x0).
torch::Tensor rotate_with_cos_sin(const torch::Tensor &x, const torch::Tensor &cos,
                                  const torch::Tensor &sin) {
  auto xf = x.to(torch::kFloat);
  auto pairs = xf.unflatten(-1, {xf.size(-1) / 2, 2}).unbind(-1);
  auto turned = torch::stack({-pairs[1], pairs[0]}, -1).flatten(-2);
  return (xf * cos + turned * sin).to(x.scalar_type());
}

TEST(Vision, RopeComplexRotationIsTheCosSinFormBitForBit) {
  torch::manual_seed(11);
  const auto tables = sam3::axial_rope_tables(16, 6, 4, 0.5, 10000.0);
  EXPECT_EQ(tables.rotation.scalar_type(), torch::kComplexFloat);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    // (B, L, heads, head_dim) seen as (B, heads, L, head_dim), as the attention hands it over.
    auto x = torch::randn({2, 24, 3, 16}).to(dtype).transpose(1, 2);
    auto rotated = sam3::rotate(x, tables);
    EXPECT_EQ(rotated.scalar_type(), dtype);
    EXPECT_TRUE(torch::equal(rotated, rotate_with_cos_sin(x, tables.cos, tables.sin))) << dtype;
    // Three memory frames on the same grid: the table per frame.
    auto frames = torch::randn({1, 3, 72, 16}).to(dtype);
    EXPECT_TRUE(torch::equal(
        sam3::rotate(frames, tables),
        rotate_with_cos_sin(frames, tables.cos.repeat({3, 1}), tables.sin.repeat({3, 1}))))
        << dtype;
  }
  // An odd offset cannot be viewed as complex pairs in place; the rotation still applies.
  auto odd = torch::randn({24 * 16 + 1}).slice(0, 1).view({24, 16});
  EXPECT_TRUE(
      torch::equal(sam3::rotate(odd, tables), rotate_with_cos_sin(odd, tables.cos, tables.sin)));
  EXPECT_THROW(sam3::rotate(torch::randn({25, 16}), tables), std::exception);
}

TEST(Vision, WindowedAttentionKeepsOtherWindowsUnchanged) {
  sam3::ViTLayer layer(tiny_config().backbone, 4);
  randomize(*layer, 10);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 8, 8, 32});
  auto changed = x.clone();
  changed[0][1][2] += torch::randn({32});
  auto out = layer->forward(x);
  auto out_changed = layer->forward(changed);
  auto window = [](const torch::Tensor &t, int64_t wy, int64_t wx) {
    return t[0].slice(0, wy * 4, wy * 4 + 4).slice(1, wx * 4, wx * 4 + 4);
  };
  EXPECT_FALSE(torch::allclose(window(out, 0, 0), window(out_changed, 0, 0), 1e-4, 1e-4));
  for (auto [wy, wx] : {std::pair{0, 1}, std::pair{1, 0}, std::pair{1, 1}})
    EXPECT_TRUE(torch::allclose(window(out, wy, wx), window(out_changed, wy, wx), 1e-6, 1e-6))
        << wy << "," << wx;
  // A global layer does mix the windows.
  sam3::ViTLayer global(tiny_config().backbone, 0);
  randomize(*global, 10);
  EXPECT_FALSE(torch::allclose(window(global->forward(x), 1, 1),
                               window(global->forward(changed), 1, 1), 1e-4, 1e-4));
}

// Straightforward per-token, per-head evaluation of one ViT block in double precision.
struct NaiveBlock {
  explicit NaiveBlock(sam3::ViTLayerImpl &layer, const VitConfig &config)
      : layer(layer), C(config.hidden_size), heads(config.num_attention_heads),
        hd(config.head_dim()), eps(config.layer_norm_eps), window_size(config.window_size) {}

  static std::vector<double> linear(const sam3::Linear &l, const std::vector<double> &in) {
    auto w = l->weight.accessor<float, 2>();
    auto b = l->bias.accessor<float, 1>();
    std::vector<double> out(w.size(0));
    for (int64_t o = 0; o < w.size(0); ++o) {
      double acc = b[o];
      for (int64_t i = 0; i < w.size(1); ++i)
        acc += w[o][i] * in[i];
      out[o] = acc;
    }
    return out;
  }

  std::vector<double> norm(const torch::nn::LayerNorm &ln, const std::vector<double> &in) const {
    double mean = 0, var = 0;
    for (double v : in)
      mean += v;
    mean /= C;
    for (double v : in)
      var += (v - mean) * (v - mean);
    var /= C;
    auto w = ln->weight.accessor<float, 1>();
    auto b = ln->bias.accessor<float, 1>();
    std::vector<double> out(C);
    for (int64_t c = 0; c < C; ++c)
      out[c] = (in[c] - mean) / std::sqrt(var + eps) * w[c] + b[c];
    return out;
  }

  void rotate(std::vector<double> &v, double x, double y, double theta) const {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t p = 0; p < hd / 2; ++p) {
        const double a = rope_angle(p, hd, x, y, theta);
        double &re = v[h * hd + 2 * p];
        double &im = v[h * hd + 2 * p + 1];
        const double r = re * std::cos(a) - im * std::sin(a);
        const double i = re * std::sin(a) + im * std::cos(a);
        re = r;
        im = i;
      }
    }
  }

  // x: (grid, grid, C) float; window 0 = global.
  torch::Tensor forward(const torch::Tensor &x, int64_t window, double theta) const {
    const int64_t grid = x.size(0);
    // Windowed layers see a zero-padded grid (padding inserted after layer_norm1).
    const int64_t span = window > 0 ? (grid + window - 1) / window * window : grid;
    auto xa = x.accessor<float, 3>();
    std::vector<std::vector<double>> q(span * span), k(span * span), v(span * span);
    for (int64_t y = 0; y < span; ++y) {
      for (int64_t xx = 0; xx < span; ++xx) {
        std::vector<double> n1(C, 0.0);
        if (y < grid && xx < grid) {
          std::vector<double> in(C);
          for (int64_t c = 0; c < C; ++c)
            in[c] = xa[y][xx][c];
          n1 = norm(layer.layer_norm1, in);
        }
        const auto t = y * span + xx;
        q[t] = linear(layer.attention->q_proj, n1);
        k[t] = linear(layer.attention->k_proj, n1);
        v[t] = linear(layer.attention->v_proj, n1);
        const double scale = window > 0 ? 1.0 : static_cast<double>(window_size) / grid;
        const double px = (window > 0 ? xx % window : xx) * scale;
        const double py = (window > 0 ? y % window : y) * scale;
        rotate(q[t], px, py, theta);
        rotate(k[t], px, py, theta);
      }
    }
    auto out = torch::empty_like(x);
    auto oa = out.accessor<float, 3>();
    for (int64_t y = 0; y < grid; ++y) {
      for (int64_t xx = 0; xx < grid; ++xx) {
        std::vector<int64_t> keys;
        for (int64_t ky = 0; ky < span; ++ky)
          for (int64_t kx = 0; kx < span; ++kx)
            if (window == 0 || (ky / window == y / window && kx / window == xx / window))
              keys.push_back(ky * span + kx);
        const auto t = y * span + xx;
        std::vector<double> attended(C, 0.0);
        for (int64_t h = 0; h < heads; ++h) {
          std::vector<double> scores;
          double peak = -1e300;
          for (auto key : keys) {
            double s = 0;
            for (int64_t d = 0; d < hd; ++d)
              s += q[t][h * hd + d] * k[key][h * hd + d];
            s /= std::sqrt(static_cast<double>(hd));
            scores.push_back(s);
            peak = std::max(peak, s);
          }
          double total = 0;
          for (auto &s : scores)
            total += (s = std::exp(s - peak));
          for (size_t i = 0; i < keys.size(); ++i)
            for (int64_t d = 0; d < hd; ++d)
              attended[h * hd + d] += scores[i] / total * v[keys[i]][h * hd + d];
        }
        auto o = linear(layer.attention->o_proj, attended);
        std::vector<double> residual(C);
        for (int64_t c = 0; c < C; ++c)
          residual[c] = xa[y][xx][c] + o[c];
        auto hidden = linear(layer.mlp->fc1, norm(layer.layer_norm2, residual));
        for (auto &u : hidden)
          u = 0.5 * u * (1.0 + std::erf(u / std::sqrt(2.0)));
        auto mlp = linear(layer.mlp->fc2, hidden);
        for (int64_t c = 0; c < C; ++c)
          oa[y][xx][c] = static_cast<float>(residual[c] + mlp[c]);
      }
    }
    return out;
  }

  sam3::ViTLayerImpl &layer;
  int64_t C, heads, hd;
  double eps;
  int64_t window_size;
};

void expect_block_matches_naive(const VitConfig &config, int64_t window, uint64_t seed) {
  sam3::ViTLayer layer(config, window);
  randomize(*layer, seed);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, config.grid(), config.grid(), config.hidden_size});
  auto out = layer->forward(x);
  auto naive = NaiveBlock(*layer, config).forward(x[0], window, config.rope_theta);
  EXPECT_TRUE(torch::allclose(out[0], naive, 1e-4, 1e-4))
      << "max diff " << (out[0] - naive).abs().max().item<float>();
}

TEST(Vision, GlobalBlockMatchesNaivePerHeadComputation) {
  expect_block_matches_naive(tiny_config().backbone, 0, 11);
}

TEST(Vision, WindowBlockMatchesNaivePerHeadComputation) {
  expect_block_matches_naive(tiny_config().backbone, 4, 12);
}

TEST(Vision, PaddedWindowBlockMatchesNaivePerHeadComputation) {
  auto config = tiny_config().backbone;
  config.image_size = 84; // 6x6 grid: windows of 4 need two rows/columns of padding
  expect_block_matches_naive(config, 4, 13);
  expect_block_matches_naive(config, 0, 14);
}

TEST(Vision, SinePositionEncodingMatchesFormula) {
  const int64_t feats = 8, H = 3, W = 5;
  auto pos = sam3::PositionEmbeddingSine(feats, 10000.0, true)(2, H, W, torch::kFloat);
  ASSERT_EQ(pos.sizes(), torch::IntArrayRef({2, 2 * feats, H, W}));
  auto a = pos.accessor<float, 4>();
  const double two_pi = 2.0 * std::acos(-1.0);
  for (auto [y, x] : {std::pair<int64_t, int64_t>{0, 0}, {1, 3}, {2, 4}, {2, 0}}) {
    const double ey = (y + 1) / (H + 1e-6) * two_pi;
    const double ex = (x + 1) / (W + 1e-6) * two_pi;
    for (int64_t c = 0; c < feats; ++c) {
      const double dim_t = std::pow(10000.0, 2.0 * (c / 2) / feats);
      const double vy = c % 2 == 0 ? std::sin(ey / dim_t) : std::cos(ey / dim_t);
      const double vx = c % 2 == 0 ? std::sin(ex / dim_t) : std::cos(ex / dim_t);
      for (int64_t b = 0; b < 2; ++b) {
        EXPECT_NEAR(a[b][c][y][x], vy, 1e-5) << y << "," << x << " c" << c;
        EXPECT_NEAR(a[b][feats + c][y][x], vx, 1e-5) << y << "," << x << " c" << c;
      }
    }
  }
  EXPECT_THROW(sam3::PositionEmbeddingSine(7), std::exception);
}

TEST(Vision, ModuleToDoubleKeepsFloatRopeTables) {
  sam3::VisionEncoder encoder(tiny_config());
  randomize(*encoder, 15);
  encoder->to(torch::kDouble);
  torch::NoGradGuard no_grad;
  auto features = encoder->forward(torch::randn({1, 3, 112, 112}));
  EXPECT_EQ(features.backbone.scalar_type(), torch::kDouble);
  EXPECT_EQ(features.fpn_pos[0].scalar_type(), torch::kDouble);
  auto layer = encoder->backbone->layers[1]->as<sam3::ViTLayerImpl>();
  EXPECT_EQ(layer->rotary_emb->tables().cos.scalar_type(), torch::kFloat);
  EXPECT_EQ(layer->rotary_emb->tables().rotation.scalar_type(), torch::kComplexFloat);
}

TEST(Vision, RejectsBadInputAndConfig) {
  sam3::VisionEncoder encoder(tiny_config());
  EXPECT_THROW(encoder->forward(torch::randn({1, 3, 98, 98})), std::exception);
  EXPECT_THROW(encoder->forward(torch::randn({3, 112, 112})), std::exception);
  EXPECT_THROW(encoder->forward(torch::randn({1, 1, 112, 112})), std::exception);
  EXPECT_THROW(encoder->forward(torch::ones({1, 3, 112, 112}, torch::kLong)), std::exception);

  auto bad_scale = tiny_config();
  bad_scale.scale_factors = {3.0};
  EXPECT_THROW(sam3::VisionEncoder{bad_scale}, std::exception);
  auto bad_heads = tiny_config();
  bad_heads.backbone.num_attention_heads = 16; // head_dim 2 cannot split into x/y pairs
  EXPECT_THROW(sam3::VisionEncoder{bad_heads}, std::exception);
  auto bad_fpn = tiny_config();
  bad_fpn.fpn_hidden_size = 18;
  EXPECT_THROW(sam3::VisionEncoder{bad_fpn}, std::exception);
  auto bad_act = tiny_config();
  bad_act.backbone.hidden_act = "relu";
  EXPECT_THROW(sam3::VisionEncoder{bad_act}, std::exception);
  auto bad_global = tiny_config();
  bad_global.backbone.global_attn_indexes = {2};
  EXPECT_THROW(sam3::VisionEncoder{bad_global}, std::exception);
}

} // namespace
