#include "common/attention.h"

#include <gtest/gtest.h>

namespace {

torch::Tensor reference_attention(const torch::Tensor &q, const torch::Tensor &k,
                                  const torch::Tensor &v, int64_t heads,
                                  const torch::Tensor &bias) {
  const auto B = q.size(0), Lq = q.size(1), Lk = k.size(1), C = q.size(2), hd = C / heads;
  auto out = torch::zeros_like(q);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      auto qs = q[b].narrow(1, h * hd, hd);
      auto ks = k[b].narrow(1, h * hd, hd);
      auto vs = v[b].narrow(1, h * hd, hd);
      auto s = torch::matmul(qs, ks.t()) / std::sqrt(static_cast<double>(hd));
      if (bias.defined())
        s = s + bias[b][h];
      out[b].narrow(1, h * hd, hd).copy_(torch::matmul(torch::softmax(s, -1), vs));
    }
  }
  (void)Lq;
  (void)Lk;
  return out;
}

TEST(Attention, MatchesPerHeadSoftmax) {
  torch::manual_seed(0);
  auto q = torch::randn({2, 5, 16}), k = torch::randn({2, 7, 16}), v = torch::randn({2, 7, 16});
  auto out = sam3::attention(q, k, v, 4);
  auto ref = reference_attention(q, k, v, 4, {});
  EXPECT_TRUE(torch::allclose(out, ref, 1e-5, 1e-5));
}

TEST(Attention, AdditiveBiasIsApplied) {
  torch::manual_seed(1);
  auto q = torch::randn({1, 3, 8}), k = torch::randn({1, 4, 8}), v = torch::randn({1, 4, 8});
  auto bias = torch::randn({1, 2, 3, 4});
  auto out = sam3::attention(q, k, v, 2, bias);
  EXPECT_TRUE(torch::allclose(out, reference_attention(q, k, v, 2, bias), 1e-5, 1e-5));
  EXPECT_FALSE(torch::allclose(out, sam3::attention(q, k, v, 2), 1e-3, 1e-3));
}

TEST(Attention, PaddedKeysAreIgnored) {
  torch::manual_seed(2);
  auto q = torch::randn({1, 3, 8}), k = torch::randn({1, 5, 8}), v = torch::randn({1, 5, 8});
  auto pad = torch::tensor({false, false, false, true, true}).unsqueeze(0);
  auto masked = sam3::attention(q, k, v, 2, sam3::key_padding_to_attend_mask(pad));
  auto trimmed = sam3::attention(q, k.narrow(1, 0, 3), v.narrow(1, 0, 3), 2);
  EXPECT_TRUE(torch::allclose(masked, trimmed, 1e-5, 1e-5));
}

} // namespace
