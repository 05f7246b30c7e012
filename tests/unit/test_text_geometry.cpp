#include "detector/geometry_encoder.h"
#include "detector/roi_align.h"
#include "text/text_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

Shapes parameter_shapes(const torch::nn::Module &m) {
  Shapes out;
  for (const auto &p : m.named_parameters())
    out[p.key()] = p.value().sizes().vec();
  for (const auto &b : m.named_buffers())
    out["buffer:" + b.key()] = b.value().sizes().vec();
  return out;
}

sam3::TextConfig tiny_text() {
  sam3::TextConfig c;
  c.vocab_size = 1000;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.projection_dim = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.max_position_embeddings = 32;
  return c;
}

sam3::GeometryEncoderConfig tiny_geometry() {
  sam3::GeometryEncoderConfig c;
  c.hidden_size = 32;
  c.num_layers = 1;
  c.num_attention_heads = 4;
  c.intermediate_size = 64;
  c.roi_size = 7;
  return c;
}

// Gives LayerNorms and biases non-trivial values so that structural mistakes show.
void randomize(torch::nn::Module &m, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard guard;
  for (auto &p : m.parameters())
    p.copy_(torch::randn_like(p) * 0.3 + (p.dim() == 1 ? 0.1 : 0.0));
}

// ---------------------------------------------------------------------------------------------
// Text encoder

TEST(TextEncoder, ParameterNamesMatchTransformers) {
  const auto c = tiny_text();
  sam3::TextEncoder enc(c);
  Shapes expected = {
      {"text_model.embeddings.token_embedding.weight", {1000, 32}},
      {"text_model.embeddings.position_embedding.weight", {32, 32}},
      {"text_model.final_layer_norm.weight", {32}},
      {"text_model.final_layer_norm.bias", {32}},
      {"text_projection.weight", {24, 32}},
  };
  for (int l = 0; l < 2; ++l) {
    const auto p = "text_model.encoder.layers." + std::to_string(l) + ".";
    for (const char *proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      expected[p + "self_attn." + proj + ".weight"] = {32, 32};
      expected[p + "self_attn." + proj + ".bias"] = {32};
    }
    for (const char *ln : {"layer_norm1", "layer_norm2"}) {
      expected[p + ln + ".weight"] = {32};
      expected[p + ln + ".bias"] = {32};
    }
    expected[p + "mlp.fc1.weight"] = {64, 32};
    expected[p + "mlp.fc1.bias"] = {64};
    expected[p + "mlp.fc2.weight"] = {32, 64};
    expected[p + "mlp.fc2.bias"] = {32};
  }
  EXPECT_EQ(parameter_shapes(*enc), expected);
}

TEST(TextEncoder, OutputShapeAndResizer) {
  const auto c = tiny_text();
  sam3::TextEncoder enc(c);
  auto resizer = sam3::make_text_resizer(c, 16);
  auto ids = torch::randint(0, 1000, {2, 32}, torch::kLong);
  auto mask = torch::ones({2, 32}, torch::kLong);
  mask.slice(1, 10).zero_();
  auto states = enc->forward(ids, mask);
  EXPECT_EQ(states.sizes(), (std::vector<int64_t>{2, 32, 32}));
  auto text = sam3::encode_text(enc, resizer, ids, mask);
  EXPECT_EQ(text.features.sizes(), (std::vector<int64_t>{2, 32, 16}));
  EXPECT_EQ(text.mask.scalar_type(), torch::kBool);
  EXPECT_TRUE(torch::equal(text.mask, mask.to(torch::kBool)));
  EXPECT_TRUE(torch::allclose(text.features, resizer(states)));
}

TEST(TextEncoder, IsCausal) {
  sam3::TextEncoder enc(tiny_text());
  randomize(*enc, 3);
  torch::manual_seed(4);
  auto ids = torch::randint(0, 1000, {1, 12}, torch::kLong);
  auto mask = torch::ones({1, 12}, torch::kLong);
  auto a = enc->forward(ids, mask);
  auto changed = ids.clone();
  changed[0][6] = (ids[0][6].item<int64_t>() + 1) % 1000;
  auto b = enc->forward(changed, mask);
  EXPECT_TRUE(torch::equal(a.slice(1, 0, 6), b.slice(1, 0, 6)));
  EXPECT_FALSE(torch::allclose(a.slice(1, 6), b.slice(1, 6), 1e-4, 1e-4));
}

TEST(TextEncoder, PaddedKeysAreNotAttended) {
  sam3::TextEncoder enc(tiny_text());
  randomize(*enc, 5);
  torch::manual_seed(6);
  auto ids = torch::randint(0, 1000, {1, 8}, torch::kLong);
  auto mask = torch::ones({1, 8}, torch::kLong);
  mask[0][2] = 0;
  auto changed = ids.clone();
  changed[0][2] = (ids[0][2].item<int64_t>() + 7) % 1000;
  auto a = enc->forward(ids, mask);
  auto b = enc->forward(changed, mask);
  // Position 2 itself changes, every other position only sees it as a masked key.
  EXPECT_TRUE(torch::allclose(a.slice(1, 3), b.slice(1, 3), 1e-6, 1e-6));
  auto unmasked = enc->forward(changed, torch::ones({1, 8}, torch::kLong));
  EXPECT_FALSE(torch::allclose(b.slice(1, 3), unmasked.slice(1, 3), 1e-4, 1e-4));
}

TEST(TextEncoder, FullyPaddedRowStaysFinite) {
  sam3::TextEncoder enc(tiny_text());
  auto ids = torch::randint(0, 1000, {2, 6}, torch::kLong);
  auto mask = torch::ones({2, 6}, torch::kLong);
  mask[1].zero_();
  EXPECT_TRUE(torch::isfinite(enc->forward(ids, mask)).all().item<bool>());
}

// Independent forward from the raw weights: per-head loops, additive -inf causal mask, GELU
// written with erf.
torch::Tensor reference_text(sam3::TextEncoder &enc, const sam3::TextConfig &c,
                             const torch::Tensor &ids) {
  auto P = enc->named_parameters();
  auto lin = [&](const std::string &n, const torch::Tensor &x) {
    return torch::matmul(x, P[n + ".weight"].t()) + P[n + ".bias"];
  };
  auto ln = [&](const std::string &n, const torch::Tensor &x) {
    auto mu = x.mean(-1, true);
    auto var = (x - mu).pow(2).mean(-1, true);
    return (x - mu) / torch::sqrt(var + c.layer_norm_eps) * P[n + ".weight"] + P[n + ".bias"];
  };
  const auto L = ids.size(1), hd = c.hidden_size / c.num_attention_heads;
  auto x = P["text_model.embeddings.token_embedding.weight"].index_select(0, ids[0]) +
           P["text_model.embeddings.position_embedding.weight"].slice(0, 0, L);
  auto bias = torch::full({L, L}, -INFINITY).triu(1);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const auto p = "text_model.encoder.layers." + std::to_string(l) + ".";
    auto h = ln(p + "layer_norm1", x);
    auto q = lin(p + "self_attn.q_proj", h), k = lin(p + "self_attn.k_proj", h),
         v = lin(p + "self_attn.v_proj", h);
    std::vector<torch::Tensor> heads;
    for (int64_t i = 0; i < c.num_attention_heads; ++i) {
      auto s = torch::matmul(q.narrow(1, i * hd, hd), k.narrow(1, i * hd, hd).t()) /
                   std::sqrt(static_cast<double>(hd)) +
               bias;
      heads.push_back(torch::matmul(torch::softmax(s, -1), v.narrow(1, i * hd, hd)));
    }
    x = x + lin(p + "self_attn.out_proj", torch::cat(heads, 1));
    auto f = lin(p + "mlp.fc1", ln(p + "layer_norm2", x));
    f = 0.5 * f * (1.0 + torch::erf(f / std::sqrt(2.0)));
    x = x + lin(p + "mlp.fc2", f);
  }
  return ln("text_model.final_layer_norm", x).unsqueeze(0);
}

TEST(TextEncoder, MatchesIndependentForward) {
  const auto c = tiny_text();
  sam3::TextEncoder enc(c);
  randomize(*enc, 7);
  torch::NoGradGuard guard;
  auto ids = torch::randint(0, 1000, {1, 11}, torch::kLong);
  auto out = enc->forward(ids, torch::ones({1, 11}, torch::kLong));
  EXPECT_TRUE(torch::allclose(out, reference_text(enc, c, ids), 1e-4, 1e-5));
}

TEST(TextEncoder, RejectsBadInput) {
  sam3::TextEncoder enc(tiny_text());
  auto ones = [](int64_t L) { return torch::ones({1, L}, torch::kLong); };
  EXPECT_THROW(enc->forward(torch::zeros({1, 33}, torch::kLong), ones(33)), c10::Error);
  EXPECT_THROW(enc->forward(torch::full({1, 4}, 1000, torch::kLong), ones(4)), c10::Error);
  EXPECT_THROW(enc->forward(torch::zeros({1, 4}, torch::kLong), ones(5)), c10::Error);
  auto bad = tiny_text();
  bad.hidden_act = "quick_gelu";
  EXPECT_THROW(sam3::TextEncoder{bad}, c10::Error);
}

// ---------------------------------------------------------------------------------------------
// RoIAlign

float naive_bilinear(const torch::TensorAccessor<float, 2> &f, int64_t H, int64_t W, double y,
                     double x) {
  if (y < -1.0 || y > H || x < -1.0 || x > W)
    return 0.f;
  if (y <= 0)
    y = 0;
  if (x <= 0)
    x = 0;
  int64_t yl = static_cast<int64_t>(y), xl = static_cast<int64_t>(x), yh, xh;
  if (yl >= H - 1) {
    yh = yl = H - 1;
    y = static_cast<double>(yl);
  } else {
    yh = yl + 1;
  }
  if (xl >= W - 1) {
    xh = xl = W - 1;
    x = static_cast<double>(xl);
  } else {
    xh = xl + 1;
  }
  const double ly = y - yl, lx = x - xl, hy = 1 - ly, hx = 1 - lx;
  return static_cast<float>(hy * hx * f[yl][xl] + hy * lx * f[yl][xh] + ly * hx * f[yh][xl] +
                            ly * lx * f[yh][xh]);
}

// Scalar port of torchvision's roi_align_forward_kernel_impl.
torch::Tensor naive_roi_align(const torch::Tensor &features, const torch::Tensor &boxes,
                              const sam3::RoiAlignOptions &o) {
  const auto B = features.size(0), C = features.size(1), H = features.size(2), W = features.size(3),
             N = boxes.size(1), P = o.pooled_height, Q = o.pooled_width;
  auto out = torch::zeros({B, N, C, P, Q});
  auto f = features.accessor<float, 4>();
  auto bx = boxes.accessor<float, 3>();
  auto acc = out.accessor<float, 5>();
  const double off = o.aligned ? 0.5 : 0.0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n) {
      const double x1 = bx[b][n][0] * o.spatial_scale - off,
                   y1 = bx[b][n][1] * o.spatial_scale - off;
      double w = bx[b][n][2] * o.spatial_scale - off - x1,
             h = bx[b][n][3] * o.spatial_scale - off - y1;
      if (!o.aligned) {
        w = std::max(w, 1.0);
        h = std::max(h, 1.0);
      }
      const double bw = w / Q, bh = h / P;
      const int64_t gh = o.sampling_ratio > 0 ? o.sampling_ratio : (int64_t)std::ceil(h / P);
      const int64_t gw = o.sampling_ratio > 0 ? o.sampling_ratio : (int64_t)std::ceil(w / Q);
      const double count = std::max<int64_t>(gh * gw, 1);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t ph = 0; ph < P; ++ph)
          for (int64_t pw = 0; pw < Q; ++pw) {
            double sum = 0;
            for (int64_t iy = 0; iy < gh; ++iy)
              for (int64_t ix = 0; ix < gw; ++ix) {
                const double y = y1 + ph * bh + (iy + .5) * bh / gh;
                const double x = x1 + pw * bw + (ix + .5) * bw / gw;
                sum += naive_bilinear(f[b][c], H, W, y, x);
              }
            acc[b][n][c][ph][pw] = static_cast<float>(sum / count);
          }
    }
  return out;
}

torch::Tensor test_boxes() {
  // x1, y1, x2, y2 in pixels of a 9 x 11 map: inside, partly outside on each side, tiny
  // (< 1 px), larger than the map, fully outside, degenerate and reversed.
  return torch::tensor({{{1.0f, 1.0f, 6.0f, 5.0f},
                         {-3.0f, -2.5f, 4.0f, 3.0f},
                         {7.5f, 5.0f, 13.0f, 11.0f},
                         {4.2f, 3.3f, 4.5f, 3.4f},
                         {-5.0f, -4.0f, 20.0f, 15.0f},
                         {2.0f, 2.0f, 2.0f, 2.0f}},
                        {{30.0f, 30.0f, 40.0f, 40.0f},
                         {0.0f, 0.0f, 11.0f, 9.0f},
                         {8.9f, 7.9f, 10.95f, 8.95f},
                         {5.0f, 6.0f, 3.0f, 2.0f},
                         {-1.5f, 3.0f, 0.5f, 8.0f},
                         {0.3f, 0.7f, 10.1f, 1.6f}}});
}

TEST(RoiAlign, MatchesTorchvisionAlgorithm) {
  torch::manual_seed(11);
  auto features = torch::randn({2, 3, 9, 11});
  auto boxes = test_boxes();
  sam3::RoiAlignOptions o;
  o.pooled_height = 4;
  o.pooled_width = 3;
  auto out = sam3::roi_align(features, boxes, o);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 6, 3, 4, 3}));
  EXPECT_TRUE(torch::allclose(out, naive_roi_align(features, boxes, o), 1e-5, 1e-5));
}

TEST(RoiAlign, MatchesWithFixedSamplingScaleAndAlignment) {
  torch::manual_seed(12);
  auto features = torch::randn({2, 2, 9, 11});
  auto boxes = test_boxes() * 0.5f;
  sam3::RoiAlignOptions o;
  o.pooled_height = o.pooled_width = 5;
  o.spatial_scale = 2.0;
  o.sampling_ratio = 2;
  EXPECT_TRUE(torch::allclose(sam3::roi_align(features, boxes, o),
                              naive_roi_align(features, boxes, o), 1e-5, 1e-5));
  o.sampling_ratio = -1;
  o.aligned = true;
  EXPECT_TRUE(torch::allclose(sam3::roi_align(features, boxes, o),
                              naive_roi_align(features, boxes, o), 1e-5, 1e-5));
}

TEST(RoiAlign, ConstantMapPoolsToConstant) {
  auto features = torch::full({1, 2, 9, 11}, 3.5f);
  auto boxes = torch::tensor({{{0.5f, 0.5f, 8.0f, 7.0f}, {2.0f, 3.0f, 2.4f, 3.2f}}});
  auto out = sam3::roi_align(features, boxes, {});
  EXPECT_TRUE(torch::allclose(out, torch::full_like(out, 3.5f), 1e-6, 1e-6));
}

TEST(RoiAlign, LinearRampPoolsToBinCentres) {
  // f(y, x) = x is reproduced exactly by bilinear sampling, so each bin averages to the x of
  // its centre: box x in [2, 6] with 2 bins -> centres 3 and 5.
  auto ramp = torch::arange(10, torch::kFloat).view({1, 1, 1, 10}).expand({1, 1, 10, 10});
  auto boxes = torch::tensor({{{2.0f, 1.0f, 6.0f, 5.0f}}});
  sam3::RoiAlignOptions o;
  o.pooled_height = o.pooled_width = 2;
  auto out = sam3::roi_align(ramp.contiguous(), boxes, o);
  auto expected = torch::tensor({3.0f, 5.0f}).view({1, 1, 1, 1, 2}).expand({1, 1, 1, 2, 2});
  EXPECT_TRUE(torch::allclose(out, expected, 1e-6, 1e-6));
}

TEST(RoiAlign, KeepsDtypeAndHandlesNoBoxes) {
  torch::manual_seed(13);
  auto features = torch::randn({2, 3, 9, 11});
  auto boxes = test_boxes();
  auto ref = sam3::roi_align(features, boxes, {});
  auto bf = sam3::roi_align(features.to(torch::kBFloat16), boxes, {});
  EXPECT_EQ(bf.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::allclose(bf.to(torch::kFloat), ref, 3e-2, 3e-2));
  auto dbl = sam3::roi_align(features.to(torch::kDouble), boxes.to(torch::kDouble), {});
  EXPECT_TRUE(torch::allclose(dbl.to(torch::kFloat), ref, 1e-5, 1e-5));
  auto none = sam3::roi_align(features, torch::zeros({2, 0, 4}), {});
  EXPECT_EQ(none.sizes(), (std::vector<int64_t>{2, 0, 3, 7, 7}));
  EXPECT_THROW(sam3::roi_align(features, torch::zeros({3, 1, 4}), {}), c10::Error);
  EXPECT_THROW(sam3::roi_align(features, torch::full({2, 1, 4}, NAN), {}), c10::Error);
}

// ---------------------------------------------------------------------------------------------
// Geometry encoder

TEST(GeometryEncoder, ParameterNamesMatchTransformers) {
  sam3::GeometryEncoder enc(tiny_geometry());
  Shapes expected = {
      {"label_embed.weight", {2, 32}},
      {"cls_embed.weight", {1, 32}},
      {"boxes_direct_project.weight", {32, 4}},
      {"boxes_direct_project.bias", {32}},
      {"boxes_pool_project.weight", {32, 32, 7, 7}},
      {"boxes_pool_project.bias", {32}},
      {"boxes_pos_enc_project.weight", {32, 34}},
      {"boxes_pos_enc_project.bias", {32}},
      {"final_proj.weight", {32, 32}},
      {"final_proj.bias", {32}},
      {"layers.0.mlp.fc1.weight", {64, 32}},
      {"layers.0.mlp.fc1.bias", {64}},
      {"layers.0.mlp.fc2.weight", {32, 64}},
      {"layers.0.mlp.fc2.bias", {32}},
  };
  for (const char *ln : {"vision_layer_norm", "prompt_layer_norm", "output_layer_norm",
                         "layers.0.layer_norm1", "layers.0.layer_norm2", "layers.0.layer_norm3"}) {
    expected[std::string(ln) + ".weight"] = {32};
    expected[std::string(ln) + ".bias"] = {32};
  }
  for (const char *attn : {"self_attn", "cross_attn"})
    for (const char *proj : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      expected[std::string("layers.0.") + attn + "." + proj + ".weight"] = {32, 32};
      expected[std::string("layers.0.") + attn + "." + proj + ".bias"] = {32};
    }
  EXPECT_EQ(parameter_shapes(*enc), expected);
}

struct GeometryInputs {
  torch::Tensor boxes, mask, labels, features, pos;
};

GeometryInputs geometry_inputs() {
  torch::manual_seed(21);
  GeometryInputs in;
  in.boxes = torch::tensor(
      {{{0.3f, 0.4f, 0.2f, 0.3f}, {0.7f, 0.6f, 0.4f, 0.2f}, {-10.f, -10.f, -10.f, -10.f}},
       {{0.5f, 0.5f, 0.9f, 0.8f}, {0.1f, 0.9f, 0.3f, 0.3f}, {0.8f, 0.2f, 0.05f, 0.1f}}});
  in.mask = torch::tensor({{true, true, false}, {true, true, true}});
  in.labels = torch::tensor({{1, 0, -10}, {1, 1, 0}}, torch::kLong);
  in.features = torch::randn({2, 32, 9, 9});
  in.pos = torch::randn({2, 32, 9, 9});
  return in;
}

sam3::GeometryPrompt run(sam3::GeometryEncoder &enc, const GeometryInputs &in) {
  torch::NoGradGuard guard;
  return enc->forward(in.boxes, in.mask, in.labels, in.features, in.pos);
}

TEST(GeometryEncoder, AppendsClsAfterValidBoxes) {
  sam3::GeometryEncoder enc(tiny_geometry());
  randomize(*enc, 22);
  auto in = geometry_inputs();
  auto out = run(enc, in);
  EXPECT_EQ(out.prompt.sizes(), (std::vector<int64_t>{2, 4, 32}));
  EXPECT_TRUE(
      torch::equal(out.mask, torch::tensor({{true, true, true, false}, {true, true, true, true}})));
  // Row 0 with its padding slot removed gives the same valid tokens, CLS included.
  GeometryInputs trimmed = in;
  trimmed.boxes = in.boxes.slice(0, 0, 1).slice(1, 0, 2);
  trimmed.mask = in.mask.slice(0, 0, 1).slice(1, 0, 2);
  trimmed.labels = in.labels.slice(0, 0, 1).slice(1, 0, 2);
  trimmed.features = in.features.slice(0, 0, 1);
  trimmed.pos = in.pos.slice(0, 0, 1);
  auto t = run(enc, trimmed);
  EXPECT_TRUE(torch::allclose(t.prompt[0], out.prompt[0].slice(0, 0, 3), 1e-5, 1e-5));
}

TEST(GeometryEncoder, PaddedBoxesDoNotAffectValidTokens) {
  sam3::GeometryEncoder enc(tiny_geometry());
  randomize(*enc, 23);
  auto in = geometry_inputs();
  auto a = run(enc, in);
  auto changed = in;
  changed.boxes = in.boxes.clone();
  changed.boxes[0][2] = torch::tensor({0.5f, 0.5f, 0.5f, 0.5f});
  changed.labels = in.labels.clone();
  changed.labels[0][2] = 1;
  auto b = run(enc, changed);
  EXPECT_TRUE(torch::allclose(a.prompt[0].slice(0, 0, 3), b.prompt[0].slice(0, 0, 3), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(a.prompt[1], b.prompt[1], 1e-6, 1e-6));
}

TEST(GeometryEncoder, LabelChangesOutput) {
  sam3::GeometryEncoder enc(tiny_geometry());
  randomize(*enc, 24);
  auto in = geometry_inputs();
  auto a = run(enc, in);
  auto flipped = in;
  flipped.labels = in.labels.clone();
  flipped.labels[1][0] = 0;
  auto b = run(enc, flipped);
  EXPECT_FALSE(torch::allclose(a.prompt[1], b.prompt[1], 1e-3, 1e-3));
  EXPECT_TRUE(torch::allclose(a.prompt[0], b.prompt[0], 1e-6, 1e-6));
}

TEST(GeometryEncoder, BoxGeometryAndImageBothMatter) {
  sam3::GeometryEncoder enc(tiny_geometry());
  randomize(*enc, 25);
  auto in = geometry_inputs();
  auto a = run(enc, in);
  auto moved = in;
  moved.boxes = in.boxes.clone();
  moved.boxes[1][2][0] = 0.3f;
  EXPECT_FALSE(torch::allclose(a.prompt[1], run(enc, moved).prompt[1], 1e-3, 1e-3));
  auto shifted = in;
  // A constant shift of every key would cancel in the softmax; a reshuffled encoding does not.
  shifted.pos = in.pos.flip(3);
  EXPECT_FALSE(torch::allclose(a.prompt, run(enc, shifted).prompt, 1e-3, 1e-3));
}

TEST(GeometryEncoder, NoBoxesGivesClsOnly) {
  sam3::GeometryEncoder enc(tiny_geometry());
  randomize(*enc, 26);
  auto in = geometry_inputs();
  auto out = enc->forward(torch::zeros({2, 0, 4}), torch::zeros({2, 0}, torch::kBool),
                          torch::zeros({2, 0}, torch::kLong), in.features, in.pos);
  EXPECT_EQ(out.prompt.sizes(), (std::vector<int64_t>{2, 1, 32}));
  EXPECT_TRUE(out.mask.all().item<bool>());
  EXPECT_TRUE(torch::isfinite(out.prompt).all().item<bool>());
  // All-padding boxes reduce to the same CLS token.
  auto padded =
      enc->forward(in.boxes, torch::zeros({2, 3}, torch::kBool), in.labels, in.features, in.pos);
  EXPECT_TRUE(torch::allclose(padded.prompt.slice(1, 0, 1), out.prompt, 1e-5, 1e-5));
}

TEST(GeometryEncoder, RejectsBadInput) {
  sam3::GeometryEncoder enc(tiny_geometry());
  auto in = geometry_inputs();
  auto holes = torch::tensor({{true, false, true}, {true, true, true}});
  EXPECT_THROW(enc->forward(in.boxes, holes, in.labels, in.features, in.pos), c10::Error);
  auto labels = in.labels.clone();
  labels[1][1] = 2;
  EXPECT_THROW(enc->forward(in.boxes, in.mask, labels, in.features, in.pos), c10::Error);
  EXPECT_THROW(enc->forward(in.boxes, in.mask, in.labels, in.features.slice(1, 0, 16),
                            in.pos.slice(1, 0, 16)),
               c10::Error);
}

} // namespace
