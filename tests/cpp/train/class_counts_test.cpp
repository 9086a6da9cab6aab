// ClassCounts: instances seen and trained per class add up batch by batch, come back from
// their state, and a state of the wrong shape or type is refused naming the file.
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

TEST(ClassCounts, DefaultConstructedCountsNothing) {
  ClassCounts counts;
  counts.add_seen(labels({0, 1}));
  EXPECT_TRUE(counts.seen().empty());
  EXPECT_FALSE(counts.state().defined());
}

TEST(ClassCounts, StateComesBackAndTheWrongShapeIsRefused) {
  ClassCounts saved(3, torch::kCPU);
  saved.add_seen(labels({2, 2, 1}));
  saved.add_trained(labels({2}));
  ClassCounts restored(3, torch::kCPU);
  restored.load_state(saved.state(), "run.pt");
  EXPECT_EQ(restored.seen(), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(restored.trained(), (std::vector<int64_t>{0, 0, 1}));

  for (const auto& bad :
       {torch::zeros({2, 4}, torch::kInt64), torch::zeros({3}, torch::kInt64), torch::zeros({2, 3}, torch::kFloat32)}) {
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
