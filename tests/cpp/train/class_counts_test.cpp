// ClassCounts: instances seen and trained per class add up batch by batch, the class-mix distance
// of a selected batch is the total variation distance between its chosen and incoming class mixes,
// both come back from their state, and a state of the wrong shape or type is refused naming the file.
#include "skiptrain/errors.h"
#include "skiptrain/train/class_counts.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace {

using skiptrain::train::ClassCounts;

torch::Tensor labels(std::vector<int64_t> values) { return torch::tensor(values, torch::kInt64); }

TEST(ClassCounts, SeenAndTrainedAddUpPerClass) {
  ClassCounts counts(4, torch::kCPU);
  counts.add_seen(labels({0, 1, 1, 3, 3, 3}));
  counts.add_trained(labels({1, 3}));
  counts.add_seen(labels({3, 0}));
  counts.add_trained(labels({}));
  counts.add_trained(labels({0}));
  EXPECT_EQ(counts.seen(), (std::vector<int64_t>{2, 2, 0, 4}));
  EXPECT_EQ(counts.trained(), (std::vector<int64_t>{1, 1, 0, 1}));
  counts.clear();
  EXPECT_EQ(counts.seen(), (std::vector<int64_t>{0, 0, 0, 0}));
}

TEST(ClassCounts, ClassMixDistanceIsTheTotalVariationDistanceOfEachSelectedBatch) {
  ClassCounts counts(3, torch::kCPU);
  EXPECT_EQ(counts.mean_mix_distance(), 0.0);
  counts.add_selection(labels({0, 0, 1, 2}), labels({0, 1}));  // mixes (1/2, 1/4, 1/4), (1/2, 1/2, 0): 1/4
  counts.add_selection(labels({0, 1}), labels({}));            // nothing trained: not a selected batch
  counts.add_selection(labels({0, 1, 2}), labels({2}));        // (1/3, 1/3, 1/3), (0, 0, 1): 2/3
  counts.add_selection(labels({1, 1}), labels({1}));           // the same mix: 0
  EXPECT_EQ(counts.selected_batches(), 3);
  EXPECT_NEAR(counts.mean_mix_distance(), (0.25 + 2.0 / 3 + 0) / 3, 1e-12);
  EXPECT_EQ(counts.seen(), (std::vector<int64_t>{0, 0, 0}));  // selections count no instances
}

TEST(ClassCounts, DefaultConstructedCountsNothing) {
  ClassCounts counts;
  counts.add_seen(labels({0, 1}));
  counts.add_selection(labels({0, 1}), labels({0}));
  EXPECT_TRUE(counts.seen().empty());
  EXPECT_EQ(counts.selected_batches(), 0);
  EXPECT_TRUE(counts.state().empty());
}

TEST(ClassCounts, StateComesBackAndTheWrongShapeIsRefused) {
  ClassCounts saved(3, torch::kCPU);
  saved.add_seen(labels({2, 2, 1}));
  saved.add_trained(labels({2}));
  saved.add_selection(labels({0, 1}), labels({0}));
  ClassCounts restored(3, torch::kCPU);
  restored.load_state(saved.state(), "run.pt");
  EXPECT_EQ(restored.seen(), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(restored.trained(), (std::vector<int64_t>{0, 0, 1}));
  EXPECT_EQ(restored.selected_batches(), 1);
  EXPECT_EQ(restored.mean_mix_distance(), 0.5);

  const auto good = saved.state();
  auto wrong_counts = good, float_counts = good, wrong_mix = good, no_mix = good;
  wrong_counts["counts"] = torch::zeros({2, 4}, torch::kInt64);
  float_counts["counts"] = torch::zeros({2, 3}, torch::kFloat32);
  wrong_mix["mix"] = torch::zeros({3}, torch::kFloat64);
  no_mix.erase("mix");
  for (const auto& bad : {wrong_counts, float_counts, wrong_mix, no_mix}) {
    try {
      restored.load_state(bad, "run.pt");
      FAIL() << "expected InputError";
    } catch (const skiptrain::InputError& e) {
      EXPECT_NE(std::string(e.what()).find("run.pt"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(restored.seen(), (std::vector<int64_t>{0, 1, 2}));  // unchanged by the refusals
}

}  // namespace
