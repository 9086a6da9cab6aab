// Our SGD against LibTorch's torch::optim::SGD (the reference update rule), and its state round trip.
#include "skiptrain/optim/sgd.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

TEST(Sgd, MatchesTorchOptimSgdOverSteps) {
  torch::manual_seed(0);
  auto a = torch::randn({5, 3}).requires_grad_();
  auto b = a.detach().clone().requires_grad_();
  skiptrain::optim::Sgd ours({a}, {0.1, 0.9, 1e-3});
  torch::optim::SGD reference({b}, torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-3));
  for (int step = 0; step < 5; ++step) {
    auto target = torch::randn({5, 3});
    ours.zero_grad();
    (a - target).pow(2).sum().backward();
    ours.step();
    reference.zero_grad();
    (b - target).pow(2).sum().backward();
    reference.step();
  }
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-6));
}

TEST(Sgd, SkipsParametersWithoutGradient) {
  auto p = torch::ones({2}).requires_grad_();
  skiptrain::optim::Sgd sgd({p}, {0.5, 0.0, 0.0});
  sgd.step();
  EXPECT_TRUE(torch::equal(p, torch::ones({2})));
}

TEST(Sgd, StateRoundTripContinuesIdentically) {
  auto run = [](bool reload) {
    torch::manual_seed(1);
    auto p = torch::randn({4}).requires_grad_();
    auto sgd = std::make_unique<skiptrain::optim::Sgd>(std::vector<torch::Tensor>{p},
                                                       skiptrain::optim::SgdOptions{0.05, 0.9, 0.0});
    for (int i = 0; i < 6; ++i) {
      if (reload && i == 3) {
        auto state = sgd->state();
        sgd = std::make_unique<skiptrain::optim::Sgd>(std::vector<torch::Tensor>{p},
                                                      skiptrain::optim::SgdOptions{1.0, 0.9, 0.0});
        sgd->load_state(state, "test");
      }
      sgd->zero_grad();
      (p * p * (i + 1)).sum().backward();
      sgd->step();
    }
    return p.detach().clone();
  };
  EXPECT_TRUE(torch::equal(run(false), run(true)));
}

}  // namespace
