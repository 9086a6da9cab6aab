// SMB's schedule: the first batch trains, then one every 1/F, exactly ceil(n * F) of n;
// skipped batches plan nothing; the batch count resumes from the selector's state.
#include "skiptrain/train/methods/smb_selector.h"

#include "train/methods/selector_fixtures.h"
#include "skiptrain/errors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

namespace {

using skiptrain::test::batch_of;
using skiptrain::train::SmbSelector;

// Which of the first `n` incoming batches `selector` trains.
std::vector<int64_t> trained_batches(SmbSelector& selector, int64_t n) {
  skiptrain::cost::Ledger ledger;
  std::vector<int64_t> trained;
  for (int64_t i = 0; i < n; ++i) {
    const auto plan = selector.plan(batch_of(8), ledger);
    EXPECT_EQ(plan.loss_only.numel(), 0);
    EXPECT_FALSE(plan.select_by_loss);
    if (plan.train.numel() > 0) {
      EXPECT_EQ(plan.train.numel(), 8);  // a batch trains whole or not at all
      trained.push_back(i);
    }
  }
  EXPECT_EQ(ledger.spent_macs(), 0.0);  // deciding costs nothing
  return trained;
}

TEST(SmbSelector, QuarterTrainsTheFirstBatchThenEveryFourth) {
  SmbSelector smb(0.25);
  EXPECT_EQ(trained_batches(smb, 12), (std::vector<int64_t>{0, 4, 8}));
}

TEST(SmbSelector, TrainsExactlyCeilOfNTimesFractionForEveryPrefix) {
  // Fractions as exact rationals num/den, so the expected count is integer arithmetic.
  const std::vector<std::pair<int64_t, int64_t>> fractions{{1, 10}, {1, 4}, {3, 10}, {1, 3}, {1, 2}, {7, 10}, {1, 1}};
  for (auto [num, den] : fractions) {
    SmbSelector smb(static_cast<double>(num) / den);
    const auto trained = trained_batches(smb, 200);
    for (int64_t n = 1; n <= 200; ++n) {
      const auto upto = std::count_if(trained.begin(), trained.end(), [&](int64_t i) { return i < n; });
      ASSERT_EQ(upto, (n * num + den - 1) / den) << "F " << num << "/" << den << " n " << n;
    }
  }
}

TEST(SmbSelector, ResumesTheScheduleFromItsState) {
  SmbSelector straight(0.3), first(0.3);
  const auto all = trained_batches(straight, 40);
  trained_batches(first, 17);
  SmbSelector resumed(0.3);
  resumed.load_state(first.state(), "test");
  std::vector<int64_t> rest;
  for (int64_t i : trained_batches(resumed, 23)) rest.push_back(i + 17);
  const std::vector<int64_t> expected(std::find_if(all.begin(), all.end(), [](int64_t i) { return i >= 17; }),
                                      all.end());
  EXPECT_EQ(rest, expected);
}

TEST(SmbSelector, CorruptStateIsRefusedNamingTheFile) {
  SmbSelector smb(0.5);
  EXPECT_THROW(smb.load_state({}, "run.pt"), skiptrain::InputError);
  EXPECT_THROW(smb.load_state({{"batches", torch::zeros({3}, torch::kLong)}}, "run.pt"), skiptrain::InputError);
}

}  // namespace
