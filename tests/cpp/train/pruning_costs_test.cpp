// What Error Map Pruning changes in a run: the pruned layers' kept fractions, and the share of
// their backward work that has a channels-last kernel (which decides the run's memory layout):
// ResNet-20's stride-1 convs have one, its strided convs and LeNet-5's 6-channel conv do not.
#include "skiptrain/cost/table.h"
#include "skiptrain/nn/conv2d.h"
#include "skiptrain/nn/emp_settings.h"
#include "skiptrain/nn/network.h"
#include "skiptrain/ops/emp_conv2d.h"
#include "skiptrain/train/pruning_costs.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

namespace {

skiptrain::train::PruningCosts costs_of(const std::string& name, const skiptrain::nn::ModelSpec& spec, double keep) {
  auto model = skiptrain::nn::make_model(name, spec);
  skiptrain::nn::EmpSettings settings;
  settings.keep = keep;
  skiptrain::nn::set_emp(*model, settings);
  const auto table = skiptrain::cost::count(*model, [&](const torch::Tensor& x) { return model->forward(x); },
                                            {1, spec.in_channels, spec.image_size, spec.image_size});
  return skiptrain::train::pruning_costs(table);
}

// A 3x3 "same" conv of 16 channels: the ResNet case, which has the kernel on any AVX2 CPU.
bool cpu_has_channels_last_kernel() {
  return skiptrain::emp_backward_keeps_channels_last(16, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1);
}

TEST(PruningCosts, DenseModelPrunesNothing) {
  const auto costs = costs_of("resnet20", {3, 32, 10}, 1.0);
  EXPECT_FALSE(costs.any);
  EXPECT_EQ(costs.channels_last_share, 0.0);
}

TEST(PruningCosts, ResNetStridedConvsLackTheChannelsLastKernel) {
  if (!cpu_has_channels_last_kernel()) GTEST_SKIP() << "no AVX2/AVX-512 kernels on this CPU";
  const auto costs = costs_of("resnet20", {3, 32, 10}, 0.5);
  EXPECT_TRUE(costs.any);
  EXPECT_GT(costs.channels_last_share, 0.5);
  EXPECT_LT(costs.channels_last_share, 1.0);
}

TEST(PruningCosts, LeNetSixChannelConvLacksTheChannelsLastKernel) {
  const auto costs = costs_of("lenet5", {1, 28, 10}, 0.5);
  EXPECT_TRUE(costs.any);
  EXPECT_EQ(costs.channels_last_share, 0.0);
}

TEST(PruningCosts, ChannelsLastKernelConditions) {
  if (!cpu_has_channels_last_kernel()) GTEST_SKIP() << "no AVX2/AVX-512 kernels on this CPU";
  using skiptrain::emp_backward_keeps_channels_last;
  EXPECT_TRUE(emp_backward_keeps_channels_last(64, 1, 1, {1, 1}, {0, 0}, {1, 1}, 1));
  EXPECT_TRUE(emp_backward_keeps_channels_last(32, 5, 5, {1, 1}, {2, 2}, {1, 1}, 1));
  EXPECT_FALSE(emp_backward_keeps_channels_last(16, 3, 3, {2, 2}, {1, 1}, {1, 1}, 1));  // strided
  EXPECT_FALSE(emp_backward_keeps_channels_last(16, 3, 3, {1, 1}, {1, 1}, {2, 2}, 1));  // dilated
  EXPECT_FALSE(emp_backward_keeps_channels_last(16, 3, 3, {1, 1}, {1, 1}, {1, 1}, 2));  // grouped
  EXPECT_FALSE(emp_backward_keeps_channels_last(6, 5, 5, {1, 1}, {0, 0}, {1, 1}, 1));   // C_in not a vector
  EXPECT_FALSE(emp_backward_keeps_channels_last(16, 3, 3, {1, 1}, {3, 3}, {1, 1}, 1));  // padding > kernel - 1
  EXPECT_FALSE(emp_backward_keeps_channels_last(16, 7, 7, {1, 1}, {3, 3}, {1, 1}, 1));  // no 7-wide kernel
}

}  // namespace
