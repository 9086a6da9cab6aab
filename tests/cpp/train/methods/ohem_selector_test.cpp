// OHEM: the plan asks for every instance's loss first, then the ceil(ratio * m) highest
// losses train (at least one), in index order; the top-k is charged as m*ceil(log2 m).
#include "skiptrain/train/methods/ohem_selector.h"

#include "train/methods/selector_fixtures.h"

#include <gtest/gtest.h>

namespace {

using skiptrain::test::batch_of;
using skiptrain::test::indices;
using skiptrain::train::OhemSelector;

std::vector<int64_t> pick(double ratio, const std::vector<float>& losses, skiptrain::cost::Ledger& ledger) {
  OhemSelector ohem(ratio);
  const auto batch = batch_of(static_cast<int64_t>(losses.size()));
  const auto plan = ohem.plan(batch, ledger);
  EXPECT_TRUE(plan.select_by_loss);
  EXPECT_EQ(plan.train.numel(), 0);
  EXPECT_EQ(indices(plan.loss_only), indices(torch::arange(batch.size())));
  return indices(ohem.select(batch, plan, torch::tensor(losses), ledger));
}

TEST(OhemSelector, TrainsTheHighestLossesInIndexOrder) {
  const std::vector<float> losses{0.1f, 5.0f, 0.3f, 2.0f, 0.2f, 4.0f, 0.5f, 0.05f};
  skiptrain::cost::Ledger ledger;
  EXPECT_EQ(pick(0.25, losses, ledger), (std::vector<int64_t>{1, 5}));    // k = 2
  EXPECT_EQ(pick(0.3, losses, ledger), (std::vector<int64_t>{1, 3, 5}));  // k = ceil(2.4) = 3
  EXPECT_EQ(pick(0.01, losses, ledger), (std::vector<int64_t>{1}));       // at least one
  EXPECT_EQ(pick(1.0, losses, ledger).size(), 8u);
}

TEST(OhemSelector, DecimalRatiosKeepTheirExactShare) {
  // 0.55 * 100 is 55.00000000000001 in double: a plain ceil kept 56.
  skiptrain::cost::Ledger ledger;
  std::vector<float> losses(100);
  for (size_t i = 0; i < losses.size(); ++i) losses[i] = static_cast<float>(i);
  EXPECT_EQ(pick(0.55, losses, ledger).size(), 55u);
  EXPECT_EQ(pick(0.07, losses, ledger).size(), 7u);  // 7.000000000000001
}

TEST(OhemSelector, ChargesTheTopKAsComparisons) {
  skiptrain::cost::Ledger ledger;
  pick(0.5, std::vector<float>(8, 1.0f), ledger);
  EXPECT_DOUBLE_EQ(ledger.spent_by_phase().at(skiptrain::cost::Phase::Selection), 8 * 3);
  EXPECT_DOUBLE_EQ(ledger.spent_macs(), 8 * 3);  // the forwards are the trainer's to charge
}

TEST(OhemSelector, EmptyBatchSelectsNothing) {
  skiptrain::cost::Ledger ledger;
  EXPECT_TRUE(pick(0.5, {}, ledger).empty());
}

}  // namespace
