// skiptrain::select_channels and sample_channels on crafted inputs whose right answer is known by
// hand, and the sampling rule of channel_sampling.h at its rounding edges.
#include "skiptrain/ops/select_channels.h"
#include "skiptrain/ops/channel_sampling.h"
#include "skiptrain/skiptrain.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace {

at::Tensor idx(std::vector<int64_t> v) { return torch::tensor(v, torch::kLong); }

TEST(SelectChannels, KeptCountIsCeilAtLeastOne) {
  EXPECT_EQ(skiptrain::kept_channels(16, 0.25), 4);
  EXPECT_EQ(skiptrain::kept_channels(10, 0.3), 3);  // not 4: 0.3*10 is 3.0000000000000004
  EXPECT_EQ(skiptrain::kept_channels(6, 0.5), 3);
  EXPECT_EQ(skiptrain::kept_channels(6, 0.25), 2);
  EXPECT_EQ(skiptrain::kept_channels(6, 0.01), 1);
  EXPECT_EQ(skiptrain::kept_channels(6, 1.0), 6);
}

TEST(SelectChannels, ErrorTermPicksLargestErrorMaps) {
  // delta channel j has |value| = scale[j]; weights all equal.
  auto scale = torch::tensor({1.0, 5.0, 2.0, 7.0, 3.0, 0.5, 6.0, 4.0});
  auto go = torch::ones({3, 8, 4, 4}) * scale.view({1, -1, 1, 1});
  go.index_put_({0}, -go.index({0}));  // signs must not matter: L1 norms
  auto w = torch::ones({8, 2, 3, 3});
  EXPECT_TRUE(torch::equal(skiptrain::select_channels(go, w, 0.5, 1.0, 1.0), idx({1, 3, 6, 7})));
  EXPECT_TRUE(torch::equal(skiptrain::select_channels(go, w, 0.25, 0.0, 1.0), idx({3, 6})));
  EXPECT_TRUE(torch::equal(skiptrain::select_channels(go, w, 0.01, 0.0, 1.0), idx({3})));
}

TEST(SelectChannels, SummedOverTheBatch) {
  // Channel 0 is large in one instance only, channel 1 moderately large in all: the sum decides.
  auto go = torch::zeros({4, 2, 2, 2});
  go.index_put_({0, 0}, 3.0);   // sum 12
  go.index_put_({torch::indexing::Slice(), 1}, 1.0);  // 4 x 4 = 16
  auto w = torch::ones({2, 1, 1, 1});
  EXPECT_TRUE(torch::equal(skiptrain::select_channels(go, w, 0.5, 0.0, 1.0), idx({1})));
}

TEST(SelectChannels, WeightTermAndNormalisation) {
  auto go = torch::ones({2, 4, 3, 3}) * 1000.0;  // equal error maps, huge magnitude
  auto w = torch::ones({4, 3, 3, 3}) * torch::tensor({0.1, 0.4, 0.2, 0.3}).view({-1, 1, 1, 1});
  // Equal delta terms: the weight term decides despite the 1000x magnitude gap (normalised by means).
  EXPECT_TRUE(torch::equal(skiptrain::select_channels(go, w, 0.5, 1.0, 1.0), idx({1, 3})));
  EXPECT_TRUE(torch::equal(skiptrain::select_channels(go, w, 0.5, 1.0, 0.0), idx({1, 3})));
  // Mean-normalised: delta differences of +-10% beat weight differences of +-10% only when gamma2 > gamma1.
  auto go2 = torch::ones({1, 4, 1, 1}) * torch::tensor({1.2, 0.8, 1.0, 1.0}).view({1, -1, 1, 1});
  auto w2 = torch::ones({4, 1, 1, 1}) * torch::tensor({0.8, 1.2, 1.0, 1.0}).view({-1, 1, 1, 1});
  EXPECT_TRUE(torch::equal(skiptrain::select_channels(go2, w2, 0.25, 1.0, 2.0), idx({0})));
  EXPECT_TRUE(torch::equal(skiptrain::select_channels(go2, w2, 0.25, 2.0, 1.0), idx({1})));
}

TEST(SelectChannels, TiesGoToLowerIndexAndZeroErrorsAreFine) {
  auto go = torch::zeros({2, 6, 3, 3});
  auto w = torch::ones({6, 1, 3, 3});
  EXPECT_TRUE(torch::equal(skiptrain::select_channels(go, w, 0.5, 1.0, 1.0), idx({0, 1, 2})));
}

TEST(SelectChannels, RejectsBadArguments) {
  auto go = torch::randn({2, 4, 3, 3});
  auto w = torch::randn({4, 2, 3, 3});
  EXPECT_THROW(skiptrain::select_channels(go, w, 0.0, 1, 1), c10::Error);
  EXPECT_THROW(skiptrain::select_channels(go, torch::randn({5, 2, 3, 3}), 0.5, 1, 1), c10::Error);
  EXPECT_THROW(skiptrain::select_channels(go.flatten(2), w, 0.5, 1, 1), c10::Error);
  EXPECT_THROW(skiptrain::sample_channels(go, w, 1.5, 1, 1), c10::Error);
  EXPECT_THROW(skiptrain::sample_channels(go, torch::randn({5, 2, 3, 3}), 0.5, 1, 1), c10::Error);
}

std::vector<double> probabilities(std::vector<double> score, int64_t k) {
  skiptrain::sampling::inclusion_probabilities(score.data(), static_cast<int64_t>(score.size()), k, score.data());
  return score;
}

TEST(ChannelSampling, ProbabilitiesFollowTheScoresCappedAtOneAndSumToTheKeptCount) {
  // 10 is over the share 2 of 14 allows: kept for sure, the four 1s share the one draw left.
  const auto p = probabilities({1, 1, 10, 1, 1}, 2);
  for (int j : {0, 1, 3, 4}) EXPECT_NEAR(p[j], 0.25, 1e-12) << j;
  EXPECT_DOUBLE_EQ(p[2], 1.0);
  // Uncapped: proportional to score + 1% of the mean score.
  const auto q = probabilities({1, 2, 3, 4}, 1);
  const double floor = 0.01 * 10 / 4;
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(q[j], (j + 1 + floor) / (10 + 4 * floor), 1e-12) << j;
  // Capping can cascade: 8 caps first, then 6 reaches its share of what is left.
  const auto r = probabilities({8, 6, 1, 1, 1, 1}, 3);
  EXPECT_DOUBLE_EQ(r[0], 1.0);
  EXPECT_DOUBLE_EQ(r[1], 1.0);
  for (int j = 2; j < 6; ++j) EXPECT_NEAR(r[j], 0.25, 1e-12) << j;
}

TEST(ChannelSampling, BadOrZeroScoresStillGiveEveryChannelAChance) {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  const auto p = probabilities({nan, inf, -3, 0, 5, 5}, 2);
  double sum = 0;
  for (double v : p) {
    EXPECT_GT(v, 0.0);
    EXPECT_LE(v, 1.0);
    sum += v;
  }
  EXPECT_NEAR(sum, 2.0, 1e-12);
  const auto all_zero = probabilities({0, 0, 0, 0}, 3);
  for (double v : all_zero) EXPECT_NEAR(v, 0.75, 1e-12);
}

TEST(ChannelSampling, AnyScaleOfTheScoresGivesTheSameProbabilities) {
  // Tiny gammas (down to subnormal scores) and huge ones must not overflow the share or lose the sum.
  const std::vector<double> base = {3, 1, 4, 1, 5, 9, 2, 6};
  const auto expected = probabilities(base, 3);
  for (double factor : {1e-300, 1e-310, 1e280}) {
    std::vector<double> scaled;
    for (double v : base) scaled.push_back(v * factor);
    const auto p = probabilities(scaled, 3);
    for (size_t j = 0; j < p.size(); ++j) EXPECT_NEAR(p[j], expected[j], 1e-6) << "factor " << factor << " " << j;
  }
  auto go = torch::randn({2, 8, 3, 3});
  auto [kept, scale] = skiptrain::sample_channels(go, torch::randn({8, 2, 3, 3}), 0.5, 1e-306, 1e-306);
  EXPECT_EQ(kept.numel(), 4);
  EXPECT_TRUE(torch::isfinite(scale).all().item<bool>());
}

TEST(ChannelSampling, SystematicSampleDrawsExactlyKAtEveryRoundingEdge) {
  // Probabilities whose decimal sums are not exact in binary, at u = 0 and u just below 1.
  for (const auto& [p, k] :
       std::vector<std::pair<std::vector<double>, int64_t>>{{{1.0 / 3, 1.0 / 3, 1.0 / 3}, 1},
                                                            {{0.1, 0.2, 0.3, 0.4, 1.0, 0.7, 0.3}, 3},
                                                            {{1, 1, 1, 0.5, 0.5}, 4},
                                                            {std::vector<double>(10, 0.7), 7}}) {
    for (double u : {0.0, 0.5, std::nextafter(1.0, 0.0)}) {
      std::vector<int64_t> kept(k, -1);
      std::vector<double> scale(k, 0);
      EXPECT_EQ(skiptrain::sampling::systematic_sample(p.data(), static_cast<int64_t>(p.size()), k, u, kept.data(),
                                                       scale.data()),
                k);
      for (int64_t i = 0; i < k; ++i) {
        ASSERT_GE(kept[i], 0) << "slot " << i << " of " << k << " unfilled at u " << u;
        if (i > 0) EXPECT_GT(kept[i], kept[i - 1]);
        EXPECT_DOUBLE_EQ(scale[i], 1.0 / p[kept[i]]);
      }
      for (size_t j = 0; j < p.size(); ++j)
        if (p[j] >= 1.0)
          EXPECT_NE(std::find(kept.begin(), kept.end(), static_cast<int64_t>(j)), kept.end())
              << "a sure channel missed";
    }
  }
}

TEST(SampleChannels, DrawsInProportionToTheScoresWithScalesOfOneOverTheProbability) {
  // Error-map norms 1, 1, 10, 1, 1 (weights equal, gamma1 = 0): channel 2 is always drawn with scale 1,
  // each of the others a quarter of the time with scale 4.
  auto go = torch::ones({2, 5, 3, 3}) * torch::tensor({1.0, 1.0, 10.0, 1.0, 1.0}).view({1, -1, 1, 1});
  auto w = torch::ones({5, 2, 3, 3});
  torch::manual_seed(3);
  std::vector<int> count(5, 0);
  const int draws = 4000;
  for (int d = 0; d < draws; ++d) {
    auto [kept, scale] = skiptrain::sample_channels(go, w, 0.4, 0.0, 1.0);
    ASSERT_EQ(kept.numel(), 2);
    ASSERT_LT(kept[0].item<int64_t>(), kept[1].item<int64_t>());
    for (int i = 0; i < 2; ++i) {
      const int64_t j = kept[i].item<int64_t>();
      ++count[j];
      EXPECT_NEAR(scale[i].item<float>(), j == 2 ? 1.0 : 4.0, 1e-5);
    }
  }
  EXPECT_EQ(count[2], draws);
  // Binomial(4000, 0.25): sd 27, so +-150 is over 5 sd.
  for (int j : {0, 1, 3, 4}) EXPECT_NEAR(count[j], draws / 4, 150) << "channel " << j;
}

TEST(SampleChannels, RepeatableUnderManualSeedAndKeepOneKeepsAll) {
  auto go = torch::randn({3, 16, 5, 5});
  auto w = torch::randn({16, 4, 3, 3});
  torch::manual_seed(11);
  auto first = skiptrain::sample_channels(go, w, 0.25, 1.0, 1.0);
  torch::manual_seed(11);
  auto second = skiptrain::sample_channels(go, w, 0.25, 1.0, 1.0);
  EXPECT_TRUE(torch::equal(std::get<0>(first), std::get<0>(second)));
  EXPECT_TRUE(torch::equal(std::get<1>(first), std::get<1>(second)));
  EXPECT_EQ(std::get<1>(first).scalar_type(), at::kFloat);
  auto [all, ones] = skiptrain::sample_channels(go, w, 1.0, 1.0, 1.0);
  EXPECT_TRUE(torch::equal(all, torch::arange(16, torch::kLong)));
  EXPECT_TRUE(torch::equal(ones, torch::ones({16})));
  // Double gradients get double scales, sampled or all kept.
  for (const double keep : {0.25, 1.0})
    EXPECT_EQ(
        std::get<1>(skiptrain::sample_channels(go.to(at::kDouble), w.to(at::kDouble), keep, 1.0, 1.0)).scalar_type(),
        at::kDouble)
        << keep;
}

}  // namespace
