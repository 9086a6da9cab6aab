// SMD's coin: each batch trains whole or is dropped whole, at the asked rate, and the
// decisions are a function of LibTorch's global generator (so checkpoints resume them).
#include "skiptrain/train/methods/smd_selector.h"

#include "train/methods/selector_fixtures.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using skiptrain::test::batch_of;
using skiptrain::train::SmdSelector;

// 1 for each of `n` batches that trains, 0 for each dropped.
std::vector<int> decisions(double p, int64_t n) {
  SmdSelector smd(p);
  skiptrain::cost::Ledger ledger;
  std::vector<int> out;
  for (int64_t i = 0; i < n; ++i) {
    const auto plan = smd.plan(batch_of(16), ledger);
    EXPECT_EQ(plan.loss_only.numel(), 0);
    EXPECT_TRUE(plan.train.numel() == 0 || plan.train.numel() == 16);
    out.push_back(plan.train.numel() > 0);
  }
  EXPECT_EQ(ledger.spent_macs(), 0.0);
  return out;
}

TEST(SmdSelector, ZeroProbabilityTrainsEveryBatch) {
  torch::manual_seed(0);
  const auto d = decisions(0.0, 100);
  EXPECT_EQ(std::count(d.begin(), d.end(), 1), 100);
}

TEST(SmdSelector, DropsAtTheAskedRate) {
  for (double p : {0.25, 0.5, 0.75}) {
    torch::manual_seed(1);
    const auto d = decisions(p, 4000);
    const double dropped = 1.0 - std::count(d.begin(), d.end(), 1) / 4000.0;
    // Binomial standard deviation <= sqrt(0.25 / 4000) = 0.0079: 4 of them.
    EXPECT_NEAR(dropped, p, 0.032) << "p " << p;
  }
}

TEST(SmdSelector, DecisionsFollowTheGlobalGenerator) {
  torch::manual_seed(5);
  const auto a = decisions(0.5, 64);
  torch::manual_seed(5);
  const auto b = decisions(0.5, 64);
  torch::manual_seed(6);
  const auto c = decisions(0.5, 64);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

}  // namespace
