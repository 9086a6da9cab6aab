// EarlyInstanceFilter with a tiny BatchNorm network defined here (the zoo is not
// needed): it learns a loss rule from self-supervised labels (with a High/Low pair per
// class, one that depends on the label), handles batches with 0 and 1 labelled
// instances, reports the ledger's counts, resumes exactly from its state, and is
// deterministic with one thread.
#include "skiptrain/filter/early_instance_filter.h"
#include "skiptrain/skiptrain.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <utility>

#include <memory>
#include <vector>

namespace {

using skiptrain::filter::Decision;
using skiptrain::filter::EarlyInstanceFilter;
using skiptrain::filter::Feedback;
using skiptrain::filter::FilterMetrics;
using skiptrain::filter::FilterOptions;

// conv 3x3 (1->4) + BatchNorm + ReLU + global mean + linear (4->outputs): images [N, 1, 6, 6] ->
// [N, outputs] (2, or a High/Low pair per class).
struct TinyFilterImpl : skiptrain::nn::NetworkImpl {
  TinyFilterImpl(bool with_bn, int64_t outputs) {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1)));
    if (with_bn) bn = register_module("bn", torch::nn::BatchNorm2d(4));
    fc = register_module("fc", torch::nn::Linear(4, outputs));
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = conv->forward(x);
    if (bn) x = bn->forward(x);
    return fc->forward(torch::relu(x).mean({2, 3}));
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};

skiptrain::nn::Network tiny_filter(uint64_t seed, bool with_bn = true, int64_t outputs = 2) {
  torch::manual_seed(seed);
  return std::make_shared<TinyFilterImpl>(with_bn, outputs);
}

// One synthetic batch: brightness b ~ U(-1, 1) per instance, images b + noise, and the main model's
// loss exp(2b): the filter can learn "bright = High" from its own labels.
struct Batch {
  torch::Tensor images;   // [m, 1, 6, 6]
  torch::Tensor losses;   // [m]
  torch::Tensor classes;  // int64 [m], or undefined: the filter is not given them
};
Batch synthetic_batch(int64_t index, int64_t m = 32) {
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(7000 + index);
  auto b = torch::rand({m}, g) * 2 - 1;
  auto images = b.view({m, 1, 1, 1}) + 0.1 * torch::randn({m, 1, 6, 6}, g);
  return {images, torch::exp(2 * b)};
}

// A batch whose loss depends on the label as much as on the image: class 0 costs exp(2b), class 1
// exp(-2b). An image-only filter sees High and Low equally likely at every b: it can rank by |b| at
// best, which puts half of its kept in the top quarter (a random pick: a quarter).
Batch labelled_batch(int64_t index, int64_t m = 32) {
  auto g = torch::make_generator<torch::CPUGeneratorImpl>(9000 + index);
  auto b = torch::rand({m}, g) * 2 - 1;
  auto classes = (torch::rand({m}, g) < 0.5).to(torch::kInt64);
  auto images = b.view({m, 1, 1, 1}) + 0.1 * torch::randn({m, 1, 6, 6}, g);
  return {images, torch::exp(torch::where(classes == 0, 2 * b, -2 * b)), classes};
}

// Options with a filter step after every batch (train_batch 0), the paper's rhythm the tests below count.
FilterOptions per_batch() {
  FilterOptions o;
  o.train_batch = 0;
  return o;
}

Feedback step(EarlyInstanceFilter& eif, const Batch& batch, Decision* out = nullptr) {
  Decision d = eif.decide(batch.images, batch.classes);
  if (out) *out = d;
  return eif.learn(batch.images, d, batch.losses.index_select(0, d.keep), batch.losses.index_select(0, d.query),
                   batch.classes);
}

torch::Tensor flat_parameters(const EarlyInstanceFilter& eif) {
  std::vector<torch::Tensor> flat;
  for (const auto& p : eif.network()->parameters()) flat.push_back(p.detach().reshape({-1}).clone());
  return torch::cat(flat);
}

// Runs 600 synthetic batches; returns the filter's metrics after batch 300 and after batch 600.
std::pair<FilterMetrics, FilterMetrics> run_600_batches(EarlyInstanceFilter& eif) {
  for (int64_t b = 0; b < 300; ++b) step(eif, synthetic_batch(b));
  const auto before = eif.metrics();
  for (int64_t b = 300; b < 600; ++b) step(eif, synthetic_batch(b));
  return {before, eif.metrics()};
}

// Balanced accuracy of the filter's p_High >= 0.5 call against loss >= threshold on a fresh
// 512-instance batch: 0.5 for a filter that predicts one class only or at random.
double probe_balanced_accuracy(EarlyInstanceFilter& eif, double threshold) {
  auto probe = synthetic_batch(99999, 512);
  Decision d = eif.decide(probe.images);
  auto truth = probe.losses >= threshold;
  auto predicted = d.prob_high >= 0.5;
  const double tpr = (truth & predicted).sum().item<double>() / truth.sum().item<double>();
  const double tnr = (~truth & ~predicted).sum().item<double>() / (~truth).sum().item<double>();
  return (tpr + tnr) / 2;
}

// The share of the instances the filter keeps on `probe` that are in its true top quarter by loss
// (a random pick: 0.25).
double kept_top_quarter_share(EarlyInstanceFilter& eif, const Batch& probe) {
  Decision d = eif.decide(probe.images, probe.classes);
  const double top_quarter = std::get<0>(probe.losses.kthvalue(probe.losses.numel() * 3 / 4 + 1)).item<double>();
  return (probe.losses.index_select(0, d.keep) >= top_quarter).to(torch::kDouble).mean().item<double>();
}

TEST(EarlyInstanceFilter, LearnsALossRuleAndKeepsAboutRatio) {
  FilterOptions o = per_batch();
  o.ratio = 0.25;
  o.control = "paper";
  EarlyInstanceFilter eif(tiny_filter(1), o);
  const auto [before, after] = run_600_batches(eif);
  EXPECT_FALSE(after.warming_up);
  // Over the last 300 batches: a wrong-prediction rate among the labelled instances (kept and queried,
  // all near the moving boundary) well below a coin's 0.5, and a kept share near R_set (kept = R_TH +
  // false positives, so a little above it).
  const double wrong = static_cast<double>(after.wrong - before.wrong) / (after.labelled - before.labelled);
  const double kept = static_cast<double>(after.kept - before.kept) / (after.incoming - before.incoming);
  EXPECT_LT(wrong, 0.35);
  EXPECT_GT(kept, 0.2);
  EXPECT_LT(kept, 0.4);
  // T_l sits near the 75% quantile of exp(2b), b ~ U(-1, 1): exp(1) = 2.7.
  EXPECT_GT(after.threshold, 1.5);
  EXPECT_LT(after.threshold, 4.5);
  // On a fresh probe batch the filter separates High from Low (loss >= T_l).
  EXPECT_GT(probe_balanced_accuracy(eif, after.threshold), 0.85);
}

// The "kept" control steers the kept share itself to R_set, with a filter that still separates.
TEST(EarlyInstanceFilter, KeptControlHoldsTheKeptShareAtRatio) {
  FilterOptions o = per_batch();
  o.ratio = 0.25;
  o.control = "kept";
  EarlyInstanceFilter eif(tiny_filter(1), o);
  const auto [before, after] = run_600_batches(eif);
  const double kept = static_cast<double>(after.kept - before.kept) / (after.incoming - before.incoming);
  EXPECT_NEAR(kept, 0.25, 0.05);
  EXPECT_GT(probe_balanced_accuracy(eif, after.threshold), 0.8);
}

// The default control ("budget") keeps exactly ceil(R_set * m) per batch, learns to rank from labels
// of the kept instances and a uniform sample of the dropped ones, and T_l finds the stream's quantile.
TEST(EarlyInstanceFilter, BudgetControlKeepsRatioAndLearnsToRank) {
  FilterOptions o = per_batch();
  o.ratio = 0.25;
  ASSERT_EQ(o.control, "budget");
  EarlyInstanceFilter eif(tiny_filter(1), o);
  for (int64_t b = 0; b < 300; ++b) step(eif, synthetic_batch(b));
  const auto before = eif.metrics();
  for (int64_t b = 300; b < 600; ++b) {
    Decision d;
    step(eif, synthetic_batch(b), &d);
    ASSERT_EQ(d.keep.numel(), 8);   // ceil(0.25 * 32)
    ASSERT_EQ(d.query.numel(), 2);  // ceil(0.05 * 32)
  }
  const auto after = eif.metrics();
  EXPECT_DOUBLE_EQ(after.kept_fraction_window, 0.25);
  EXPECT_NEAR(static_cast<double>(after.queried - before.queried) / (after.incoming - before.incoming), 0.0625, 1e-9);
  // T_l near the 75% quantile of exp(2b), b ~ U(-1, 1): exp(1) = 2.7 (the kept instances alone, all
  // above it, would push it far higher).
  EXPECT_GT(after.threshold, 1.8);
  EXPECT_LT(after.threshold, 4.0);
  // On a fresh probe batch the kept quarter is mostly the true top quarter (a random pick: 0.25).
  auto probe = synthetic_batch(99999, 512);
  ASSERT_EQ(eif.decide(probe.images).keep.numel(), 128);
  EXPECT_GT(kept_top_quarter_share(eif, probe), 0.8);
}

// Where the loss depends on the label, a filter with a High/Low pair per class (it sees the label)
// learns to rank from its self-supervised labels; the same filter with one pair (the image only)
// cannot, on the same stream.
TEST(EarlyInstanceFilter, APairPerClassLearnsALabelDependentRule) {
  FilterOptions o = per_batch();
  o.ratio = 0.25;
  EarlyInstanceFilter sees(tiny_filter(1, true, 4), o), blind(tiny_filter(1), o);
  for (int64_t b = 0; b < 600; ++b) {
    step(sees, labelled_batch(b));
    step(blind, labelled_batch(b));
  }
  const auto probe = labelled_batch(99999, 512);
  const double with_label = kept_top_quarter_share(sees, probe);
  const double image_only = kept_top_quarter_share(blind, probe);
  EXPECT_GT(with_label, 0.75);
  EXPECT_GT(with_label - image_only, 0.2);
  EXPECT_LT(sees.metrics().wrong_rate_window, blind.metrics().wrong_rate_window);
}

// Each instance is judged by its own class's pair of logits (2k = Low, 2k + 1 = High); a network with
// a pair per class needs the classes, in range.
TEST(EarlyInstanceFilter, APairPerClassJudgesEachInstanceByItsOwnClass) {
  EarlyInstanceFilter eif(tiny_filter(3, true, 6), per_batch());
  const auto batch = labelled_batch(0, 16);
  const auto classes = torch::arange(16, torch::kInt64) % 3;
  const Decision d = eif.decide(batch.images, classes);
  eif.network()->eval();
  const auto pairs = eif.network()->forward(batch.images).detach().view({16, 3, 2});
  for (int64_t i = 0; i < 16; ++i) {
    const auto own = torch::softmax(pairs[i][classes[i].item<int64_t>()], 0);
    EXPECT_NEAR(d.prob_high[i].item<double>(), own[1].item<double>(), 1e-6) << "instance " << i;
  }
  EXPECT_THROW(eif.decide(batch.images), c10::Error);
  EXPECT_THROW(eif.decide(batch.images, classes + 1), c10::Error);  // class 3 of 3 pairs
  EXPECT_THROW(eif.decide(batch.images, classes.narrow(0, 0, 8)), c10::Error);
  EXPECT_THROW(eif.decide(batch.images, -classes - 1), c10::Error);
}

TEST(EarlyInstanceFilter, ReportsInstanceCountsForTheLedger) {
  FilterOptions o = per_batch();
  o.warmup_batches = 1;
  EarlyInstanceFilter eif(tiny_filter(2), o);
  Decision d;
  step(eif, synthetic_batch(0), &d);  // warm-up: everything labelled
  EXPECT_EQ(eif.last_forward_instances(), 32);
  EXPECT_EQ(eif.last_trained_instances(), 32);
  step(eif, synthetic_batch(1), &d);
  EXPECT_EQ(eif.last_forward_instances(), 32);
  EXPECT_EQ(eif.last_trained_instances(), d.keep.numel() + d.query.numel());
  EXPECT_EQ(eif.total_forward_instances(), 64);
  EXPECT_EQ(eif.total_trained_instances(), 32 + d.keep.numel() + d.query.numel());
}

TEST(EarlyInstanceFilter, NothingLabelledSkipsTheStepAndOneLabelledTrains) {
  FilterOptions o = per_batch();
  o.warmup_batches = 0;
  EarlyInstanceFilter eif(tiny_filter(3), o);
  auto batch = synthetic_batch(0, 4);
  eif.decide(batch.images);
  Decision d;
  d.incoming = 4;
  d.prob_high = torch::full({4}, 0.1f);
  d.keep = torch::empty({0}, torch::kInt64);
  d.query = torch::empty({0}, torch::kInt64);
  auto before = flat_parameters(eif);
  Feedback f = eif.learn(batch.images, d, torch::empty({0}), torch::empty({0}));
  EXPECT_EQ(f.labelled.numel(), 0);
  EXPECT_EQ(eif.last_trained_instances(), 0);
  EXPECT_TRUE(torch::equal(flat_parameters(eif), before));
  EXPECT_EQ(eif.metrics().batches, 1);

  d.keep = torch::tensor({2}, torch::kInt64);
  eif.learn(batch.images, d, torch::tensor({9.0}), torch::empty({0}));
  EXPECT_EQ(eif.last_trained_instances(), 1);
  EXPECT_FALSE(torch::equal(flat_parameters(eif), before));
  EXPECT_TRUE(torch::isfinite(flat_parameters(eif)).all().item<bool>());
}

TEST(EarlyInstanceFilter, EmptyBatchAndSingleInstanceBatch) {
  EarlyInstanceFilter eif(tiny_filter(4), per_batch());
  Decision d = eif.decide(torch::zeros({0, 1, 6, 6}));
  EXPECT_EQ(d.incoming, 0);
  EXPECT_EQ(eif.last_forward_instances(), 0);
  eif.learn(torch::zeros({0, 1, 6, 6}), d, torch::empty({0}), torch::empty({0}));
  EXPECT_EQ(eif.last_trained_instances(), 0);
  auto one = synthetic_batch(5, 1);
  step(eif, one, &d);
  EXPECT_EQ(d.incoming, 1);
  EXPECT_EQ(eif.last_trained_instances(), 1);  // warm-up keeps it
}

TEST(EarlyInstanceFilter, DecideDoesNotChangeTheFilter) {
  EarlyInstanceFilter eif(tiny_filter(5), per_batch());
  for (int64_t b = 0; b < 3; ++b) step(eif, synthetic_batch(b));
  auto before = skiptrain::module_state(*eif.network());
  std::map<std::string, torch::Tensor> copy;
  for (const auto& [k, v] : before) copy[k] = v.clone();
  Decision d1 = eif.decide(synthetic_batch(50).images);
  Decision d2 = eif.decide(synthetic_batch(50).images);
  for (const auto& [k, v] : skiptrain::module_state(*eif.network())) EXPECT_TRUE(torch::equal(v, copy[k])) << k;
  // Eval-mode BatchNorm: an instance's probability does not depend on its batch-mates.
  auto half = eif.decide(synthetic_batch(50).images.slice(0, 0, 5));
  EXPECT_TRUE(torch::allclose(half.prob_high, d1.prob_high.slice(0, 0, 5), 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(d1.prob_high, d2.prob_high));
}

TEST(EarlyInstanceFilter, LearningRateFollowsMilestones) {
  FilterOptions o = per_batch();
  o.lr = 0.1;
  o.lr_milestones = {2};
  o.lr_factor = 0.5;
  EarlyInstanceFilter eif(tiny_filter(6), o);
  EXPECT_DOUBLE_EQ(eif.lr(), 0.1);
  step(eif, synthetic_batch(0));
  step(eif, synthetic_batch(1));
  EXPECT_DOUBLE_EQ(eif.lr(), 0.05);
  step(eif, synthetic_batch(2));
  EXPECT_DOUBLE_EQ(eif.state().at("optimizer.lr").item<double>(), 0.05);
}

// With train_share s the filter trains on ceil(s * labelled) of each batch's labelled instances, the
// same draw for the same batch count; the batch's labels (and so T_l) still use all of them.
TEST(EarlyInstanceFilter, TrainsOnItsShareOfTheLabelledInstances) {
  FilterOptions o;
  o.train_batch = 0;
  o.train_share = 0.5;
  o.warmup_batches = 10;  // every instance labelled: 32 per batch
  EarlyInstanceFilter a(tiny_filter(11), o), b(tiny_filter(11), o);
  const auto feedback = step(a, synthetic_batch(0));
  step(b, synthetic_batch(0));
  EXPECT_EQ(feedback.labelled.numel(), 32);
  EXPECT_EQ(a.last_trained_instances(), 16);
  EXPECT_TRUE(torch::equal(flat_parameters(a), flat_parameters(b)));
}

// With train_batch N the filter gathers labelled instances over batches and steps once N have come.
TEST(EarlyInstanceFilter, GathersLabelledInstancesBeforeATrainingStep) {
  FilterOptions o;
  o.train_batch = 80;
  o.warmup_batches = 10;  // every instance labelled: 32 per batch
  EarlyInstanceFilter eif(tiny_filter(11), o);
  const auto before = flat_parameters(eif);
  step(eif, synthetic_batch(0));
  EXPECT_EQ(eif.last_trained_instances(), 0);
  step(eif, synthetic_batch(1));
  EXPECT_EQ(eif.last_trained_instances(), 0);
  EXPECT_TRUE(torch::equal(flat_parameters(eif), before));  // nothing trained yet
  step(eif, synthetic_batch(2));
  EXPECT_EQ(eif.last_trained_instances(), 96);  // 3 batches x 32 >= 80
  EXPECT_FALSE(torch::equal(flat_parameters(eif), before));
  EXPECT_EQ(eif.total_trained_instances(), 96);
  step(eif, synthetic_batch(3));
  EXPECT_EQ(eif.last_trained_instances(), 0);
}

TEST(EarlyInstanceFilter, StateRoundTripResumesExactly) {
  FilterOptions o;
  o.train_batch = 48;  // 1.5 batches of 32 labelled: the state holds gathered instances at times
  o.warmup_batches = 5;
  EarlyInstanceFilter a(tiny_filter(7), o);
  for (int64_t b = 0; b < 25; ++b) step(a, synthetic_batch(b));
  // Clone the state: load must not alias the live tensors of `a`.
  skiptrain::TensorState saved;
  for (const auto& [k, v] : a.state()) saved[k] = v.clone();
  ASSERT_EQ(saved.count("gathered.images"), 1u);  // resumes mid-gathering
  EarlyInstanceFilter b(tiny_filter(8), o);
  ASSERT_FALSE(torch::equal(flat_parameters(a), flat_parameters(b)));
  b.load_state(saved, "test");
  EXPECT_TRUE(torch::equal(flat_parameters(a), flat_parameters(b)));
  EXPECT_EQ(b.total_forward_instances(), a.total_forward_instances());
  for (int64_t i = 25; i < 45; ++i) {
    Decision da, db;
    auto batch = synthetic_batch(i);
    Feedback fa = step(a, batch, &da);
    Feedback fb = step(b, batch, &db);
    ASSERT_TRUE(torch::equal(da.keep, db.keep)) << "batch " << i;
    ASSERT_TRUE(torch::equal(da.query, db.query)) << "batch " << i;
    ASSERT_TRUE(torch::equal(fa.labels, fb.labels)) << "batch " << i;
  }
  EXPECT_TRUE(torch::equal(flat_parameters(a), flat_parameters(b)));
  EXPECT_DOUBLE_EQ(a.metrics().threshold, b.metrics().threshold);
  // A state of another architecture is rejected with an InputError.
  saved.erase("network.fc.bias");
  EarlyInstanceFilter c(tiny_filter(9), o);
  EXPECT_THROW(c.load_state(saved, "ckpt"), skiptrain::InputError);
}

// A filter with a pair per class resumes mid-gathering with its gathered instances' classes.
TEST(EarlyInstanceFilter, APairPerClassResumesWithItsGatheredClasses) {
  FilterOptions o;
  o.train_batch = 48;
  o.warmup_batches = 5;
  EarlyInstanceFilter a(tiny_filter(7, true, 4), o);
  for (int64_t b = 0; b < 25; ++b) step(a, labelled_batch(b));
  skiptrain::TensorState saved;
  for (const auto& [k, v] : a.state()) saved[k] = v.clone();
  ASSERT_EQ(saved.count("gathered.classes"), 1u);
  EarlyInstanceFilter b(tiny_filter(8, true, 4), o);
  b.load_state(saved, "test");
  for (int64_t i = 25; i < 45; ++i) {
    Decision da, db;
    step(a, labelled_batch(i), &da);
    step(b, labelled_batch(i), &db);
    ASSERT_TRUE(torch::equal(da.keep, db.keep)) << "batch " << i;
  }
  EXPECT_TRUE(torch::equal(flat_parameters(a), flat_parameters(b)));
  saved["gathered.classes"] = saved["gathered.classes"].narrow(0, 0, 1);
  EXPECT_THROW(b.load_state(saved, "ckpt"), skiptrain::InputError);
}

TEST(EarlyInstanceFilter, DeterministicWithOneThread) {
  at::set_num_threads(1);
  auto run = [](uint64_t seed) {
    EarlyInstanceFilter eif(tiny_filter(seed), per_batch());
    for (int64_t b = 0; b < 40; ++b) step(eif, synthetic_batch(b));
    return flat_parameters(eif);
  };
  auto first = run(11);
  EXPECT_TRUE(torch::equal(first, run(11)));
  EXPECT_FALSE(torch::equal(first, run(12)));
}

TEST(EarlyInstanceFilter, RejectsInvalidOptionsNamingTheFlag) {
  FilterOptions o = per_batch();
  o.a1 = 0.9;
  try {
    EarlyInstanceFilter eif(tiny_filter(1), o);
    FAIL() << "expected an InputError";
  } catch (const skiptrain::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--eif-a1"), std::string::npos);
  }
}

}  // namespace

namespace {

// The zoo's filter networks (lenet-filter for 28x28 grey, resnet8 for 32x32 colour) run through a
// decide/learn round, including BatchNorm with one labelled instance.
TEST(EarlyInstanceFilter, WorksWithTheZooFilters) {
  struct Case {
    const char* name;
    skiptrain::nn::ModelSpec spec;
  };
  for (const Case& c : {Case{"lenet-filter", {1, 28, 2}}, Case{"resnet8", {3, 32, 2}}}) {
    torch::manual_seed(0);
    FilterOptions o = per_batch();
    o.warmup_batches = 1;
    EarlyInstanceFilter eif(skiptrain::nn::make_model(c.name, c.spec), o);
    auto images = torch::randn({8, c.spec.in_channels, c.spec.image_size, c.spec.image_size});
    auto losses = torch::rand({8}) * 3;
    Decision d = eif.decide(images);
    EXPECT_EQ(d.keep.numel(), 8) << c.name;
    eif.learn(images, d, losses, torch::empty({0}));
    EXPECT_EQ(eif.last_trained_instances(), 8) << c.name;
    d.keep = torch::tensor({3}, torch::kInt64);
    d.query = torch::empty({0}, torch::kInt64);
    eif.learn(images, d, losses.slice(0, 3, 4), torch::empty({0}));
    EXPECT_EQ(eif.last_trained_instances(), 1) << c.name;
    EXPECT_TRUE(torch::isfinite(eif.decide(images).prob_high).all().item<bool>()) << c.name;
  }
}

// Two data-parallel ranks, each filtering its half of every batch from a filter initialised
// differently: they start from rank 0's weights and stay one filter (equal weights, T_l and
// counts), the kept share is R_set over the whole batch, and the filter still learns the rule.
TEST(EarlyInstanceFilter, DataParallelRanksKeepOneFilter) {
  FilterOptions o;  // the defaults: budget control, a step per 64 gathered instances
  o.ratio = 0.25;
  std::vector<torch::Tensor> weights(2);
  std::vector<FilterMetrics> metrics(2);
  std::vector<double> accuracy(2);
  skiptrain::test::on_loopback_ranks(2, [&](skiptrain::dist::Collective& c) {
    EarlyInstanceFilter eif(tiny_filter(10 + c.rank()), o, c);
    for (int64_t b = 0; b < 400; ++b) {
      const Batch whole = synthetic_batch(b, 64);
      step(eif, {whole.images.narrow(0, 32 * c.rank(), 32), whole.losses.narrow(0, 32 * c.rank(), 32)});
    }
    weights[c.rank()] = flat_parameters(eif);
    metrics[c.rank()] = eif.metrics();
    accuracy[c.rank()] = probe_balanced_accuracy(eif, eif.metrics().threshold);
  });
  EXPECT_TRUE(torch::equal(weights[0], weights[1]));
  EXPECT_EQ(metrics[0].threshold, metrics[1].threshold);
  EXPECT_EQ(metrics[0].incoming, 400 * 64);  // the counts are the whole batch's, on both ranks
  EXPECT_EQ(metrics[1].kept, metrics[0].kept);
  EXPECT_NEAR(metrics[0].kept_fraction_window, 0.25, 0.02);
  EXPECT_GT(accuracy[0], 0.85);
  EXPECT_EQ(accuracy[0], accuracy[1]);
}

}  // namespace
