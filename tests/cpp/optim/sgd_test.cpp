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

// With decay_rows_without_gradient false, a row whose gradient is all zero (a pruned channel's)
// keeps its weights; the other rows decay as before; a bias (1-D) always decays.
TEST(Sgd, CanSpareRowsWithoutGradientFromWeightDecay) {
  for (const bool spare : {false, true}) {
    auto w = torch::ones({2, 3}).requires_grad_();
    auto b = torch::ones({2}).requires_grad_();
    w.mutable_grad() = torch::tensor({{0.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f}});
    b.mutable_grad() = torch::zeros({2});
    skiptrain::optim::SgdOptions o{0.5, 0.0, 0.1};
    o.decay_rows_without_gradient = !spare;
    skiptrain::optim::Sgd sgd({w, b}, o);
    sgd.step();
    const auto kept_row = spare ? torch::ones({3}) : torch::full({3}, 0.95f);
    EXPECT_TRUE(torch::allclose(w[0], kept_row)) << spare;
    EXPECT_TRUE(torch::allclose(w[1], torch::tensor({0.95f, 0.45f, 0.95f})));
    EXPECT_TRUE(torch::allclose(b, torch::full({2}, 0.95f)));
  }
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
