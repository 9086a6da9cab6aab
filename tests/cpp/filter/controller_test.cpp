// FilterController: decisions and uncertainty sampling on crafted logits, labels
// and class weights by hand, kept-fraction convergence to R_set on synthetic loss
// streams with a perfect filter, bounded T_l on adversarial streams, warm-up,
// empty batches and the state round trip.
#include "skiptrain/filter/controller.h"
#include "skiptrain/skiptrain.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

namespace {

using skiptrain::filter::Decision;
using skiptrain::filter::Feedback;
using skiptrain::filter::FilterController;
using skiptrain::filter::FilterOptions;
using skiptrain::filter::Labelling;

// The paper's rule alone: no warm-up and no query floor (min_query has its own tests below).
FilterOptions no_warmup(double ratio = 0.25) {
  FilterOptions o;
  o.ratio = ratio;
  o.warmup_batches = 0;
  o.min_query = 0.0;
  o.control = "paper";
  return o;
}

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  auto c = t.to(torch::kInt64).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

// Logits [m, 2] whose softmax gives p_High = sigmoid(z_i); the first column is an offset on purpose.
torch::Tensor logits_for(const std::vector<double>& z, double offset = 0.7) {
  auto t = torch::empty({static_cast<int64_t>(z.size()), 2}, torch::kFloat32);
  auto a = t.accessor<float, 2>();
  for (size_t i = 0; i < z.size(); ++i) {
    a[i][0] = static_cast<float>(offset);
    a[i][1] = static_cast<float>(offset + z[i]);
  }
  return t;
}

// Reference binary entropy of p = sigmoid(z), in nats.
double entropy_of(double z) {
  const double p = 1.0 / (1.0 + std::exp(-z));
  return -(p * std::log(p) + (1 - p) * std::log(1 - p));
}

TEST(FilterController, UncertaintySamplingPicksExactlyHighEntropyLows) {
  // z: p_High = sigmoid(z). Entropies: -3 -> 0.19, -0.5 -> 0.66, -0.2 -> 0.69, 0.3 -> High,
  // -1.5 -> 0.47, -0.7 -> 0.63, 2 -> High, -0.95 -> 0.59, 0 -> p = 0.5 = High.
  const std::vector<double> z = {-3, -0.5, -0.2, 0.3, -1.5, -0.7, 2, -0.95, 0};
  FilterController c(no_warmup());
  Decision d = c.decide(logits_for(z));
  EXPECT_EQ(d.incoming, 9);
  EXPECT_EQ(to_vector(d.keep), (std::vector<int64_t>{3, 6, 8}));
  EXPECT_EQ(to_vector(d.query), (std::vector<int64_t>{1, 2, 5}));
  // Against the slow reference for every instance.
  std::vector<int64_t> expected_query;
  for (size_t i = 0; i < z.size(); ++i) {
    EXPECT_NEAR(d.prob_high[i].item<double>(), 1.0 / (1.0 + std::exp(-z[i])), 1e-6);
    if (z[i] < 0 && entropy_of(z[i]) > 0.6) expected_query.push_back(static_cast<int64_t>(i));
  }
  EXPECT_EQ(to_vector(d.query), expected_query);
  EXPECT_EQ(d.keep.scalar_type(), torch::kInt64);
  EXPECT_EQ(d.prob_high.scalar_type(), torch::kFloat32);
}

TEST(FilterController, EntropyThresholdZeroQueriesEveryUnsureLow) {
  FilterOptions o = no_warmup();
  o.entropy_threshold = 0.0;
  FilterController c(o);
  // -800 underflows p_High to exactly 0 even in float64: entropy 0, not queried.
  Decision d = c.decide(logits_for({-1, -5, 1, -800}));
  EXPECT_EQ(to_vector(d.query), (std::vector<int64_t>{0, 1}));
}

TEST(FilterController, LabelsAndClassWeightsByHand) {
  FilterController c(no_warmup(0.25));
  // keep = {0, 3} (p_High > 0.5), query = {1, 4} (unsure Low), 2 is a confident Low.
  Decision d = c.decide(logits_for({5, -0.3, -5, 2, -0.2}));
  ASSERT_EQ(to_vector(d.keep), (std::vector<int64_t>{0, 3}));
  ASSERT_EQ(to_vector(d.query), (std::vector<int64_t>{1, 4}));
  // T_l = 1: kept losses 2.0 (High), 0.5 (Low); queried losses 1.5 (High), 0.1 (Low).
  Feedback f = c.observe(d, torch::tensor({2.0f, 0.5f}), torch::tensor({1.5f, 0.1f}));
  EXPECT_DOUBLE_EQ(f.threshold, 1.0);
  EXPECT_EQ(to_vector(f.labelled), (std::vector<int64_t>{0, 3, 1, 4}));
  EXPECT_EQ(to_vector(f.labels), (std::vector<int64_t>{1, 0, 1, 0}));
  // w_H = 1/0.25 = 4, w_L = 1/0.75 = 4/3; sum 2*4 + 2*4/3 = 32/3 -> 0.375 and 0.125.
  ASSERT_EQ(f.weights.numel(), 4);
  EXPECT_NEAR(f.weights[0].item<double>(), 0.375, 1e-7);
  EXPECT_NEAR(f.weights[1].item<double>(), 0.125, 1e-7);
  EXPECT_NEAR(f.weights[2].item<double>(), 0.375, 1e-7);
  EXPECT_NEAR(f.weights[3].item<double>(), 0.125, 1e-7);
  EXPECT_NEAR(f.weights.sum().item<double>(), 1.0, 1e-6);
  // Hits: only instance 0 (kept and High): R_TH = 1/5 < 0.25 -> T_l * a2.
  EXPECT_DOUBLE_EQ(c.r_th(), 0.2);
  EXPECT_DOUBLE_EQ(c.threshold(), 0.95);
  // Wrong predictions: 3 (predicted High, labelled Low) and 1 (predicted Low, labelled High).
  auto m = c.metrics();
  EXPECT_EQ(m.wrong, 2);
  EXPECT_EQ(m.labelled, 4);
  EXPECT_EQ(m.labelled_high, 2);
  EXPECT_DOUBLE_EQ(m.wrong_rate_total, 0.5);
  EXPECT_DOUBLE_EQ(m.kept_fraction_total, 0.4);
  EXPECT_DOUBLE_EQ(m.queried_fraction_total, 0.4);
}

TEST(FilterController, WeightsWithOneClassOnlyAndBalancedRatio) {
  FilterController c(no_warmup(0.5));
  Decision d = c.decide(logits_for({1, 1, 1}));
  Feedback f = c.observe(d, torch::tensor({3.0, 0.0, 5.0}), torch::empty({0}));
  // R_set 0.5: both classes weigh the same -> 1/3 each.
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(f.weights[i].item<double>(), 1.0 / 3.0, 1e-7);
  Decision d2 = c.decide(logits_for({1, 1}));
  Feedback f2 = c.observe(d2, torch::tensor({0.0, 0.0}), torch::empty({0}));
  EXPECT_EQ(to_vector(f2.labels), (std::vector<int64_t>{0, 0}));
  EXPECT_NEAR(f2.weights.sum().item<double>(), 1.0, 1e-6);
}

TEST(FilterController, BatchWithNothingKeptOrQueried) {
  FilterController c(no_warmup());
  Decision d = c.decide(logits_for({-9, -9, -9}));
  EXPECT_EQ(d.keep.numel(), 0);
  EXPECT_EQ(d.query.numel(), 0);
  Feedback f = c.observe(d, torch::empty({0}), torch::empty({0}));
  EXPECT_EQ(f.labelled.numel(), 0);
  EXPECT_EQ(f.labels.numel(), 0);
  EXPECT_EQ(f.weights.numel(), 0);
  // Nothing kept: R_TH = 0 < R_set, T_l falls.
  EXPECT_DOUBLE_EQ(c.threshold(), 0.95);
  EXPECT_EQ(c.metrics().incoming, 3);
  EXPECT_EQ(c.metrics().kept, 0);
}

TEST(FilterController, BatchWithOneKept) {
  FilterController c(no_warmup());
  Decision d = c.decide(logits_for({-9, 4, -9}));
  ASSERT_EQ(to_vector(d.keep), (std::vector<int64_t>{1}));
  Feedback f = c.observe(d, torch::tensor({7.0}), torch::empty({0}));
  EXPECT_EQ(to_vector(f.labels), (std::vector<int64_t>{1}));
  EXPECT_NEAR(f.weights[0].item<double>(), 1.0, 1e-7);
  // 1 hit of 3: R_TH 1/3 >= 0.25 -> T_l * a1.
  EXPECT_DOUBLE_EQ(c.threshold(), 1.05);
}

TEST(FilterController, EmptyIncomingBatch) {
  FilterController c(no_warmup());
  Decision d = c.decide(torch::empty({0, 2}));
  EXPECT_EQ(d.incoming, 0);
  Feedback f = c.observe(d, torch::empty({0}), torch::empty({0}));
  EXPECT_EQ(f.labelled.numel(), 0);
  EXPECT_DOUBLE_EQ(c.threshold(), 1.0);
}

TEST(FilterController, RejectsMismatchedLosses) {
  FilterController c(no_warmup());
  Decision d = c.decide(logits_for({4, 4, -0.2}));
  EXPECT_THROW(c.observe(d, torch::tensor({1.0}), torch::tensor({1.0})), c10::Error);
  EXPECT_THROW(c.decide(torch::zeros({3, 3})), c10::Error);
}

TEST(FilterController, WarmupKeepsEverythingThenTheFilterDecides) {
  FilterOptions o;
  o.warmup_batches = 2;
  o.control = "kept";  // the p_High >= 0.5 rule after warm-up; the budget rule has its own test
  FilterController c(o);
  auto logits = logits_for({-9, 4, -0.3});
  for (int b = 0; b < 2; ++b) {
    EXPECT_TRUE(c.warming_up());
    Decision d = c.decide(logits);
    EXPECT_EQ(to_vector(d.keep), (std::vector<int64_t>{0, 1, 2}));
    EXPECT_EQ(d.query.numel(), 0);
    c.observe(d, torch::tensor({5.0, 5.0, 0.0}), torch::empty({0}));
  }
  EXPECT_FALSE(c.warming_up());
  Decision d = c.decide(logits);
  EXPECT_EQ(to_vector(d.keep), (std::vector<int64_t>{1}));
  EXPECT_EQ(to_vector(d.query), (std::vector<int64_t>{2}));
  // During warm-up the wrong count uses the filter's own prediction: instance 0 is predicted Low
  // but labelled High, in both batches.
  EXPECT_EQ(c.metrics().wrong, 2);
}

// A synthetic stream whose losses are known: each batch draws m losses from `sample`, and a perfect
// filter predicts High exactly for loss >= T_l. Returns the kept fraction over the last `measure` batches.
template <typename Sample>
double run_perfect_filter(FilterController& c, int64_t batches, int64_t measure, int64_t m, Sample sample) {
  std::mt19937_64 rng(1234);
  int64_t kept = 0, incoming = 0;
  for (int64_t b = 0; b < batches; ++b) {
    std::vector<double> losses(m), z(m);
    for (int64_t i = 0; i < m; ++i) {
      losses[i] = sample(rng, b);
      z[i] = losses[i] >= c.threshold() ? 12.0 : -12.0;
    }
    Decision d = c.decide(logits_for(z));
    auto all = torch::tensor(losses, torch::kFloat64);
    c.observe(d, all.index_select(0, d.keep), all.index_select(0, d.query));
    EXPECT_EQ(d.query.numel(), 0);
    if (b >= batches - measure) {
      kept += d.keep.numel();
      incoming += m;
    }
  }
  return static_cast<double>(kept) / incoming;
}

class KeptFractionTracksRatio : public ::testing::TestWithParam<double> {};

TEST_P(KeptFractionTracksRatio, StationaryExponentialLosses) {
  const double ratio = GetParam();
  FilterController c(no_warmup(ratio));
  const double kept = run_perfect_filter(c, 3000, 1000, 64, [](std::mt19937_64& rng, int64_t) {
    return std::exponential_distribution<double>(1.0)(rng);
  });
  EXPECT_NEAR(kept, ratio, 0.05);
  // The (1 - R_set) quantile of Exp(1) is -ln(R_set): T_l should hover around it.
  EXPECT_NEAR(std::log(c.threshold()), std::log(-std::log(ratio)), 0.3);
  EXPECT_NEAR(c.metrics().kept_fraction_window, ratio, 0.1);
}

TEST_P(KeptFractionTracksRatio, LossesThatFallAsTheModelLearns) {
  // The main model's loss scale falls 100x over the run (2.3 -> 0.023), as in real training.
  const double ratio = GetParam();
  FilterOptions o = no_warmup(ratio);
  FilterController c(o);
  const int64_t batches = 4000;
  const double kept = run_perfect_filter(c, batches, 2000, 64, [batches](std::mt19937_64& rng, int64_t b) {
    const double scale = 2.3 * std::exp(-std::log(100.0) * static_cast<double>(b) / batches);
    return scale * std::gamma_distribution<double>(2.0, 0.5)(rng);
  });
  EXPECT_NEAR(kept, ratio, 0.05);
}

INSTANTIATE_TEST_SUITE_P(Ratios, KeptFractionTracksRatio, ::testing::Values(0.25, 0.5));

TEST(FilterController, ThresholdBoundedUnderAdversarialLossStreams) {
  FilterController c(no_warmup());
  const auto& o = c.options();
  auto check = [&] {
    ASSERT_TRUE(std::isfinite(c.threshold()));
    ASSERT_GE(c.threshold(), o.threshold_min);
    ASSERT_LE(c.threshold(), o.threshold_max);
  };
  auto feed = [&](double loss, double z) {
    Decision d = c.decide(logits_for(std::vector<double>(32, z)));
    c.observe(d, torch::full({d.keep.numel()}, loss, torch::kFloat64),
              torch::full({d.query.numel()}, loss, torch::kFloat64));
  };
  for (int i = 0; i < 800; ++i) {  // all zero, filter says High
    feed(0.0, 3.0);
    check();
  }
  EXPECT_DOUBLE_EQ(c.threshold(), o.threshold_min);
  for (int i = 0; i < 800; ++i) {  // all huge, filter says High
    feed(1e30, 3.0);
    check();
  }
  EXPECT_DOUBLE_EQ(c.threshold(), o.threshold_max);
  for (int i = 0; i < 800; ++i) {  // alternating zero / huge batches
    feed(i % 2 ? 0.0 : 1e30, 3.0);
    check();
  }
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int i = 0; i < 200; ++i) {  // non-finite losses never make T_l non-finite
    feed(i % 2 ? inf : nan, 3.0);
    check();
  }
}

// One batch of 32 with filter margins z_i = i (so the budget rule keeps the top of the batch)
// and the losses `loss(i)`, in decision order.
void feed_budget(FilterController& c, const std::function<double(int64_t)>& loss) {
  std::vector<double> z(32);
  for (int64_t i = 0; i < 32; ++i) z[i] = static_cast<double>(i) / 8;
  const Decision d = c.decide(logits_for(z));
  auto losses_of = [&](const torch::Tensor& indices) {
    auto out = torch::empty({indices.numel()}, torch::kFloat64);
    for (int64_t j = 0; j < indices.numel(); ++j) out[j] = loss(indices[j].item<int64_t>());
    return out;
  };
  c.observe(d, losses_of(d.keep), losses_of(d.query));
}

TEST(FilterController, DefaultControlStaysBoundedUnderAdversarialStreams) {
  FilterController c{FilterOptions{}};  // budget control, warm-up, query floor: what the trainer runs
  const auto& o = c.options();
  const double inf = std::numeric_limits<double>::infinity();
  auto run = [&](int batches, const std::function<double(int64_t)>& loss) {
    for (int b = 0; b < batches; ++b) {
      feed_budget(c, loss);
      ASSERT_TRUE(std::isfinite(c.threshold()));
      ASSERT_GE(c.threshold(), o.threshold_min);
      ASSERT_LE(c.threshold(), o.threshold_max);
    }
  };
  // A 5% step per batch: 283 batches from 1 to the floor, 425 from the floor to the ceiling.
  run(600, [](int64_t) { return 0.0; });
  EXPECT_DOUBLE_EQ(c.threshold(), o.threshold_min);
  run(600, [inf](int64_t) { return inf; });
  EXPECT_DOUBLE_EQ(c.threshold(), o.threshold_max);
  run(600, [](int64_t) { return 1e300; });
  EXPECT_DOUBLE_EQ(c.threshold(), o.threshold_max);
  for (int b = 0; b < 200; ++b) {  // alternating all-zero and huge batches
    run(1, [](int64_t) { return 0.0; });
    run(1, [](int64_t) { return 1e30; });
  }
}

TEST(FilterController, NaNLossesDoNotMoveTheThreshold) {
  for (const char* control : {"budget", "paper"}) {
    SCOPED_TRACE(control);
    FilterOptions o;
    o.control = control;
    o.warmup_batches = 2;
    FilterController c(o);
    for (int b = 0; b < 30; ++b) feed_budget(c, [](int64_t i) { return 0.1 * static_cast<double>(i); });
    const double before = c.threshold();
    const double r_th = c.r_th();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    // All NaN, and one NaN among ordinary losses: neither labels the stream, neither moves T_l.
    for (int b = 0; b < 100; ++b) feed_budget(c, [nan](int64_t) { return nan; });
    for (int b = 0; b < 100; ++b) feed_budget(c, [nan](int64_t i) { return i == 31 ? nan : 0.0; });
    EXPECT_EQ(c.threshold(), before);
    EXPECT_EQ(c.r_th(), r_th);
    EXPECT_EQ(c.batches(), 230);  // the batches still count
    // Finite losses move it again.
    feed_budget(c, [](int64_t) { return 0.0; });
    EXPECT_NE(c.threshold(), before);
  }
}

TEST(FilterController, StateRoundTripGivesIdenticalContinuation) {
  auto stream = [](int64_t b) {
    auto g = torch::make_generator<torch::CPUGeneratorImpl>(100 + b);
    auto logits = torch::randn({48, 2}, g) * 2;
    auto losses = torch::rand({48}, g, torch::kFloat64) * 3;
    return std::make_pair(logits, losses);
  };
  FilterOptions o;
  o.warmup_batches = 3;
  o.window = 4;
  FilterController a(o);
  auto step = [&](FilterController& c, int64_t b) {
    auto [logits, losses] = stream(b);
    Decision d = c.decide(logits);
    Feedback f = c.observe(d, losses.index_select(0, d.keep), losses.index_select(0, d.query));
    return std::make_pair(d, f);
  };
  for (int64_t b = 0; b < 10; ++b) step(a, b);
  FilterController fresh(o);
  fresh.load_state(a.state(), "test");
  EXPECT_DOUBLE_EQ(fresh.threshold(), a.threshold());
  EXPECT_EQ(fresh.batches(), a.batches());
  for (int64_t b = 10; b < 30; ++b) {
    auto [da, fa] = step(a, b);
    auto [db, fb] = step(fresh, b);
    ASSERT_TRUE(torch::equal(da.keep, db.keep));
    ASSERT_TRUE(torch::equal(da.query, db.query));
    ASSERT_TRUE(torch::equal(fa.labels, fb.labels));
    ASSERT_TRUE(torch::equal(fa.weights, fb.weights));
    ASSERT_DOUBLE_EQ(a.threshold(), fresh.threshold());
  }
  auto ma = a.metrics(), mb = fresh.metrics();
  EXPECT_DOUBLE_EQ(ma.kept_fraction_window, mb.kept_fraction_window);
  EXPECT_DOUBLE_EQ(ma.wrong_rate_window, mb.wrong_rate_window);
  EXPECT_EQ(ma.wrong, mb.wrong);
  EXPECT_EQ(ma.kept, mb.kept);
}

// observe() is label() then record(); and two ranks that each label half of every batch and record
// the summed counts follow the same T_l, window and totals as one controller on the whole batch.
TEST(FilterController, LabelThenRecordOfSummedHalvesIsObserveOfTheWhole) {
  FilterOptions o;
  o.warmup_batches = 2;
  o.control = "kept";
  o.min_query = 0;  // queries by entropy alone: per instance, so the halves query what the whole does
  FilterController whole(o), rank0(o), rank1(o);
  for (int64_t b = 0; b < 40; ++b) {
    auto g = torch::make_generator<torch::CPUGeneratorImpl>(500 + b);
    auto logits = torch::randn({64, 2}, g) * 2;
    auto losses = torch::rand({64}, g, torch::kFloat64) * 3;
    const Decision d = whole.decide(logits);
    const Feedback f = whole.observe(d, losses.index_select(0, d.keep), losses.index_select(0, d.query));
    std::vector<int64_t> counts(8, 0);
    std::vector<Labelling> halves;
    for (int64_t h = 0; h < 2; ++h) {
      FilterController& rank = h == 0 ? rank0 : rank1;
      auto part_logits = logits.narrow(0, 32 * h, 32), part_losses = losses.narrow(0, 32 * h, 32);
      const Decision dh = rank.decide(part_logits);
      halves.push_back(rank.label(dh, part_losses.index_select(0, dh.keep), part_losses.index_select(0, dh.query)));
      for (size_t i = 0; i < counts.size(); ++i) counts[i] += halves.back().counts[i];
    }
    // Under "kept" (no budget, no floor) the halves label exactly what the whole labels.
    EXPECT_EQ(halves[0].feedback.labels.sum().item<int64_t>() + halves[1].feedback.labels.sum().item<int64_t>(),
              f.labels.sum().item<int64_t>());
    rank0.record(counts);
    rank1.record(counts);
    ASSERT_DOUBLE_EQ(rank0.threshold(), whole.threshold());
    ASSERT_DOUBLE_EQ(rank1.threshold(), whole.threshold());
  }
  const auto m = whole.metrics(), m0 = rank0.metrics();
  EXPECT_EQ(m0.kept, m.kept);
  EXPECT_EQ(m0.labelled, m.labelled);
  EXPECT_EQ(m0.wrong, m.wrong);
  EXPECT_DOUBLE_EQ(m0.kept_fraction_window, m.kept_fraction_window);
  EXPECT_DOUBLE_EQ(m0.r_th, m.r_th);
  EXPECT_THROW(rank0.record(std::vector<int64_t>(3, 0)), c10::Error);
}

}  // namespace

namespace {

FilterOptions budget_options(double ratio = 0.25) {
  FilterOptions o;
  o.ratio = ratio;
  o.warmup_batches = 0;
  o.control = "budget";
  o.min_query = 0.0625;  // ceil(0.0625 * 64) = 4
  return o;
}

}  // namespace

// The budget rule keeps the top ceil(R_set * m) by margin, also where p_High saturates (at +-40 the
// float64 probabilities tie at 1 and 0), and queries a sorted uniform sample of the dropped.
TEST(FilterControllerBudget, KeepsTheTopMarginsAndSamplesTheDropped) {
  FilterController c(budget_options());
  std::vector<double> z(64);
  for (int i = 0; i < 64; ++i) z[i] = 40.0 + 0.5 * ((i * 37) % 64);  // all confidently High, distinct
  Decision d = c.decide(logits_for(z));
  std::vector<int64_t> expected;
  for (int i = 0; i < 64; ++i)
    if ((i * 37) % 64 >= 48) expected.push_back(i);
  EXPECT_EQ(to_vector(d.keep), expected);
  auto query = to_vector(d.query);
  ASSERT_EQ(query.size(), 4u);
  EXPECT_TRUE(std::is_sorted(query.begin(), query.end()));
  EXPECT_TRUE(std::adjacent_find(query.begin(), query.end()) == query.end());
  for (int64_t q : query) EXPECT_LT((q * 37) % 64, 48) << q;
  // The same rule holds for a filter confidently Low on everything: its ranking still decides.
  for (auto& v : z) v = -80.0 + v - 40.0;
  EXPECT_EQ(to_vector(c.decide(logits_for(z)).keep), expected);
  // One instance, and a batch smaller than 1/R_set: ceil keeps at least one.
  EXPECT_EQ(c.decide(logits_for({-3.0})).keep.numel(), 1);
  EXPECT_EQ(to_vector(c.decide(logits_for({-3.0, 2.0, 1.0})).keep), (std::vector<int64_t>{1}));
}

// Equal margins tie: the budget keeps the lower indices, so a run's decisions do not depend on how
// a sort orders equal keys.
TEST(FilterControllerBudget, TiedMarginsKeepTheLowerIndices) {
  FilterController c(budget_options());
  std::vector<double> z(64, 1.5);
  z[50] = 2.0;  // one clear winner beyond the ties
  std::vector<int64_t> expected{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 50};
  EXPECT_EQ(to_vector(c.decide(logits_for(z)).keep), expected);
}

// Whatever the filter's outputs, the kept share is R_set; the samples differ from batch to batch.
TEST(FilterControllerBudget, KeptShareIsRatioWhateverTheFilterSays) {
  FilterController c(budget_options());
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(5);
  std::vector<std::vector<int64_t>> queries;
  for (int b = 0; b < 40; ++b) {
    // The filter's bias swings between all-High and all-Low, as the bang-bang loop did.
    auto logits = torch::randn({64, 2}, g);
    logits.select(1, 1).add_(b % 2 ? 20.0 : -20.0);
    Decision d = c.decide(logits);
    ASSERT_EQ(d.keep.numel(), 16);
    ASSERT_EQ(d.query.numel(), 4);
    auto losses = torch::rand({64}, g, torch::kFloat64);
    c.observe(d, losses.index_select(0, d.keep), losses.index_select(0, d.query));
    queries.push_back(to_vector(d.query));
  }
  EXPECT_DOUBLE_EQ(c.metrics().kept_fraction_total, 0.25);
  EXPECT_DOUBLE_EQ(c.metrics().queried_fraction_total, 0.0625);
  EXPECT_NE(queries[10], queries[11]);
}

// --eif-random-share: of the 16 kept of 64, ceil(0.5 * 16) = 8 are the top margins and 8 a uniform
// draw from the other 56, weighted by the inverse of their chance (56 / 8) against 1 for the ranked,
// scaled to mean 1; only the ranked count as the filter's High prediction. Share 0 is the plain rule.
TEST(FilterControllerBudget, RandomShareDrawsTheRestWithInverseProbabilityWeights) {
  auto options = budget_options();
  options.random_share = 0.5;
  FilterController c(options);
  std::vector<double> z(64);
  for (int i = 0; i < 64; ++i) z[i] = static_cast<double>(i);  // rank = index: the top 8 are 56..63
  const Decision d = c.decide(logits_for(z));
  const auto keep = to_vector(d.keep);
  ASSERT_EQ(keep.size(), 16u);
  EXPECT_TRUE(std::is_sorted(keep.begin(), keep.end()));
  EXPECT_EQ(to_vector(d.ranked), (std::vector<int64_t>{56, 57, 58, 59, 60, 61, 62, 63}));
  for (int i = 0; i < 8; ++i) EXPECT_LT(keep[i], 56);  // the drawn ones, from the rest
  ASSERT_EQ(d.keep_weight.numel(), 16);
  const auto w = d.keep_weight.contiguous();
  const float* weight = w.data_ptr<float>();
  for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(weight[i], i < 8 ? 56.0 / 8 * 16 / 64 : 16.0 / 64) << i;
  EXPECT_NEAR(w.mean().item<double>(), 1.0, 1e-6);
  // The queries come from neither part of the kept.
  for (int64_t q : to_vector(d.query)) EXPECT_FALSE(std::binary_search(keep.begin(), keep.end(), q)) << q;
  // Labels: the ranked are the prediction, so the drawn (all Low here) are not counted wrong.
  auto losses = torch::zeros({64}, torch::kFloat64);
  losses.slice(0, 56).fill_(10.0);
  c.observe(d, losses.index_select(0, d.keep), losses.index_select(0, d.query));
  EXPECT_EQ(c.metrics().wrong, 0);
  // Share 0: no weights, the top 16.
  FilterController plain(budget_options());
  const Decision p = plain.decide(logits_for(z));
  EXPECT_FALSE(p.keep_weight.defined());
  EXPECT_EQ(to_vector(p.keep).front(), 48);
}

// An empty batch under the budget rule, ranked by batch or by class, keeps and queries nothing.
TEST(FilterControllerBudget, EmptyBatchKeepsNothingInEitherRanking) {
  for (const char* within : {"batch", "class"}) {
    auto options = budget_options();
    options.rank_within = within;
    options.random_share = 0.5;
    const Decision d = FilterController(options).decide(torch::empty({0, 2}), torch::empty({0}, torch::kInt64));
    EXPECT_EQ(d.keep.numel(), 0) << within;
    EXPECT_EQ(d.query.numel(), 0) << within;
  }
}

// --eif-rank-within class: each class keeps its share of the budget, its own top margins, even where
// the batch's top margins are all of one class.
TEST(FilterControllerBudget, RankWithinClassKeepsEachClassShare) {
  auto options = budget_options(0.5);
  options.min_query = 0.0;
  options.rank_within = "class";
  FilterController c(options);
  // Class 1 (indices 4..9) holds the six highest margins; class 0 (0..3) the four lowest.
  const std::vector<double> z{0.1, 0.4, 0.3, 0.2, 5, 9, 6, 8, 7, 4};
  const auto classes = torch::tensor(std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1, 1, 1});
  const Decision d = c.decide(logits_for(z), classes);
  EXPECT_EQ(to_vector(d.keep), (std::vector<int64_t>{1, 2, 5, 7, 8}));  // 2 of class 0, 3 of class 1
  EXPECT_FALSE(d.keep_weight.defined());
  // By batch rank, the same margins keep class 1 alone.
  FilterController by_batch(budget_options(0.5));
  EXPECT_EQ(to_vector(by_batch.decide(logits_for(z), classes).keep), (std::vector<int64_t>{4, 5, 6, 7, 8}));
  // Without the classes, the class rule refuses to guess.
  try {
    c.decide(logits_for(z));
    FAIL() << "expected an error naming --eif-rank-within";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--eif-rank-within class"), std::string::npos);
  }
}

// The budget is shared by largest remainder, ties drawn per batch: classes of 3, 3, 3 and 1 at R_set
// 0.5 keep 5 of 10 as 1 or 2 each (the 1 or 0), and every class of 3 wins a tie in some batch. The
// random share, ceil(0.5 * 5) = 3 of the 5 as in a batch-wide draw, is shared among the classes alike.
TEST(FilterControllerBudget, RankWithinClassSharesTheBudgetByLargestRemainder) {
  auto options = budget_options(0.5);
  options.min_query = 0.0;
  options.rank_within = "class";
  options.random_share = 0.5;
  FilterController c(options);
  const auto classes = torch::tensor(std::vector<int64_t>{2, 0, 1, 2, 0, 1, 2, 0, 1, 3});
  std::vector<int> won_tie(4, 0);
  for (int b = 0; b < 40; ++b) {
    std::vector<double> z(10);
    for (int i = 0; i < 10; ++i) z[i] = static_cast<double>((i * 7 + b) % 10);
    const Decision d = c.decide(logits_for(z), classes);
    const auto keep = to_vector(d.keep);
    ASSERT_EQ(keep.size(), 5u);
    std::vector<int> per_class(4, 0);
    for (int64_t i : keep) ++per_class[classes[i].item<int64_t>()];
    for (int k = 0; k < 3; ++k) {
      ASSERT_GE(per_class[k], 1);
      ASSERT_LE(per_class[k], 2);
      won_tie[k] += per_class[k] == 2;
    }
    // The kept weights are inverse inclusion probabilities within each class, times kept / m = 0.5: a
    // class that draws weighs half its size in all, one that keeps by rank alone half its kept.
    ASSERT_TRUE(d.keep_weight.defined());
    const auto ranked = to_vector(d.ranked);
    ASSERT_EQ(ranked.size(), 2u);
    std::vector<bool> drew(4, false);
    for (int64_t i : keep)
      if (!std::binary_search(ranked.begin(), ranked.end(), i)) drew[classes[i].item<int64_t>()] = true;
    double expected = 0;
    for (int k = 0; k < 4; ++k) expected += 0.5 * (drew[k] ? (k == 3 ? 1 : 3) : per_class[k]);
    EXPECT_NEAR(d.keep_weight.sum().item<double>(), expected, 1e-5);
    auto losses = torch::rand({10}, torch::kFloat64);
    c.observe(d, losses.index_select(0, d.keep), losses.index_select(0, d.query));
  }
  for (int k = 0; k < 3; ++k) EXPECT_GT(won_tie[k], 5) << "class " << k;
}

// T_l settles on the stream's (1 - R_set) loss quantile from kept and sampled losses, with a filter
// that ranks perfectly (the kept are all above the quantile: their losses alone would push T_l up
// without bound) and with one that ranks at random.
TEST(FilterControllerBudget, ThresholdTracksTheStreamQuantile) {
  for (const bool perfect : {true, false}) {
    FilterController c(budget_options());
    std::mt19937_64 rng(99);
    std::exponential_distribution<double> exp1(1.0);
    std::normal_distribution<double> noise(0.0, 1.0);
    double log_sum = 0;
    int count = 0;
    for (int b = 0; b < 3000; ++b) {
      std::vector<double> losses(64), z(64);
      for (int i = 0; i < 64; ++i) {
        losses[i] = exp1(rng);
        z[i] = perfect ? losses[i] : noise(rng);
      }
      Decision d = c.decide(logits_for(z));
      auto all = torch::tensor(losses, torch::kFloat64);
      c.observe(d, all.index_select(0, d.keep), all.index_select(0, d.query));
      if (b >= 2000) {
        log_sum += std::log(c.threshold());
        ++count;
      }
    }
    // The 0.75 quantile of Exp(1) is ln 4 = 1.386.
    EXPECT_NEAR(log_sum / count, std::log(std::log(4.0)), 0.15) << "perfect filter: " << perfect;
  }
}

// A filter confidently Low on everything still gets labels: the min_query floor queries the
// predicted-Low instances with the highest p_High, and no others.
TEST(FilterControllerMinQuery, FloorQueriesTheHighestProbabilityLowInstances) {
  skiptrain::filter::FilterOptions o;
  o.warmup_batches = 0;
  o.control = "kept";
  o.min_query = 0.25;  // ceil(0.25 * 8) = 2
  skiptrain::filter::FilterController controller(o);
  // p_High well below the entropy threshold's range for all; instances 3 and 6 are the least confident.
  auto logits = torch::zeros({8, 2});
  logits.select(1, 0).fill_(6.0);
  logits[3][0] = 3.0;
  logits[6][0] = 2.0;
  const auto d = controller.decide(logits);
  EXPECT_EQ(d.keep.numel(), 0);
  ASSERT_EQ(d.query.numel(), 2);
  EXPECT_EQ(d.query[0].item<int64_t>(), 3);
  EXPECT_EQ(d.query[1].item<int64_t>(), 6);
}

TEST(FilterControllerMinQuery, ZeroFloorKeepsThePapersRule) {
  skiptrain::filter::FilterOptions o;
  o.warmup_batches = 0;
  o.control = "kept";
  o.min_query = 0.0;
  skiptrain::filter::FilterController controller(o);
  auto logits = torch::zeros({8, 2});
  logits.select(1, 0).fill_(6.0);
  EXPECT_EQ(controller.decide(logits).query.numel(), 0);
}
