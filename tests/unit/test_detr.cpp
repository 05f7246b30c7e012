#include "detector/detector_outputs.h"
#include "detector/detr_decoder.h"
#include "detector/detr_encoder.h"
#include "detector/mask_decoder.h"
#include "detector/scoring.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

constexpr int64_t kC = 32, kHeads = 4, kFfn = 64, kQueries = 5, kGrid = 8, kBatch = 2;

sam3::DetrEncoderConfig encoder_config(int64_t layers = 1) {
  sam3::DetrEncoderConfig c;
  c.hidden_size = kC;
  c.num_layers = layers;
  c.num_attention_heads = kHeads;
  c.intermediate_size = kFfn;
  return c;
}

sam3::DetrDecoderConfig decoder_config(int64_t layers = 2) {
  sam3::DetrDecoderConfig c;
  c.hidden_size = kC;
  c.num_layers = layers;
  c.num_queries = kQueries;
  c.num_attention_heads = kHeads;
  c.intermediate_size = kFfn;
  return c;
}

sam3::MaskDecoderConfig mask_config() {
  sam3::MaskDecoderConfig c;
  c.hidden_size = kC;
  c.num_upsampling_stages = 3;
  c.num_attention_heads = kHeads;
  return c;
}

Shapes parameter_shapes(const torch::nn::Module &m) {
  Shapes out;
  for (const auto &p : m.named_parameters())
    out[p.key()] = p.value().sizes().vec();
  return out;
}

void add_linear(Shapes &s, const std::string &name, int64_t in, int64_t out) {
  s[name + ".weight"] = {out, in};
  s[name + ".bias"] = {out};
}

void add_norm(Shapes &s, const std::string &name, int64_t c) {
  s[name + ".weight"] = {c};
  s[name + ".bias"] = {c};
}

void add_attention(Shapes &s, const std::string &name) {
  for (const char *p : {"q_proj", "k_proj", "v_proj", "o_proj"})
    add_linear(s, name + "." + p, kC, kC);
}

// A prompt with `valid` real tokens per batch entry followed by `pad` random padding tokens.
struct Prompt {
  torch::Tensor tokens, mask;
};

Prompt make_prompt(int64_t valid, int64_t pad, uint64_t seed) {
  torch::manual_seed(seed);
  auto real = torch::randn({kBatch, valid, kC});
  auto junk = torch::randn({kBatch, pad, kC}) * 5;
  auto mask = torch::cat(
      {torch::ones({kBatch, valid}, torch::kBool), torch::zeros({kBatch, pad}, torch::kBool)}, 1);
  return {torch::cat({real, junk}, 1), mask};
}

void expect_close(const torch::Tensor &a, const torch::Tensor &b, double tol = 1e-5) {
  ASSERT_EQ(a.sizes(), b.sizes());
  EXPECT_TRUE(torch::allclose(a, b, tol, tol))
      << "max abs diff " << (a - b).abs().max().item<double>();
}

// ---------------------------------------------------------------- fusion encoder

TEST(DetrEncoder, ParameterNamesMatchTransformers) {
  sam3::DetrEncoder enc(encoder_config(2));
  Shapes expected;
  for (int l = 0; l < 2; ++l) {
    const auto p = "layers." + std::to_string(l) + ".";
    add_norm(expected, p + "layer_norm1", kC);
    add_norm(expected, p + "layer_norm2", kC);
    add_norm(expected, p + "layer_norm3", kC);
    add_attention(expected, p + "self_attn");
    add_attention(expected, p + "cross_attn");
    add_linear(expected, p + "mlp.fc1", kC, kFfn);
    add_linear(expected, p + "mlp.fc2", kFfn, kC);
  }
  EXPECT_EQ(parameter_shapes(*enc), expected);
}

TEST(DetrEncoder, FlattensRowMajorAndKeepsShapes) {
  torch::NoGradGuard ng;
  torch::manual_seed(3);
  auto vision = torch::randn({kBatch, kC, kGrid, 6});
  auto pos = torch::randn({kBatch, kC, kGrid, 6});
  auto prompt = make_prompt(3, 0, 4);

  sam3::DetrEncoder identity(encoder_config(0));
  auto flat = identity(vision, pos, prompt.tokens, prompt.mask);
  EXPECT_EQ(flat.height, kGrid);
  EXPECT_EQ(flat.width, 6);
  // token index = y * W + x
  expect_close(flat.memory.select(1, 2 * 6 + 5), vision.select(3, 5).select(2, 2), 0);
  expect_close(flat.pos, pos.flatten(2).transpose(1, 2), 0);

  sam3::DetrEncoder enc(encoder_config(2));
  auto out = enc(vision, pos, prompt.tokens, prompt.mask);
  EXPECT_EQ(out.memory.sizes(), (std::vector<int64_t>{kBatch, kGrid * 6, kC}));
  EXPECT_FALSE(torch::allclose(out.memory, flat.memory));
}

TEST(DetrEncoder, PaddingTokensDoNotChangeResult) {
  torch::NoGradGuard ng;
  torch::manual_seed(5);
  sam3::DetrEncoder enc(encoder_config(2));
  auto vision = torch::randn({kBatch, kC, kGrid, kGrid});
  auto pos = torch::randn({kBatch, kC, kGrid, kGrid});
  auto padded = make_prompt(3, 4, 6);
  auto plain_tokens = padded.tokens.slice(1, 0, 3);
  auto plain_mask = padded.mask.slice(1, 0, 3);
  auto a = enc(vision, pos, padded.tokens, padded.mask).memory;
  auto b = enc(vision, pos, plain_tokens, plain_mask).memory;
  expect_close(a, b);
  // and the prompt does reach the image tokens
  auto c = enc(vision, pos, plain_tokens * 2, plain_mask).memory;
  EXPECT_FALSE(torch::allclose(a, c, 1e-4, 1e-4));
}

TEST(DetrEncoder, RejectsBadInput) {
  torch::NoGradGuard ng;
  sam3::DetrEncoder enc(encoder_config(1));
  auto vision = torch::randn({1, kC, 4, 4});
  auto prompt = torch::randn({1, 3, kC});
  auto mask = torch::ones({1, 3}, torch::kBool);
  EXPECT_THROW(enc(torch::randn({1, kC + 1, 4, 4}), vision, prompt, mask), c10::Error);
  EXPECT_THROW(enc(vision, torch::randn({1, kC, 4, 5}), prompt, mask), c10::Error);
  EXPECT_THROW(enc(vision, vision, prompt, torch::ones({1, 3})), c10::Error);
  EXPECT_THROW(enc(vision, vision, prompt, torch::ones({1, 2}, torch::kBool)), c10::Error);
  EXPECT_THROW(enc(vision, vision, prompt, torch::zeros({1, 3}, torch::kBool)), c10::Error);
  EXPECT_THROW(sam3::FeedForward(kC, kFfn, "swish"), c10::Error);
}

// ---------------------------------------------------------------- decoder pieces

TEST(BoxSineEmbedding, KnownValuesInYXWHOrder) {
  const double box[4] = {0.1, 0.2, 0.3, 0.4}; // cx, cy, w, h
  const int64_t feats = 8;
  auto emb = sam3::box_sine_embedding(
      torch::tensor({box[0], box[1], box[2], box[3]}, torch::kDouble).view({1, 1, 4}), feats);
  ASSERT_EQ(emb.sizes(), (std::vector<int64_t>{1, 1, 4 * feats}));
  const int order[4] = {1, 0, 2, 3}; // y, x, w, h
  for (int part = 0; part < 4; ++part) {
    const double v = box[order[part]] * 2 * M_PI;
    for (int i = 0; i < feats; ++i) {
      const double dim_t = std::pow(10000.0, 2.0 * (i / 2) / feats);
      const double expected = i % 2 == 0 ? std::sin(v / dim_t) : std::cos(v / dim_t);
      EXPECT_NEAR(emb[0][0][part * feats + i].item<double>(), expected, 1e-12)
          << "part " << part << " feature " << i;
    }
  }
}

TEST(BoxRpb, LogDeltasKnownValues) {
  // cx .5 cy .5 w .5 h .25 -> xyxy (.25, .375, .75, .625); grid 4 wide, 2 high: k/4 and k/2.
  auto boxes = torch::tensor({0.5, 0.5, 0.5, 0.25}, torch::kDouble).view({1, 1, 4});
  auto d = sam3::box_rpb_log_deltas(boxes, 2, 4);
  ASSERT_EQ(d.x.sizes(), (std::vector<int64_t>{1, 1, 4, 2}));
  ASSERT_EQ(d.y.sizes(), (std::vector<int64_t>{1, 1, 2, 2}));
  auto f = [](double delta) {
    const double s = delta * 8;
    const double sign = (s > 0) - (s < 0);
    return sign * std::log2(std::abs(s) + 1) / 3.0;
  };

  const double x_edges[2] = {0.25, 0.75}, y_edges[2] = {0.375, 0.625};
  for (int k = 0; k < 4; ++k)
    for (int e = 0; e < 2; ++e)
      EXPECT_NEAR(d.x[0][0][k][e].item<double>(), f(k / 4.0 - x_edges[e]), 1e-12);
  for (int k = 0; k < 2; ++k)
    for (int e = 0; e < 2; ++e)
      EXPECT_NEAR(d.y[0][0][k][e].item<double>(), f(k / 2.0 - y_edges[e]), 1e-12);
  // A grid point on the edge is 0, one 1/8 further is log2(2)/3 = 1/3.
  EXPECT_DOUBLE_EQ(d.x[0][0][1][0].item<double>(), 0.0);
  EXPECT_NEAR(d.x[0][0][2][0].item<double>(), std::log2(3.0) / 3.0, 1e-12);
}

// Sets a 2-layer RPB MLP so that every head outputs the first input coordinate:
// relu(a) - relu(-a) = a.
void make_rpb_mlp_pick_first(sam3::DecoderMlp &mlp) {
  torch::NoGradGuard ng;
  mlp->layer1->weight.zero_();
  mlp->layer1->bias.zero_();
  mlp->layer1->weight[0][0] = 1.0;
  mlp->layer1->weight[1][0] = -1.0;
  mlp->layer2->weight.zero_();
  mlp->layer2->bias.zero_();
  mlp->layer2->weight.select(1, 0).fill_(1.0);
  mlp->layer2->weight.select(1, 1).fill_(-1.0);
}

TEST(BoxRpb, BiasIsRowMajorSumOfAxisTerms) {
  sam3::DetrDecoder dec(decoder_config(1));
  make_rpb_mlp_pick_first(dec->box_rpb_embed_x);
  make_rpb_mlp_pick_first(dec->box_rpb_embed_y);
  torch::NoGradGuard ng;
  auto boxes = torch::tensor({0.5, 0.5, 0.5, 0.25, 0.3, 0.6, 0.2, 0.2}).view({1, 2, 4});
  const int64_t H = 3, W = 5;
  auto bias = dec->box_rpb(boxes, H, W);
  ASSERT_EQ(bias.sizes(), (std::vector<int64_t>{1, kHeads, 2, H * W}));
  auto d = sam3::box_rpb_log_deltas(boxes, H, W);
  for (int q = 0; q < 2; ++q)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        for (int h = 0; h < kHeads; ++h)
          EXPECT_NEAR(bias[0][h][q][y * W + x].item<float>(),
                      d.y[0][q][y][0].item<float>() + d.x[0][q][x][0].item<float>(), 1e-6);
}

TEST(BoxUtilities, InverseSigmoidAndXyxy) {
  auto x = torch::tensor({0.0, 0.25, 0.5, 1.0, 1.5}, torch::kDouble);
  auto y = sam3::inverse_sigmoid(x);
  EXPECT_NEAR(y[0].item<double>(), std::log(1e-3 / 1.0), 1e-12);
  EXPECT_NEAR(y[1].item<double>(), std::log(0.25 / 0.75), 1e-12);
  EXPECT_NEAR(y[2].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(y[3].item<double>(), std::log(1.0 / 1e-3), 1e-12);
  EXPECT_NEAR(y[4].item<double>(), std::log(1.0 / 1e-3), 1e-12);
  auto xyxy = sam3::box_cxcywh_to_xyxy(torch::tensor({0.5, 0.4, 0.2, 0.6}, torch::kDouble));
  expect_close(xyxy, torch::tensor({0.4, 0.1, 0.6, 0.7}, torch::kDouble), 1e-12);
}

// ---------------------------------------------------------------- decoder

struct DecoderInputs {
  torch::Tensor memory, pos;
  Prompt prompt;
};

DecoderInputs decoder_inputs(uint64_t seed, int64_t pad = 0) {
  torch::manual_seed(seed);
  DecoderInputs in;
  in.memory = torch::randn({kBatch, kGrid * kGrid, kC});
  in.pos = torch::randn({kBatch, kGrid * kGrid, kC});
  in.prompt = make_prompt(3, pad, seed + 1);
  return in;
}

sam3::DetrDecoderOutput run(sam3::DetrDecoder &dec, const DecoderInputs &in) {
  return dec(in.memory, in.pos, kGrid, kGrid, in.prompt.tokens, in.prompt.mask);
}

TEST(DetrDecoder, ParameterNamesMatchTransformers) {
  sam3::DetrDecoder dec(decoder_config(2));
  Shapes expected;
  for (int l = 0; l < 2; ++l) {
    const auto p = "layers." + std::to_string(l) + ".";
    for (const char *a : {"self_attn", "text_cross_attn", "vision_cross_attn"}) {
      add_attention(expected, p + a);
      add_norm(expected, p + a + "_layer_norm", kC);
    }
    add_linear(expected, p + "mlp.fc1", kC, kFfn);
    add_linear(expected, p + "mlp.fc2", kFfn, kC);
    add_norm(expected, p + "mlp_layer_norm", kC);
  }
  add_norm(expected, "output_layer_norm", kC);
  add_norm(expected, "presence_layer_norm", kC);
  add_linear(expected, "box_head.layer1", kC, kC);
  add_linear(expected, "box_head.layer2", kC, kC);
  add_linear(expected, "box_head.layer3", kC, 4);
  add_linear(expected, "presence_head.layer1", kC, kC);
  add_linear(expected, "presence_head.layer2", kC, kC);
  add_linear(expected, "presence_head.layer3", kC, 1);
  add_linear(expected, "ref_point_head.layer1", 2 * kC, kC);
  add_linear(expected, "ref_point_head.layer2", kC, kC);
  for (const char *axis : {"box_rpb_embed_x", "box_rpb_embed_y"}) {
    add_linear(expected, std::string(axis) + ".layer1", 2, kC);
    add_linear(expected, std::string(axis) + ".layer2", kC, kHeads);
  }
  expected["query_embed.weight"] = {kQueries, kC};
  expected["reference_points.weight"] = {kQueries, 4};
  expected["presence_token.weight"] = {1, kC};
  EXPECT_EQ(parameter_shapes(*dec), expected);
}

TEST(DetrDecoder, ShapesAndBoxRefinementChain) {
  torch::NoGradGuard ng;
  torch::manual_seed(7);
  sam3::DetrDecoder dec(decoder_config(2));
  auto out = run(dec, decoder_inputs(8));
  EXPECT_EQ(out.hidden_states.sizes(), (std::vector<int64_t>{2, kBatch, kQueries, kC}));
  EXPECT_EQ(out.reference_boxes.sizes(), (std::vector<int64_t>{2, kBatch, kQueries, 4}));
  EXPECT_EQ(out.presence_logits.sizes(), (std::vector<int64_t>{2, kBatch, 1}));
  // Layer 0 starts from the learned boxes; layer 1 from layer 0's refined prediction.
  expect_close(out.reference_boxes[0],
               dec->reference_points->weight.sigmoid().unsqueeze(0).expand({kBatch, -1, -1}), 0);
  expect_close(out.reference_boxes[1],
               dec->refine_boxes(out.hidden_states[0], out.reference_boxes[0]));
  // hidden states are returned after the output norm: zero mean, unit variance per query.
  expect_close(out.hidden_states.mean(-1), torch::zeros({2, kBatch, kQueries}), 1e-5);
}

TEST(DetrDecoder, BoxesStayInUnitInterval) {
  torch::NoGradGuard ng;
  torch::manual_seed(9);
  sam3::DetrDecoder dec(decoder_config(2));
  dec->reference_points->weight.mul_(20);
  dec->box_head->layer3->bias.copy_(torch::tensor({30.0, -30.0, 30.0, 30.0}));
  auto out = run(dec, decoder_inputs(10));
  auto last = dec->refine_boxes(out.hidden_states[-1], out.reference_boxes[-1]);
  for (const auto &b : {out.reference_boxes, last}) {
    EXPECT_TRUE(torch::isfinite(b).all().item<bool>());
    EXPECT_GE(b.min().item<float>(), 0.0f);
    EXPECT_LE(b.max().item<float>(), 1.0f);
  }
}

TEST(DetrDecoder, RefinementClampsSaturatedBoxesWithEps) {
  torch::NoGradGuard ng;
  sam3::DetrDecoder dec(decoder_config(1));
  dec->box_head->layer3->weight.zero_();
  dec->box_head->layer3->bias.fill_(-7.0);
  auto reference = torch::tensor({1.0f, 0.0f, 0.5f, 0.25f}).view({1, 1, 4});
  auto refined = dec->refine_boxes(torch::randn({1, 1, kC}), reference);
  auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  // a saturated 1 (resp. 0) reads as log(1/1e-3) (resp. log(1e-3/1)), not ±infinity
  EXPECT_NEAR(refined[0][0][0].item<float>(), sigmoid(std::log(1e3) - 7), 1e-6);
  EXPECT_NEAR(refined[0][0][1].item<float>(), sigmoid(std::log(1e-3) - 7), 1e-6);
  EXPECT_NEAR(refined[0][0][2].item<float>(), sigmoid(-7.0), 1e-6);
  EXPECT_NEAR(refined[0][0][3].item<float>(), sigmoid(std::log(1.0 / 3.0) - 7), 1e-6);
}

TEST(DetrDecoder, PaddingTokensDoNotChangeResult) {
  torch::NoGradGuard ng;
  torch::manual_seed(11);
  sam3::DetrDecoder dec(decoder_config(2));
  auto padded = decoder_inputs(12, 4);
  auto plain = padded;
  plain.prompt.tokens = padded.prompt.tokens.slice(1, 0, 3);
  plain.prompt.mask = padded.prompt.mask.slice(1, 0, 3);
  auto a = run(dec, padded), b = run(dec, plain);
  expect_close(a.hidden_states, b.hidden_states);
  expect_close(a.reference_boxes, b.reference_boxes);
  expect_close(a.presence_logits, b.presence_logits);
}

TEST(DetrDecoder, QueriesArePermutationEquivariantAndPresenceInvariant) {
  torch::NoGradGuard ng;
  torch::manual_seed(13);
  sam3::DetrDecoder dec(decoder_config(2));
  auto in = decoder_inputs(14);
  auto a = run(dec, in);
  auto perm = torch::tensor({3, 0, 4, 2, 1}, torch::kLong);
  dec->query_embed->weight.copy_(dec->query_embed->weight.index_select(0, perm));
  dec->reference_points->weight.copy_(dec->reference_points->weight.index_select(0, perm));
  auto b = run(dec, in);
  expect_close(b.hidden_states, a.hidden_states.index_select(2, perm));
  expect_close(b.reference_boxes, a.reference_boxes.index_select(2, perm));
  expect_close(b.presence_logits, a.presence_logits);
}

TEST(DetrDecoder, PresenceHeadFeedsOnlyPresenceLogits) {
  torch::NoGradGuard ng;
  torch::manual_seed(15);
  sam3::DetrDecoder dec(decoder_config(2));
  auto in = decoder_inputs(16);
  auto a = run(dec, in);
  dec->presence_head->layer2->weight.mul_(-3);
  dec->presence_layer_norm->weight.normal_();
  auto b = run(dec, in);
  expect_close(b.hidden_states, a.hidden_states, 0);
  expect_close(b.reference_boxes, a.reference_boxes, 0);
  EXPECT_FALSE(torch::allclose(a.presence_logits, b.presence_logits));
  // ...while the presence token itself takes part in the queries' self-attention.
  dec->presence_token->weight.mul_(4);
  auto c = run(dec, in);
  EXPECT_FALSE(torch::allclose(a.hidden_states, c.hidden_states, 1e-4, 1e-4));
}

TEST(DetrDecoder, PresenceLogitsAreClampedToTenOnlyWhenAsked) {
  // transformers clamps the presence logit to +-10; the official decoder discards the clamp's
  // result, so by default a logit of ~100 stays ~100.
  torch::NoGradGuard ng;
  sam3::DetrDecoder clamped(decoder_config(1), /*clamp_presence_logits=*/true);
  clamped->presence_head->layer3->bias.fill_(100);
  expect_close(run(clamped, decoder_inputs(17)).presence_logits, torch::full({1, kBatch, 1}, 10.0f),
               0);
  sam3::DetrDecoder official(decoder_config(1));
  official->presence_head->layer3->bias.fill_(100);
  EXPECT_GT(run(official, decoder_inputs(17)).presence_logits.min().item<float>(), 50.f);
}

TEST(DetrDecoder, RejectsBadInput) {
  torch::NoGradGuard ng;
  sam3::DetrDecoder dec(decoder_config(1));
  auto in = decoder_inputs(18);
  EXPECT_THROW(dec(in.memory, in.pos, kGrid, kGrid + 1, in.prompt.tokens, in.prompt.mask),
               c10::Error);
  EXPECT_THROW(dec(in.memory, in.pos.slice(1, 1), kGrid, kGrid, in.prompt.tokens, in.prompt.mask),
               c10::Error);
  EXPECT_THROW(dec(in.memory, in.pos, kGrid, kGrid, in.prompt.tokens.slice(2, 1), in.prompt.mask),
               c10::Error);
  sam3::DetrDecoderConfig odd = decoder_config(1);
  odd.hidden_size = 30;
  odd.num_attention_heads = 3;
  EXPECT_THROW(sam3::DetrDecoder{odd}, c10::Error);
}

// ---------------------------------------------------------------- scoring

TEST(DotProductScoring, ParameterNamesMatchTransformers) {
  sam3::DotProductScoring scoring(decoder_config());
  Shapes expected;
  add_linear(expected, "text_mlp.layer1", kC, kFfn);
  add_linear(expected, "text_mlp.layer2", kFfn, kC);
  add_norm(expected, "text_mlp_out_norm", kC);
  add_linear(expected, "text_proj", kC, kC);
  add_linear(expected, "query_proj", kC, kC);
  EXPECT_EQ(parameter_shapes(*scoring), expected);
}

TEST(DotProductScoring, EqualsHandComputation) {
  torch::NoGradGuard ng;
  torch::manual_seed(19);
  sam3::DotProductScoring scoring(decoder_config());
  scoring->text_mlp_out_norm->weight.normal_();
  scoring->text_mlp_out_norm->bias.normal_();
  auto prompt = make_prompt(3, 2, 20);
  prompt.mask[1][2] = false; // entry 1 has two valid tokens
  auto queries = torch::randn({2, kBatch, kQueries, kC}) * 0.3;
  auto scores = scoring(queries, prompt.tokens, prompt.mask);
  ASSERT_EQ(scores.sizes(), (std::vector<int64_t>{2, kBatch, kQueries, 1}));

  auto lin = [](const sam3::Linear &l, const torch::Tensor &x) {
    return torch::matmul(x, l->weight.t()) + l->bias;
  };
  for (int64_t b = 0; b < kBatch; ++b) {
    const int64_t n = b == 0 ? 3 : 2;
    auto t = prompt.tokens[b].slice(0, 0, n);
    auto m = lin(scoring->text_mlp->layer2, torch::relu(lin(scoring->text_mlp->layer1, t))) + t;
    auto mu = m.mean(-1, true), var = (m - mu).pow(2).mean(-1, true);
    auto normed = (m - mu) / torch::sqrt(var + 1e-5) * scoring->text_mlp_out_norm->weight +
                  scoring->text_mlp_out_norm->bias;
    auto pooled = lin(scoring->text_proj, normed.sum(0) / static_cast<double>(n));
    for (int64_t l = 0; l < 2; ++l) {
      auto q = lin(scoring->query_proj, queries[l][b]);
      auto expected = (torch::matmul(q, pooled) / std::sqrt(double(kC))).clamp(-12, 12);
      expect_close(scores[l][b].squeeze(-1), expected, 1e-5);
    }
  }
  // one decoder layer (B,Q,C) gives the same as that layer of a stack
  expect_close(scoring(queries[1], prompt.tokens, prompt.mask), scores[1], 0);
}

TEST(DotProductScoring, ClampsAtTwelve) {
  torch::NoGradGuard ng;
  torch::manual_seed(21);
  sam3::DotProductScoring scoring(decoder_config());
  auto prompt = make_prompt(2, 0, 22);
  auto queries = torch::randn({kBatch, kQueries, kC});
  auto base = scoring(queries, prompt.tokens, prompt.mask);
  scoring->query_proj->weight.mul_(1000);
  scoring->query_proj->bias.mul_(1000);
  auto big = scoring(queries, prompt.tokens, prompt.mask);
  // query_proj is linear in its parameters, so the unclamped logits scale by 1000 too.
  ASSERT_LT(base.abs().max().item<float>(), 12.0f);
  expect_close(big, (base * 1000).clamp(-12, 12), 1e-2);
  EXPECT_TRUE((big.abs() == 12.0f).any().item<bool>());
}

TEST(MaskedMeanPool, AveragesOnlyValidTokens) {
  auto tokens = torch::tensor({1.0f, 2.0f, 3.0f, 100.0f}).view({1, 4, 1});
  auto mask = torch::tensor({true, true, true, false}).view({1, 4});
  EXPECT_FLOAT_EQ(sam3::masked_mean_pool(tokens, mask).item<float>(), 2.0f);
}

// ---------------------------------------------------------------- mask decoder

std::vector<torch::Tensor> fpn_levels(uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({kBatch, kC, 32, 32}), torch::randn({kBatch, kC, 16, 16}),
          torch::randn({kBatch, kC, kGrid, kGrid})};
}

TEST(MaskDecoder, ParameterNamesMatchTransformers) {
  sam3::MaskDecoder md(mask_config());
  Shapes expected;
  for (int i = 0; i < 3; ++i) {
    const auto n = std::to_string(i);
    expected["pixel_decoder.conv_layers." + n + ".weight"] = {kC, kC, 3, 3};
    expected["pixel_decoder.conv_layers." + n + ".bias"] = {kC};
    add_norm(expected, "pixel_decoder.norms." + n, kC);
    add_linear(expected, "mask_embedder.layers." + n, kC, kC);
  }
  expected["instance_projection.weight"] = {kC, kC, 1, 1};
  expected["instance_projection.bias"] = {kC};
  expected["semantic_projection.weight"] = {1, kC, 1, 1};
  expected["semantic_projection.bias"] = {1};
  add_attention(expected, "prompt_cross_attn");
  add_norm(expected, "prompt_cross_attn_norm", kC);
  EXPECT_EQ(parameter_shapes(*md), expected);
}

TEST(MaskDecoder, PixelDecoderIsTopDownNearestConvGroupNormRelu) {
  torch::NoGradGuard ng;
  torch::manual_seed(23);
  sam3::MaskDecoder md(mask_config());
  auto levels = fpn_levels(24);
  auto out = md->pixel_decoder(levels);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{kBatch, kC, 32, 32}));

  auto stage = [&](int i, const torch::Tensor &coarse, const torch::Tensor &skip) {
    // nearest ×2 upsampling repeats every pixel in a 2×2 block
    auto up = coarse.repeat_interleave(2, 2).repeat_interleave(2, 3);
    auto conv = md->pixel_decoder->conv_layers[i]->as<torch::nn::Conv2d>();
    auto norm = md->pixel_decoder->norms[i]->as<torch::nn::GroupNorm>();
    auto x = torch::conv2d(up + skip, conv->weight, conv->bias, 1, 1);
    x = torch::group_norm(x, 8, norm->weight, norm->bias, 1e-5);
    return torch::relu(x);
  };
  auto expected = stage(1, stage(0, levels[2], levels[1]), levels[0]);
  expect_close(out, expected, 1e-5);
  // the third stage exists (checkpoint) but three levels use only two
  md->pixel_decoder->conv_layers[2]->as<torch::nn::Conv2d>()->weight.normal_();
  expect_close(md->pixel_decoder(levels), out, 0);
}

TEST(MaskDecoder, MasksAreDotProductsOfQueryAndPixelEmbeddings) {
  torch::NoGradGuard ng;
  torch::manual_seed(25);
  sam3::MaskDecoder md(mask_config());
  auto levels = fpn_levels(26);
  auto memory = torch::randn({kBatch, kGrid * kGrid, kC});
  auto prompt = make_prompt(3, 1, 27);
  auto queries = torch::randn({kBatch, kQueries, kC});
  auto out = md(queries, levels, memory, prompt.tokens, prompt.mask);
  ASSERT_EQ(out.pred_masks.sizes(), (std::vector<int64_t>{kBatch, kQueries, 32, 32}));
  ASSERT_EQ(out.semantic_seg.sizes(), (std::vector<int64_t>{kBatch, 1, 32, 32}));

  auto pixels = md->embed_pixels(levels, memory, prompt.tokens, prompt.mask);
  auto inst = md->instance_projection(pixels);
  auto emb = md->mask_embedder(queries);
  for (int64_t q : {0, 4}) {
    auto expected = (emb[1][q].view({kC, 1, 1}) * inst[1]).sum(0);
    expect_close(out.pred_masks[1][q], expected, 1e-4);
  }
  expect_close(out.semantic_seg, md->semantic_projection(pixels), 0);
  // the mask embedder is Linear-ReLU-Linear-ReLU-Linear
  auto lin = [&](int i, const torch::Tensor &x) {
    return md->mask_embedder->layers[i]->as<torch::nn::Linear>()->forward(x);
  };
  expect_close(emb, lin(2, torch::relu(lin(1, torch::relu(lin(0, queries))))), 0);
}

TEST(MaskDecoder, EncoderOutputReplacesCoarsestLevelAfterPromptAttention) {
  torch::NoGradGuard ng;
  torch::manual_seed(28);
  sam3::MaskDecoder md(mask_config());
  auto levels = fpn_levels(29);
  auto memory = torch::randn({kBatch, kGrid * kGrid, kC});
  auto prompt = make_prompt(3, 2, 30);
  auto pixels = md->embed_pixels(levels, memory, prompt.tokens, prompt.mask);

  auto changed = levels;
  changed[2] = torch::randn_like(levels[2]);
  expect_close(md->embed_pixels(changed, memory, prompt.tokens, prompt.mask), pixels, 0);

  auto enc =
      memory + md->prompt_cross_attn(md->prompt_cross_attn_norm(memory),
                                     prompt.tokens.slice(1, 0, 3), prompt.tokens.slice(1, 0, 3));
  auto manual = levels;
  manual[2] = enc.transpose(1, 2).reshape({kBatch, kC, kGrid, kGrid});
  expect_close(md->pixel_decoder(manual), pixels, 1e-5);
}

TEST(MaskDecoder, RejectsBadInput) {
  torch::NoGradGuard ng;
  auto cfg = mask_config();
  cfg.num_upsampling_stages = 1;
  sam3::MaskDecoder md(cfg);
  auto levels = fpn_levels(31);
  auto memory = torch::randn({kBatch, kGrid * kGrid, kC});
  auto prompt = make_prompt(2, 0, 32);
  auto queries = torch::randn({kBatch, kQueries, kC});
  EXPECT_THROW(md(queries, levels, memory, prompt.tokens, prompt.mask), c10::Error);
  std::vector<torch::Tensor> two(levels.begin() + 1, levels.end());
  EXPECT_NO_THROW(md(queries, two, memory, prompt.tokens, prompt.mask));
  EXPECT_THROW(md(queries, two, memory.slice(1, 1), prompt.tokens, prompt.mask), c10::Error);
  EXPECT_THROW(md(queries.slice(2, 1), two, memory, prompt.tokens, prompt.mask), c10::Error);
}

// ---------------------------------------------------------------- assembly

TEST(DecodeOutputs, AssemblesLastLayerLikeSam3Model) {
  torch::NoGradGuard ng;
  torch::manual_seed(33);
  sam3::DetrEncoder enc(encoder_config(1));
  sam3::DetrDecoder dec(decoder_config(2));
  sam3::DotProductScoring scoring(decoder_config(2));
  sam3::MaskDecoder md(mask_config());
  auto levels = fpn_levels(34);
  auto pos = torch::randn({kBatch, kC, kGrid, kGrid});
  auto prompt = make_prompt(3, 2, 35);

  auto encoded = enc(levels[2], pos, prompt.tokens, prompt.mask);
  auto decoded =
      dec(encoded.memory, encoded.pos, encoded.height, encoded.width, prompt.tokens, prompt.mask);
  auto out =
      sam3::decode_outputs(dec, scoring, md, encoded, decoded, levels, prompt.tokens, prompt.mask);
  EXPECT_EQ(out.pred_masks.sizes(), (std::vector<int64_t>{kBatch, kQueries, 32, 32}));
  EXPECT_EQ(out.pred_boxes.sizes(), (std::vector<int64_t>{kBatch, kQueries, 4}));
  EXPECT_EQ(out.pred_logits.sizes(), (std::vector<int64_t>{kBatch, kQueries}));
  EXPECT_EQ(out.presence_logits.sizes(), (std::vector<int64_t>{kBatch, 1}));
  EXPECT_EQ(out.semantic_seg.sizes(), (std::vector<int64_t>{kBatch, 1, 32, 32}));

  auto cxcywh = dec->refine_boxes(decoded.hidden_states[1], decoded.reference_boxes[1]);
  auto b = out.pred_boxes;
  expect_close((b.select(-1, 0) + b.select(-1, 2)) / 2, cxcywh.select(-1, 0));
  expect_close((b.select(-1, 1) + b.select(-1, 3)) / 2, cxcywh.select(-1, 1));
  expect_close(b.select(-1, 2) - b.select(-1, 0), cxcywh.select(-1, 2));
  expect_close(b.select(-1, 3) - b.select(-1, 1), cxcywh.select(-1, 3));
  expect_close(out.pred_logits,
               scoring(decoded.hidden_states, prompt.tokens, prompt.mask)[1].squeeze(-1));
  expect_close(out.presence_logits, decoded.presence_logits[1], 0);
  expect_close(
      out.pred_masks,
      md(decoded.hidden_states[1], levels, encoded.memory, prompt.tokens, prompt.mask).pred_masks,
      0);
}

} // namespace
