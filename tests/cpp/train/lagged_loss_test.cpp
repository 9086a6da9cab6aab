// LaggedLoss: read at once on the CPU; one step late on a GPU, with take() giving the last step.
#include "skiptrain/train/lagged_loss.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

namespace {

using skiptrain::train::LaggedLoss;

TEST(LaggedLoss, ReadsACpuLossAtOnce) {
  LaggedLoss lagged;
  const auto first = lagged.exchange(torch::tensor(1.5f), 1);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->value, 1.5);
  EXPECT_EQ(first->iteration, 1);
  EXPECT_EQ(lagged.exchange(torch::tensor(std::nanf("")), 2)->iteration, 2);
  EXPECT_FALSE(lagged.take().has_value());
}

TEST(LaggedLoss, ReadsAGpuLossOneStepLate) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  LaggedLoss lagged;
  EXPECT_FALSE(lagged.exchange(torch::full({}, 2.25f, torch::kCUDA), 1).has_value());
  // The next step's work queued behind the copy, as in training.
  const auto big = torch::randn({1024, 1024}, torch::kCUDA);
  const auto busy = big.mm(big);
  const auto second = lagged.exchange(torch::full({}, 0.5f, torch::kCUDA), 2);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->value, 2.25);
  EXPECT_EQ(second->iteration, 1);
  const auto last = lagged.take();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->value, 0.5);
  EXPECT_EQ(last->iteration, 2);
  EXPECT_FALSE(lagged.take().has_value());
  EXPECT_TRUE(busy.isfinite().all().item<bool>());
}

}  // namespace
