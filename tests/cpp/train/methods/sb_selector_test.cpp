// Selective-Backprop against a slow reference of its rule (percentile in the window of the
// last W losses, to the power beta, one uniform draw per instance), the share it selects,
// the window it keeps, its ledger charge and its resume from state.
#include "skiptrain/train/methods/sb_selector.h"

#include "train/methods/selector_fixtures.h"
#include "skiptrain/errors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>

namespace {

using skiptrain::test::batch_of;
using skiptrain::test::indices;
using skiptrain::train::SbSelector;

std::vector<int64_t> select(SbSelector& sb, const torch::Tensor& losses, skiptrain::cost::Ledger& ledger) {
  const auto batch = batch_of(losses.numel());
  const auto plan = sb.plan(batch, ledger);
  EXPECT_TRUE(plan.select_by_loss);
  return indices(sb.select(batch, plan, losses, ledger));
}

// The rule written out loop by loop, drawing the same uniforms as the selector.
struct ReferenceSb {
  double beta;
  size_t window;
  std::deque<float> recent;
  std::vector<int64_t> select(const torch::Tensor& losses) {
    const auto l = losses.contiguous();
    for (int64_t i = 0; i < l.numel(); ++i) {
      recent.push_back(l[i].item<float>());
      if (recent.size() > window) recent.pop_front();
    }
    const auto u = torch::rand({l.numel()}, torch::kFloat64);
    std::vector<int64_t> chosen;
    for (int64_t i = 0; i < l.numel(); ++i) {
      const float loss = l[i].item<float>();
      const auto at_or_below = std::count_if(recent.begin(), recent.end(), [&](float r) { return r <= loss; });
      const double probability = std::pow(static_cast<double>(at_or_below) / recent.size(), beta);
      if (u[i].item<double>() < probability) chosen.push_back(i);
    }
    return chosen;
  }
};

TEST(SbSelector, MatchesTheReferenceRuleBatchAfterBatch) {
  SbSelector sb(2.0, 50);
  ReferenceSb reference{2.0, 50, {}};
  skiptrain::cost::Ledger ledger;
  for (int b = 0; b < 10; ++b) {
    torch::manual_seed(100 + b);
    const auto losses = torch::rand({16}) * (3.0 - 0.2 * b);  // a falling loss
    torch::manual_seed(200 + b);
    const auto ours = select(sb, losses, ledger);
    torch::manual_seed(200 + b);
    EXPECT_EQ(ours, reference.select(losses)) << "batch " << b;
  }
}

TEST(SbSelector, SelectsAboutOneOverBetaPlusOne) {
  for (double beta : {1.0, 3.0}) {
    torch::manual_seed(3);
    SbSelector sb(beta, 1024);
    skiptrain::cost::Ledger ledger;
    int64_t selected = 0;
    for (int b = 0; b < 300; ++b) selected += select(sb, torch::rand({64}), ledger).size();
    EXPECT_NEAR(selected / (300.0 * 64), 1.0 / (beta + 1), 0.02) << "beta " << beta;
  }
}

TEST(SbSelector, TheHighestLossInTheWindowAlwaysTrains) {
  torch::manual_seed(4);
  SbSelector sb(3.0, 100);
  skiptrain::cost::Ledger ledger;
  select(sb, torch::rand({64}), ledger);
  for (int b = 0; b < 20; ++b) {
    auto losses = torch::rand({8});
    losses[5] = 10.0f;  // above everything in the window: percentile 1
    const auto chosen = select(sb, losses, ledger);
    EXPECT_NE(std::find(chosen.begin(), chosen.end(), 5), chosen.end());
  }
}

TEST(SbSelector, KeepsTheLastWLossesAndChargesMTimesWindow) {
  SbSelector sb(1.0, 6);
  skiptrain::cost::Ledger ledger;
  select(sb, torch::tensor({1.f, 2.f, 3.f, 4.f}), ledger);  // window 4: 4*4 comparisons
  select(sb, torch::tensor({5.f, 6.f, 7.f, 8.f}), ledger);  // window 6: 4*6
  EXPECT_TRUE(torch::equal(sb.state().at("window"), torch::tensor({3.f, 4.f, 5.f, 6.f, 7.f, 8.f})));
  EXPECT_DOUBLE_EQ(ledger.spent_by_phase().at(skiptrain::cost::Phase::Selection), 16 + 24);
}

TEST(SbSelector, ResumesExactlyFromItsStateAndTheGenerator) {
  auto losses_of = [](int b) { return torch::linspace(0, 1, 32) * (1 + b % 3); };
  SbSelector straight(2.0, 64), first(2.0, 64);
  skiptrain::cost::Ledger ledger;
  torch::manual_seed(9);
  for (int b = 0; b < 4; ++b) select(straight, losses_of(b), ledger);
  torch::manual_seed(10);  // stands for the generator state a checkpoint restores
  std::vector<std::vector<int64_t>> expected;
  for (int b = 4; b < 8; ++b) expected.push_back(select(straight, losses_of(b), ledger));

  torch::manual_seed(9);
  for (int b = 0; b < 4; ++b) select(first, losses_of(b), ledger);
  SbSelector resumed(2.0, 64);
  resumed.load_state(first.state(), "test");
  torch::manual_seed(10);
  for (int b = 4; b < 8; ++b) EXPECT_EQ(select(resumed, losses_of(b), ledger), expected[b - 4]);
  SbSelector fresh(2.0, 64);  // without the window the same draws pick differently
  torch::manual_seed(10);
  std::vector<std::vector<int64_t>> without;
  for (int b = 4; b < 8; ++b) without.push_back(select(fresh, losses_of(b), ledger));
  EXPECT_NE(without, expected);
}

TEST(SbSelector, CorruptStateIsRefused) {
  SbSelector sb(1.0, 4);
  EXPECT_THROW(sb.load_state({}, "run.pt"), skiptrain::InputError);
  EXPECT_THROW(sb.load_state({{"window", torch::zeros({5})}}, "run.pt"), skiptrain::InputError);  // > W
  EXPECT_THROW(sb.load_state({{"window", torch::zeros({2, 2})}}, "run.pt"), skiptrain::InputError);
}

}  // namespace
