// skiptrain::select_channels on crafted inputs whose right answer is known by hand.
#include "skiptrain/ops/select_channels.h"
#include "skiptrain/skiptrain.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

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
}

}  // namespace
