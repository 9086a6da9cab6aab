// InfoBatch's rule: instances without a score and those at or above the mean score always
// train, the rest are dropped at the asked rate with inverse-probability weights that keep the
// step's loss unbiased; scores follow the trained losses and resume from the selector's state.
#include "skiptrain/train/methods/infobatch_selector.h"

#include "train/methods/selector_fixtures.h"
#include "skiptrain/errors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace {

using skiptrain::test::batch_of;
using skiptrain::test::indices;
using skiptrain::train::InfoBatchSelector;
using skiptrain::train::Plan;

// Scores `losses[i]` for dataset positions 0..n-1, as if all of them had trained in one batch.
void score_all(InfoBatchSelector& selector, const torch::Tensor& losses) {
  const auto batch = batch_of(losses.numel());
  Plan all{torch::arange(losses.numel(), torch::kLong), torch::empty({0}, torch::kLong)};
  skiptrain::cost::Ledger ledger;
  selector.observe(batch, all, losses, torch::empty({0}), ledger);
}

// Positions 0..31 scored 0.1 (well learned), 32..63 scored 1.0 (mean 0.55).
InfoBatchSelector half_learned(double p) {
  InfoBatchSelector selector(p);
  score_all(selector, torch::cat({torch::full({32}, 0.1f), torch::full({32}, 1.0f)}));
  return selector;
}

TEST(InfoBatchSelector, InstancesWithoutAScoreAllTrain) {
  InfoBatchSelector selector(0.5);
  skiptrain::cost::Ledger ledger;
  const auto plan = selector.plan(batch_of(64), ledger);
  EXPECT_EQ(plan.train.numel(), 64);
  EXPECT_EQ(plan.loss_only.numel(), 0);
  EXPECT_TRUE(plan.loss_over_incoming);
  EXPECT_TRUE(torch::equal(plan.train_weight, torch::ones({64})));
  EXPECT_DOUBLE_EQ(ledger.spent_by_phase().at(skiptrain::cost::Phase::Selection), 64);
  EXPECT_TRUE(std::isnan(selector.threshold()));
}

TEST(InfoBatchSelector, DropsOnlyTheBelowMeanAtTheAskedRate) {
  for (double p : {0.3, 0.5, 0.8}) {
    auto selector = half_learned(p);
    EXPECT_NEAR(selector.threshold(), 0.55, 1e-6);
    torch::manual_seed(1);
    skiptrain::cost::Ledger ledger;
    int64_t low_kept = 0;
    const int draws = 400;
    for (int d = 0; d < draws; ++d) {
      const auto kept = indices(selector.plan(batch_of(64), ledger).train);
      for (int64_t i = 32; i < 64; ++i) EXPECT_NE(std::find(kept.begin(), kept.end(), i), kept.end());
      low_kept += std::count_if(kept.begin(), kept.end(), [](int64_t i) { return i < 32; });
    }
    // Binomial standard deviation <= sqrt(0.25 / 12800) = 0.0044: 4 of them.
    EXPECT_NEAR(low_kept / (32.0 * draws), 1.0 - p, 0.018) << "p " << p;
  }
}

TEST(InfoBatchSelector, WeightsMakeTheStepLossAnUnbiasedBatchMean) {
  const double p = 0.5;
  auto selector = half_learned(p);
  const auto losses = torch::cat({torch::full({32}, 0.1), torch::full({32}, 1.0)});
  torch::manual_seed(2);
  skiptrain::cost::Ledger ledger;
  double step_loss_sum = 0;
  const int draws = 2000;
  for (int d = 0; d < draws; ++d) {
    const auto plan = selector.plan(batch_of(64), ledger);
    ASSERT_TRUE(plan.loss_over_incoming);
    const auto kept = indices(plan.train);
    ASSERT_EQ(plan.train_weight.numel(), static_cast<int64_t>(kept.size()));
    for (size_t j = 0; j < kept.size(); ++j)  // inverse inclusion probabilities
      EXPECT_NEAR(plan.train_weight[j].item<double>(), kept[j] < 32 ? 1.0 / (1.0 - p) : 1.0, 1e-6);
    // The trainer's step loss: the weighted sum over the kept, over the incoming m.
    step_loss_sum +=
        (losses.index_select(0, plan.train) * plan.train_weight.to(torch::kDouble)).sum().item<double>() / 64;
  }
  // Each draw's loss is (32 * 1.0 + 0.2 * kept_low) / 64, kept_low ~ Binomial(32, 0.5): sd 0.0088
  // per draw, 0.0002 over 2000; the unweighted kept mean would be about 0.70.
  EXPECT_NEAR(step_loss_sum / draws, losses.mean().item<double>(), 0.001);
}

TEST(InfoBatchSelector, AKeptWellLearnedInstanceWeighsItsInverseProbabilityEvenWhenNoneIsDropped) {
  InfoBatchSelector selector(0.5);
  score_all(selector, torch::tensor({0.1f, 1.f, 1.f, 1.f}));  // mean 0.775: position 0 is well learned
  skiptrain::cost::Ledger ledger;
  for (int seed = 0; seed < 20; ++seed) {
    torch::manual_seed(seed);
    const auto plan = selector.plan(batch_of(4), ledger);
    if (plan.train.numel() < 4) continue;  // dropped this time
    EXPECT_TRUE(torch::allclose(plan.train_weight, torch::tensor({2.f, 1.f, 1.f, 1.f})));
    return;
  }
  FAIL() << "position 0 was dropped in 20 draws at p 0.5";
}

TEST(InfoBatchSelector, AScoreAtTheMeanIsNotWellLearned) {
  InfoBatchSelector selector(0.99);
  score_all(selector, torch::tensor({0.5f, 0.5f, 0.5f, 0.5f}));
  skiptrain::cost::Ledger ledger;
  torch::manual_seed(0);
  EXPECT_EQ(selector.plan(batch_of(4), ledger).train.numel(), 4);
}

TEST(InfoBatchSelector, TrainedLossesReplaceScoresWithoutCountingTwice) {
  InfoBatchSelector selector(0.5);
  score_all(selector, torch::tensor({1.f, 2.f, 3.f, 6.f}));
  EXPECT_NEAR(selector.threshold(), 3.0, 1e-6);
  // Positions 1 and 3 train again: 2 -> 0 and 6 -> 2.
  auto batch = batch_of(2);
  batch.indices = torch::tensor({1, 3}, torch::kLong);
  Plan both{torch::arange(2, torch::kLong), torch::empty({0}, torch::kLong)};
  skiptrain::cost::Ledger ledger;
  selector.observe(batch, both, torch::tensor({0.f, 2.f}), torch::empty({0}), ledger);
  EXPECT_NEAR(selector.threshold(), (1 + 0 + 3 + 2) / 4.0, 1e-6);
  EXPECT_TRUE(torch::allclose(selector.state().at("scores"), torch::tensor({1.f, 0.f, 3.f, 2.f})));
}

TEST(InfoBatchSelector, PositionsBeyondTheScoredAreUnscored) {
  auto selector = half_learned(0.99);
  auto batch = batch_of(8);
  batch.indices = torch::arange(1000, 1008, torch::kLong);
  skiptrain::cost::Ledger ledger;
  torch::manual_seed(3);
  EXPECT_EQ(selector.plan(batch, ledger).train.numel(), 8);
}

TEST(InfoBatchSelector, ResumesExactlyFromItsStateAndTheGenerator) {
  auto straight = half_learned(0.5);
  skiptrain::cost::Ledger ledger;
  torch::manual_seed(10);  // stands for the generator state a checkpoint restores
  std::vector<std::vector<int64_t>> expected;
  for (int b = 0; b < 4; ++b) expected.push_back(indices(straight.plan(batch_of(64), ledger).train));

  InfoBatchSelector resumed(0.5);
  resumed.load_state(half_learned(0.5).state(), "test");
  EXPECT_NEAR(resumed.threshold(), 0.55, 1e-6);
  torch::manual_seed(10);
  for (int b = 0; b < 4; ++b) EXPECT_EQ(indices(resumed.plan(batch_of(64), ledger).train), expected[b]);
  InfoBatchSelector fresh(0.5);  // without the scores everything trains
  EXPECT_EQ(fresh.plan(batch_of(64), ledger).train.numel(), 64);
}

TEST(InfoBatchSelector, CorruptStateIsRefused) {
  InfoBatchSelector selector(0.5);
  EXPECT_THROW(selector.load_state({}, "run.pt"), skiptrain::InputError);
  const auto sum = torch::tensor(0.0, torch::kFloat64);
  EXPECT_THROW(selector.load_state({{"scores", torch::zeros({4})}}, "run.pt"), skiptrain::InputError);  // no sum
  EXPECT_THROW(selector.load_state({{"scores", torch::zeros({2, 2})}, {"score_sum", sum}}, "run.pt"),
               skiptrain::InputError);
  EXPECT_THROW(selector.load_state({{"scores", torch::zeros({4}, torch::kLong)}, {"score_sum", sum}}, "run.pt"),
               skiptrain::InputError);
  EXPECT_THROW(selector.load_state({{"scores", torch::zeros({4})}, {"score_sum", torch::zeros({1})}}, "run.pt"),
               skiptrain::InputError);
}

}  // namespace
