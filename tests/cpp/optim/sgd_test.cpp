// Our SGD against LibTorch's torch::optim::SGD (the reference update rule), and its state round trip.
#include "skiptrain/optim/sgd.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>
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

// Several parameters, one of them without a gradient until the third step (its momentum starts
// later than the others', as an EMP-pruned or unused layer's can): the foreach step keeps each
// parameter's rule of torch::optim::SGD.
TEST(Sgd, MatchesTorchOptimSgdWithParametersJoiningLate) {
  torch::manual_seed(2);
  std::vector<torch::Tensor> ours_p, ref_p;
  for (const auto& shape : std::vector<std::vector<int64_t>>{{4, 3, 3, 3}, {4}, {2, 4}}) {
    ours_p.push_back(torch::randn(shape).requires_grad_());
    ref_p.push_back(ours_p.back().detach().clone().requires_grad_());
  }
  skiptrain::optim::Sgd ours(ours_p, {0.05, 0.9, 5e-4});
  torch::optim::SGD reference(ref_p, torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(5e-4));
  const auto loss = [](const std::vector<torch::Tensor>& p, int step) {
    auto l = p[0].pow(2).sum() * (step + 1) + p[1].sin().sum();
    return step >= 2 ? l + p[2].pow(3).sum() : l;
  };
  for (int step = 0; step < 5; ++step) {
    ours.zero_grad();
    loss(ours_p, step).backward();
    ours.step();
    reference.zero_grad();
    loss(ref_p, step).backward();
    reference.step();
  }
  for (size_t i = 0; i < ours_p.size(); ++i) EXPECT_TRUE(torch::allclose(ours_p[i], ref_p[i], 1e-6, 1e-6)) << i;
}

// On a GPU the parameters step together (foreach ops): the same values as the CPU's step.
TEST(Sgd, CudaStepMatchesTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(3);
  std::vector<torch::Tensor> cpu, gpu;
  for (const auto& shape : std::vector<std::vector<int64_t>>{{8, 4, 3, 3}, {8}, {3, 8}}) {
    cpu.push_back(torch::randn(shape, torch::kDouble).requires_grad_());
    gpu.push_back(cpu.back().detach().cuda().requires_grad_());
  }
  for (const bool decay_rows : {true, false}) {
    skiptrain::optim::SgdOptions o{0.05, 0.9, 5e-4};
    o.decay_rows_without_gradient = decay_rows;
    skiptrain::optim::Sgd on_cpu(cpu, o), on_gpu(gpu, o);
    for (int step = 0; step < 4; ++step) {
      for (auto* side : {&cpu, &gpu}) {
        auto& p = *side;
        for (auto& t : p) t.mutable_grad() = torch::Tensor();
        auto l = p[0].pow(2).sum() * (step + 1) + p[1].sin().sum();
        if (step >= 2) l = l + p[2].pow(3).sum();
        l.backward();
        p[0].mutable_grad().select(0, 1).zero_();  // a pruned row: spared from decay unless decay_rows
      }
      on_cpu.step();
      on_gpu.step();
    }
    for (size_t i = 0; i < cpu.size(); ++i)
      EXPECT_TRUE(torch::allclose(gpu[i].cpu(), cpu[i], 1e-12, 1e-12)) << i << " decay_rows " << decay_rows;
  }
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
