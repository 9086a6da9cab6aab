// The collectives of a data-parallel run on two loopback ranks (threads of this process over
// Gloo): sums, the broadcast, the one-message gradient sum, and LaunchOptions' checks.
#include "skiptrain/dist/collective.h"
#include "skiptrain/dist/launch.h"
#include "skiptrain/errors.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>

namespace {

using skiptrain::dist::Collective;
using skiptrain::dist::LaunchOptions;

TEST(Collective, OneProcessChangesNothing) {
  Collective& one = skiptrain::dist::single_process();
  EXPECT_FALSE(one.distributed());
  auto t = torch::tensor({1.0, 2.0});
  one.sum(t);
  EXPECT_TRUE(torch::equal(t, torch::tensor({1.0, 2.0})));
  EXPECT_EQ(skiptrain::dist::sum_values(one, {3.0}), std::vector<double>{3.0});
}

TEST(Collective, TwoRanksSumAndBroadcast) {
  skiptrain::test::on_loopback_ranks(2, [](Collective& c) {
    ASSERT_EQ(c.world_size(), 2);
    auto t = torch::full({3}, c.rank() + 1.0);
    c.sum(t);
    EXPECT_TRUE(torch::equal(t, torch::full({3}, 3.0)));
    auto b = torch::full({2}, c.rank() == 0 ? 7.0 : -1.0);
    c.broadcast(b);
    EXPECT_TRUE(torch::equal(b, torch::full({2}, 7.0)));
    EXPECT_EQ(skiptrain::dist::sum_values(c, {1.0, double(c.rank())}), (std::vector<double>{2.0, 1.0}));
  });
}

TEST(Collective, GradientsSummedBuffersAveragedAndARankWithoutGradientsTakesPart) {
  skiptrain::test::on_loopback_ranks(2, [](Collective& c) {
    auto weight = torch::zeros({2, 2}, torch::requires_grad());
    auto unused = torch::zeros({3}, torch::requires_grad());  // no rank has a gradient for it
    auto running_mean = torch::full({2}, c.rank() == 0 ? 1.0f : 3.0f);
    auto counter = torch::tensor({c.rank() == 0 ? 5 : 9}, torch::kInt64);  // not floating: left alone
    if (c.rank() == 0) (weight * torch::tensor({{1.0f, 2.0f}, {3.0f, 4.0f}})).sum().backward();
    const auto extra = skiptrain::dist::sum_gradients(c, {weight, unused}, {running_mean, counter}, {c.rank() + 0.5});
    ASSERT_TRUE(weight.grad().defined());
    EXPECT_FALSE(unused.grad().defined());  // as in one process, where the optimizer skips it
    EXPECT_TRUE(torch::equal(weight.grad(), torch::tensor({{1.0f, 2.0f}, {3.0f, 4.0f}})));
    EXPECT_TRUE(torch::equal(running_mean, torch::full({2}, 2.0f)));
    EXPECT_EQ(counter.item<int64_t>(), c.rank() == 0 ? 5 : 9);
    EXPECT_EQ(extra, std::vector<double>{2.0});
  });
}

TEST(Collective, BroadcastModuleStartsEveryRankFromRankZero) {
  skiptrain::test::on_loopback_ranks(2, [](Collective& c) {
    auto w = torch::full({2, 3}, double(c.rank() + 4)).contiguous(at::MemoryFormat::Contiguous);
    auto b = torch::full({3}, double(c.rank()));
    skiptrain::dist::broadcast_module(c, {w}, {b});
    EXPECT_TRUE(torch::equal(w, torch::full({2, 3}, 4.0)));
    EXPECT_TRUE(torch::equal(b, torch::zeros({3})));
  });
}

using skiptrain::test::ScopedEnv;

TEST(LaunchOptions, TorchrunsEnvironmentFillsWhatTheFlagsLeaveAtTheirDefaults) {
  ScopedEnv world("WORLD_SIZE", "4"), rank("RANK", "3"), addr("MASTER_ADDR", "10.0.0.2"), port("MASTER_PORT", "23456");
  const LaunchOptions from_env = LaunchOptions{}.resolved();
  EXPECT_EQ(from_env.world_size, 4);
  EXPECT_EQ(from_env.rank, 3);
  EXPECT_EQ(from_env.master_addr, "10.0.0.2");
  EXPECT_EQ(from_env.master_port, 23456);
  LaunchOptions flags;
  flags.world_size = 2;
  flags.rank = 1;
  flags.master_port = 29999;
  const LaunchOptions from_flags = flags.resolved();
  EXPECT_EQ(from_flags.world_size, 2);
  EXPECT_EQ(from_flags.rank, 1);
  EXPECT_EQ(from_flags.master_port, 29999);
}

TEST(LaunchOptions, WithoutEnvironmentIsOneProcess) {
  ScopedEnv world("WORLD_SIZE", nullptr), rank("RANK", nullptr), addr("MASTER_ADDR", nullptr), port("MASTER_PORT", nullptr);
  const LaunchOptions r = LaunchOptions{}.resolved();
  EXPECT_EQ(r.world_size, 1);
  EXPECT_EQ(r.rank, 0);
  EXPECT_EQ(r.master_addr, "127.0.0.1");
  EXPECT_EQ(r.master_port, 29500);
  EXPECT_FALSE(skiptrain::dist::connect(r, c10::kCPU)->distributed());
}

// The message of the InputError `options.resolved()` throws ("" when it throws none).
std::string rejection(const LaunchOptions& options) {
  return skiptrain::test::input_error_of([&] { options.resolved(); });
}

TEST(LaunchOptions, BadValuesNameTheFlagOrVariable) {
  LaunchOptions o;
  o.world_size = 2;
  o.rank = 2;
  EXPECT_NE(rejection(o).find("--rank (or RANK) must be in [0, 2)"), std::string::npos) << rejection(o);
  o.rank = 0;
  o.master_port = 70000;
  EXPECT_NE(rejection(o).find("--master-port"), std::string::npos);
  o.master_port = 0;
  o.backend = "mpi";
  EXPECT_NE(rejection(o).find("--dist-backend must be auto, gloo or nccl"), std::string::npos);
  o.backend = "auto";
  o.timeout_s = 0;
  EXPECT_NE(rejection(o).find("--dist-timeout"), std::string::npos);
  ScopedEnv bad("WORLD_SIZE", "two");
  EXPECT_NE(rejection(LaunchOptions{}).find("WORLD_SIZE must be an integer, got 'two'"), std::string::npos);
}

TEST(LaunchOptions, NcclNeedsACudaDevice) {
  LaunchOptions o;
  o.world_size = 2;
  o.rank = 0;
  o.backend = "nccl";
  EXPECT_THROW(skiptrain::dist::connect(o.resolved(), c10::kCPU), skiptrain::InputError);
}

}  // namespace
