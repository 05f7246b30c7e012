// The SAM prompt encoder and mask decoder of the tracker on the tiny video config (C = 32,
// 8 x 8 feature grid, 32 x 32 low-resolution masks).
#include "model/test_model.h"
#include "tracker/prompt_encoder.h"
#include "tracker/sam_mask_decoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace {

using sam3::SamHeadsOutput;
using sam3::TrackerConfig;
using sam3::TrackerMaskDecoder;
using sam3::TrackerPositionalEmbedding;
using sam3::TrackerPromptEncoder;

TrackerConfig tiny() {
  return sam3::tiny_video_test_config().tracker;
}

constexpr int64_t kC = 32; // hidden size of the tiny tracker
constexpr int64_t kG = 8;  // feature grid side
constexpr int64_t kS = 32; // low-resolution mask side (4g)
constexpr int64_t kImage = 112;

// Every parameter and buffer random (norms included), so that each one matters.
void randomize(torch::nn::Module &module, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto &p : module.parameters())
    p.normal_(0.0, 0.3);
  for (auto &b : module.buffers())
    b.normal_(0.0, 1.0);
}

std::set<std::string> key_set(const torch::nn::Module &module) {
  std::set<std::string> keys;
  for (const auto &p : module.named_parameters())
    keys.insert(p.key());
  for (const auto &b : module.named_buffers())
    keys.insert(b.key());
  return keys;
}

int64_t element_count(const torch::nn::Module &module) {
  int64_t n = 0;
  for (const auto &p : module.parameters())
    n += p.numel();
  return n;
}

// One frame's decoder inputs for n objects sharing the image (batch 1).
struct Frame {
  torch::Tensor image, pe, feat_s0, feat_s1;
};

Frame random_frame(TrackerPositionalEmbedding &pe, uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({1, kC, kG, kG}), pe->grid(kG), torch::randn({1, kC / 8, kS, kS}),
          torch::randn({1, kC / 4, kS / 2, kS / 2})};
}

struct Heads {
  TrackerPromptEncoder encoder{nullptr};
  TrackerMaskDecoder decoder{nullptr};
  TrackerPositionalEmbedding image_pe{nullptr};

  explicit Heads(const TrackerConfig &config) {
    encoder = TrackerPromptEncoder(config);
    decoder = TrackerMaskDecoder(config);
    image_pe = TrackerPositionalEmbedding(config);
    randomize(*encoder, 1);
    randomize(*decoder, 2);
    randomize(*image_pe, 3);
  }

  SamHeadsOutput run(const Frame &f, const torch::Tensor &points, const torch::Tensor &labels,
                     const torch::Tensor &masks, int64_t n, bool multimask) {
    torch::NoGradGuard no_grad;
    auto [sparse, dense] = encoder->forward(points, labels, masks, n);
    return decoder->forward(f.image, f.pe, sparse, dense, multimask, {f.feat_s0, f.feat_s1});
  }
};

TEST(TrackerHeads, PromptEncoderKeysAreTransformersNames) {
  TrackerPromptEncoder encoder(tiny());
  const std::set<std::string> expected = {
      "shared_embedding.positional_embedding",
      "mask_embed.conv1.weight",
      "mask_embed.conv1.bias",
      "mask_embed.conv2.weight",
      "mask_embed.conv2.bias",
      "mask_embed.conv3.weight",
      "mask_embed.conv3.bias",
      "mask_embed.layer_norm1.weight",
      "mask_embed.layer_norm1.bias",
      "mask_embed.layer_norm2.weight",
      "mask_embed.layer_norm2.bias",
      "no_mask_embed.weight",
      "point_embed.weight",
      "not_a_point_embed.weight",
  };
  EXPECT_EQ(key_set(*encoder), expected);
  EXPECT_EQ(encoder->point_embed->weight.sizes(), (c10::IntArrayRef{4, kC}));
  EXPECT_EQ(encoder->shared_embedding->positional_embedding.sizes(), (c10::IntArrayRef{2, kC / 2}));
  TrackerPositionalEmbedding shared(tiny());
  EXPECT_EQ(key_set(*shared), std::set<std::string>{"positional_embedding"});
}

TEST(TrackerHeads, MaskDecoderKeysAndSizes) {
  TrackerMaskDecoder decoder(tiny());
  const auto keys = key_set(*decoder);
  // 3 token tables; 2 two-way blocks of 36; final attention + norm 10; upscaling 6;
  // 4 hypernetwork MLPs of 6; IoU head 6; conv_s0/conv_s1 4; object-score head 6.
  EXPECT_EQ(keys.size(), 131u);
  for (const char *key : {"iou_token.weight",
                          "mask_tokens.weight",
                          "obj_score_token.weight",
                          "transformer.layers.0.self_attn.q_proj.weight",
                          "transformer.layers.1.cross_attn_token_to_image.k_proj.bias",
                          "transformer.layers.1.cross_attn_image_to_token.o_proj.weight",
                          "transformer.layers.0.mlp.proj_in.weight",
                          "transformer.layers.0.mlp.proj_out.bias",
                          "transformer.layers.1.layer_norm4.weight",
                          "transformer.final_attn_token_to_image.v_proj.weight",
                          "transformer.layer_norm_final_attn.bias",
                          "upscale_conv1.weight",
                          "upscale_layer_norm.weight",
                          "upscale_conv2.bias",
                          "output_hypernetworks_mlps.3.layers.0.weight",
                          "output_hypernetworks_mlps.0.proj_out.bias",
                          "iou_prediction_head.proj_in.weight",
                          "iou_prediction_head.layers.0.bias",
                          "pred_obj_score_head.proj_out.weight",
                          "conv_s0.weight",
                          "conv_s1.bias"})
    EXPECT_TRUE(keys.count(key)) << key;
  // Cross attentions run at half width: (C/2, C) projections.
  EXPECT_EQ(
      decoder->named_parameters()["transformer.layers.0.cross_attn_token_to_image.q_proj.weight"]
          .sizes(),
      (c10::IntArrayRef{kC / 2, kC}));
  EXPECT_EQ(decoder->mask_tokens->weight.sizes(), (c10::IntArrayRef{4, kC}));
}

TEST(TrackerHeads, ReleaseSizesMatchTheCheckpointParameterCounts) {
  // sam3-reference.md 9.3: SAM mask decoder 4,215,109 and prompt encoder 6,220 parameters
  // (plus the 2 x 128 Gaussian buffer).
  const TrackerConfig release;
  EXPECT_EQ(element_count(*TrackerMaskDecoder(release)), 4215109);
  TrackerPromptEncoder encoder(release);
  EXPECT_EQ(element_count(*encoder), 6220);
  EXPECT_EQ(encoder->shared_embedding->positional_embedding.numel(), 256);
}

TEST(TrackerHeads, FourierEmbeddingMatchesHandComputation) {
  TrackerPositionalEmbedding pe(tiny());
  randomize(*pe, 7);
  const auto gauss = pe->positional_embedding;
  const std::vector<std::pair<double, double>> points = {{0.25, 0.8}, {1.0, 0.0}};
  const auto out = pe->forward(torch::tensor({0.25, 0.8, 1.0, 0.0}).view({2, 2}));
  ASSERT_EQ(out.sizes(), (c10::IntArrayRef{2, kC}));
  for (size_t i = 0; i < points.size(); ++i) {
    const double x = 2 * points[i].first - 1, y = 2 * points[i].second - 1;
    for (int64_t j = 0; j < kC / 2; ++j) {
      const double v = 2 * M_PI * (x * gauss[0][j].item<double>() + y * gauss[1][j].item<double>());
      EXPECT_NEAR(out[i][j].item<double>(), std::sin(v), 1e-5);
      EXPECT_NEAR(out[i][kC / 2 + j].item<double>(), std::cos(v), 1e-5);
    }
  }
  // The dense grid samples cell centres: cell (row 2, column 5) of 8 is at ((5.5, 2.5) / 8).
  const auto grid = pe->grid(kG);
  ASSERT_EQ(grid.sizes(), (c10::IntArrayRef{1, kC, kG, kG}));
  const auto cell = pe->forward(torch::tensor({5.5 / kG, 2.5 / kG}, torch::kFloat));
  EXPECT_TRUE(torch::allclose(grid.index({0, torch::indexing::Slice(), 2, 5}), cell, 1e-5, 1e-6));
}

TEST(TrackerHeads, NoPointsBecomeTwoPaddingTokens) {
  TrackerPromptEncoder encoder(tiny());
  randomize(*encoder, 4);
  torch::NoGradGuard no_grad;
  auto [sparse, dense] = encoder->forward(torch::Tensor(), torch::Tensor(), torch::Tensor(), 3);
  ASSERT_EQ(sparse.sizes(), (c10::IntArrayRef{3, 2, kC}));
  const auto pad = encoder->not_a_point_embed->weight.view({1, 1, kC}).expand({3, 2, kC});
  EXPECT_TRUE(torch::equal(sparse, pad));
  ASSERT_EQ(dense.sizes(), (c10::IntArrayRef{3, kC, kG, kG}));
  EXPECT_TRUE(torch::equal(
      dense, encoder->no_mask_embed->weight.view({1, kC, 1, 1}).expand({3, kC, kG, kG})));
}

TEST(TrackerHeads, PointsAreShiftedToPixelCentresEmbeddedByLabelAndPadded) {
  TrackerPromptEncoder encoder(tiny());
  randomize(*encoder, 5);
  torch::NoGradGuard no_grad;
  // A negative click, a box (labels 2, 3) and an explicit padding point.
  const auto points =
      torch::tensor({10.f, 20.f, 0.f, 5.f, 111.f, 99.f, 50.f, 50.f}).view({1, 4, 2});
  const auto labels = torch::tensor({0, 2, 3, -1}, torch::kLong).view({1, 4});
  auto [sparse, dense] = encoder->forward(points, labels, torch::Tensor(), 1);
  ASSERT_EQ(sparse.sizes(), (c10::IntArrayRef{1, 5, kC}));
  const auto pe = [&](double x, double y) {
    return encoder->shared_embedding->forward(
        torch::tensor({(x + 0.5) / kImage, (y + 0.5) / kImage}, torch::kFloat));
  };
  const auto &types = encoder->point_embed->weight;
  const auto pad = encoder->not_a_point_embed->weight[0];
  EXPECT_TRUE(torch::allclose(sparse[0][0], pe(10, 20) + types[0], 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(sparse[0][1], pe(0, 5) + types[2], 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(sparse[0][2], pe(111, 99) + types[3], 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(sparse[0][3], pad));
  EXPECT_TRUE(torch::equal(sparse[0][4], pad));
}

TEST(TrackerHeads, MaskPromptReplacesNoMaskEmbedding) {
  TrackerPromptEncoder encoder(tiny());
  randomize(*encoder, 6);
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const auto masks = torch::randn({2, 1, kS, kS});
  auto [sparse, dense] = encoder->forward(torch::Tensor(), torch::Tensor(), masks, 2);
  ASSERT_EQ(dense.sizes(), (c10::IntArrayRef{2, kC, kG, kG}));
  EXPECT_TRUE(torch::allclose(dense[1], encoder->mask_embed(masks.slice(0, 1, 2))[0], 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(dense[0], dense[1]));
  EXPECT_FALSE(torch::allclose(
      dense[0], encoder->no_mask_embed->weight.view({kC, 1, 1}).expand({kC, kG, kG})));
}

TEST(TrackerHeads, BadPromptsAreRejectedWithAMessage) {
  TrackerPromptEncoder encoder(tiny());
  const auto pts = torch::zeros({1, 2, 2});
  const auto lbl = torch::ones({1, 2}, torch::kLong);
  EXPECT_THROW(encoder->forward(pts, torch::Tensor(), torch::Tensor(), 1), c10::Error);
  EXPECT_THROW(encoder->forward(torch::Tensor(), lbl, torch::Tensor(), 1), c10::Error);
  EXPECT_THROW(encoder->forward(pts, lbl, torch::Tensor(), 2), c10::Error);
  EXPECT_THROW(encoder->forward(pts, torch::full({1, 2}, 4, torch::kLong), torch::Tensor(), 1),
               c10::Error);
  EXPECT_THROW(encoder->forward(pts, torch::full({1, 2}, -2, torch::kLong), torch::Tensor(), 1),
               c10::Error);
  EXPECT_THROW(encoder->forward(pts, torch::ones({1, 2}), torch::Tensor(), 1), c10::Error);
  EXPECT_THROW(encoder->forward(torch::zeros({1, 2, 3}), lbl, torch::Tensor(), 1), c10::Error);
  EXPECT_THROW(encoder->forward(pts, lbl, torch::zeros({1, 1, kS / 2, kS / 2}), 1), c10::Error);
  try {
    encoder->forward(pts, torch::full({1, 2}, 7, torch::kLong), torch::Tensor(), 1);
    FAIL() << "labels out of range accepted";
  } catch (const c10::Error &e) {
    EXPECT_NE(std::string(e.what()).find("point labels must lie in [-1, 3]"), std::string::npos)
        << e.what();
  }
}

TEST(TrackerHeads, OutputShapesForEveryPromptKind) {
  Heads heads(tiny());
  const auto frame = random_frame(heads.image_pe, 11);
  for (int64_t n : {1, 3}) {
    torch::manual_seed(n);
    const auto clicks = torch::rand({n, 2, 2}) * kImage;
    const auto click_labels = torch::tensor({1, 0}, torch::kLong).repeat({n, 1});
    const auto box = torch::tensor({10.f, 12.f, 80.f, 90.f}).view({1, 2, 2}).repeat({n, 1, 1});
    const auto box_labels = torch::tensor({2, 3}, torch::kLong).repeat({n, 1});
    const auto masks = torch::randn({n, 1, kS, kS});
    struct Case {
      const char *name;
      torch::Tensor points, labels, masks;
    };
    for (const auto &c : std::vector<Case>{{"points", clicks, click_labels, {}},
                                           {"box", box, box_labels, {}},
                                           {"mask", {}, {}, masks},
                                           {"none", {}, {}, {}}}) {
      for (bool multimask : {true, false}) {
        SCOPED_TRACE(std::string(c.name) + " n=" + std::to_string(n) +
                     (multimask ? " multimask" : " single"));
        const auto out = heads.run(frame, c.points, c.labels, c.masks, n, multimask);
        const int64_t m = multimask ? 3 : 1;
        EXPECT_EQ(out.masks.sizes(), (c10::IntArrayRef{n, m, kS, kS}));
        EXPECT_EQ(out.iou_scores.sizes(), (c10::IntArrayRef{n, m}));
        EXPECT_EQ(out.sam_tokens.sizes(), (c10::IntArrayRef{n, m, kC}));
        EXPECT_EQ(out.object_score_logits.sizes(), (c10::IntArrayRef{n, 1}));
        EXPECT_TRUE(out.masks.isfinite().all().item<bool>());
        // The IoU head ends in a sigmoid.
        EXPECT_TRUE(((out.iou_scores >= 0) & (out.iou_scores <= 1)).all().item<bool>());
      }
    }
  }
}

TEST(TrackerHeads, DecoderIsBatchConsistent) {
  Heads heads(tiny());
  const auto frame = random_frame(heads.image_pe, 12);
  torch::manual_seed(3);
  const auto points = torch::rand({3, 2, 2}) * kImage;
  const auto labels = torch::tensor({1, 0, 1, 1, 2, 3}, torch::kLong).view({3, 2});
  for (bool multimask : {true, false}) {
    const auto all = heads.run(frame, points, labels, {}, 3, multimask);
    for (int64_t i = 0; i < 3; ++i) {
      const auto one =
          heads.run(frame, points.slice(0, i, i + 1), labels.slice(0, i, i + 1), {}, 1, multimask);
      EXPECT_TRUE(torch::allclose(all.masks.slice(0, i, i + 1), one.masks, 1e-4, 1e-5)) << i;
      EXPECT_TRUE(torch::allclose(all.iou_scores.slice(0, i, i + 1), one.iou_scores, 1e-5, 1e-6));
      EXPECT_TRUE(torch::allclose(all.sam_tokens.slice(0, i, i + 1), one.sam_tokens, 1e-5, 1e-6));
      EXPECT_TRUE(torch::allclose(all.object_score_logits.slice(0, i, i + 1),
                                  one.object_score_logits, 1e-5, 1e-6));
    }
    // Different prompts give different masks.
    EXPECT_FALSE(torch::allclose(all.masks[0], all.masks[1]));
  }
  // Per-object image inputs (batch n) equal the shared batch-1 image.
  torch::NoGradGuard no_grad;
  auto [sparse, dense] = heads.encoder->forward(points, labels, {}, 3);
  const auto shared = heads.decoder->forward(frame.image, frame.pe, sparse, dense, true,
                                             {frame.feat_s0, frame.feat_s1});
  const auto repeated = heads.decoder->forward(
      frame.image.expand({3, -1, -1, -1}), frame.pe, sparse, dense, true,
      {frame.feat_s0.expand({3, -1, -1, -1}), frame.feat_s1.expand({3, -1, -1, -1})});
  EXPECT_TRUE(torch::allclose(shared.masks, repeated.masks, 1e-5, 1e-6));
}

TEST(TrackerHeads, SingleMaskOutputIsTheFirstToken) {
  auto config = tiny();
  config.mask_decoder.dynamic_multimask_via_stability = false;
  Heads heads(config);
  const auto frame = random_frame(heads.image_pe, 13);
  const auto points = torch::tensor({30.f, 40.f, 70.f, 20.f}).view({1, 2, 2});
  const auto labels = torch::tensor({1, 1}, torch::kLong).view({1, 2});
  const auto single = heads.run(frame, points, labels, {}, 1, false);
  const auto multi = heads.run(frame, points, labels, {}, 1, true);
  ASSERT_EQ(single.masks.size(1), 1);
  // Token 0 is the single-mask output: it differs from each of the 3 multimask outputs.
  for (int64_t k = 0; k < 3; ++k)
    EXPECT_FALSE(torch::allclose(single.masks[0][0], multi.masks[0][k]));
  EXPECT_TRUE(torch::allclose(single.object_score_logits, multi.object_score_logits));
}

TEST(TrackerHeads, UnstableSingleMaskFallsBackToBestMultimask) {
  Heads dynamic(tiny());
  auto fixed_config = tiny();
  fixed_config.mask_decoder.dynamic_multimask_via_stability = false;
  Heads fixed(fixed_config); // the same seeded weights, no fallback
  // A zero hypernetwork for token 0 makes the single mask all 0: stability 0 < 0.98.
  for (auto *heads : {&dynamic, &fixed}) {
    torch::NoGradGuard no_grad;
    auto mlp = heads->decoder->output_hypernetworks_mlps[0]->as<sam3::TrackerFeedForward>();
    mlp->proj_out->weight.zero_();
    mlp->proj_out->bias.zero_();
  }
  const auto frame = random_frame(dynamic.image_pe, 14);
  const auto points = torch::tensor({30.f, 40.f, 70.f, 20.f, 5.f, 100.f}).view({3, 1, 2});
  const auto labels = torch::ones({3, 1}, torch::kLong);
  const auto out = dynamic.run(frame, points, labels, {}, 3, false);
  const auto multi = dynamic.run(frame, points, labels, {}, 3, true);
  const auto single = fixed.run(frame, points, labels, {}, 3, false);
  EXPECT_TRUE(torch::equal(single.masks, torch::zeros_like(single.masks)));
  const auto best = multi.iou_scores.argmax(1);
  for (int64_t i = 0; i < 3; ++i) {
    const auto b = best[i].item<int64_t>();
    EXPECT_TRUE(torch::equal(out.masks[i][0], multi.masks[i][b])) << i;
    EXPECT_FLOAT_EQ(out.iou_scores[i][0].item<float>(), multi.iou_scores[i][b].item<float>());
  }
  // The object pointer still comes from the single-mask token.
  EXPECT_TRUE(torch::equal(out.sam_tokens, single.sam_tokens));

  // A threshold every mask meets keeps the single mask.
  auto lenient = tiny();
  lenient.mask_decoder.dynamic_multimask_stability_thresh = 0.0;
  Heads kept(lenient);
  {
    torch::NoGradGuard no_grad;
    auto mlp = kept.decoder->output_hypernetworks_mlps[0]->as<sam3::TrackerFeedForward>();
    mlp->proj_out->weight.zero_();
    mlp->proj_out->bias.zero_();
  }
  const auto kept_out = kept.run(frame, points, labels, {}, 3, false);
  EXPECT_TRUE(torch::equal(kept_out.masks, single.masks));
  EXPECT_TRUE(torch::equal(kept_out.iou_scores, single.iou_scores));
}

TEST(TrackerHeads, BadDecoderInputsAreRejectedWithAMessage) {
  Heads heads(tiny());
  const auto f = random_frame(heads.image_pe, 15);
  torch::NoGradGuard no_grad;
  auto [sparse, dense] = heads.encoder->forward({}, {}, {}, 2);
  EXPECT_NO_THROW(
      heads.decoder->forward(f.image, f.pe, sparse, dense, true, {f.feat_s0, f.feat_s1}));
  EXPECT_THROW(heads.decoder->forward(f.image, f.pe, sparse, dense, true, {f.feat_s0}), c10::Error);
  EXPECT_THROW(heads.decoder->forward(f.image, f.pe, sparse, dense, true, {f.feat_s1, f.feat_s0}),
               c10::Error);
  EXPECT_THROW(heads.decoder->forward(f.image, f.pe, sparse, dense.slice(0, 0, 1), true,
                                      {f.feat_s0, f.feat_s1}),
               c10::Error);
  EXPECT_THROW(heads.decoder->forward(f.image.slice(1, 0, kC / 2), f.pe, sparse, dense, true,
                                      {f.feat_s0, f.feat_s1}),
               c10::Error);
  EXPECT_THROW(heads.decoder->forward(torch::randn({3, kC, kG, kG}), f.pe, sparse, dense, true,
                                      {f.feat_s0, f.feat_s1}),
               c10::Error);
  EXPECT_THROW(heads.decoder->forward(f.image, f.pe, sparse.slice(2, 0, 8), dense, true,
                                      {f.feat_s0, f.feat_s1}),
               c10::Error);
  auto bad = tiny();
  bad.mask_decoder.hidden_size = 36;
  EXPECT_THROW(TrackerMaskDecoder{bad}, c10::Error);
}

} // namespace
