// Google Benchmark: one optimizer step of skiptrain's optim::Sgd against torch::optim::SGD (the
// same update rule: momentum 0.9, weight decay 1e-4, dampening 0, no Nesterov) on the parameters
// of LeNet-5 and ResNet-20, with fixed gradients, on 1 and 2 threads. Both step in every
// iteration (paired_timing.h): the time is Sgd's; counters torch_sgd_us and ratio (Sgd / torch).
// Read the "min" aggregate of --benchmark_repetitions=N.
#include "paired_timing.h"

#include "skiptrain/nn/network.h"
#include "skiptrain/optim/sgd.h"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace {

// Copies of `parameters` with the given gradients, as leaves a step can update.
std::vector<torch::Tensor> with_gradients(const std::vector<torch::Tensor>& parameters,
                                          const std::vector<torch::Tensor>& gradients) {
  std::vector<torch::Tensor> out;
  for (size_t i = 0; i < parameters.size(); ++i) {
    out.push_back(parameters[i].detach().clone().requires_grad_(true));
    out.back().mutable_grad() = gradients[i].clone();
  }
  return out;
}

void sgd_step(benchmark::State& state, const std::string& model, skiptrain::nn::ModelSpec spec, int threads) {
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  const auto parameters = skiptrain::nn::make_model(model, spec)->parameters();
  std::vector<torch::Tensor> gradients;
  int64_t count = 0;
  for (const auto& p : parameters) {
    gradients.push_back(torch::randn_like(p));
    count += p.numel();
  }
  const double lr = 0.01, momentum = 0.9, weight_decay = 1e-4;
  skiptrain::optim::Sgd ours(with_gradients(parameters, gradients), {lr, momentum, weight_decay});
  torch::optim::SGD reference(with_gradients(parameters, gradients),
                              torch::optim::SGDOptions(lr).momentum(momentum).weight_decay(weight_decay));
  skiptrain::bench::Paired paired;
  for (auto _ : state) paired.time(state, [&] { ours.step(); }, [&] { reference.step(); });
  paired.report(state, "torch_sgd_us", 1e6);
  state.SetLabel(std::to_string(parameters.size()) + " tensors, " + std::to_string(count) + " parameters");
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::pair<std::string, skiptrain::nn::ModelSpec>> models = {{"lenet5", {1, 28, 10}},
                                                                                {"resnet20", {3, 32, 10}}};
  for (const auto& [model, spec] : models)
    for (const int threads : {1, 2}) {
      const std::string name = "sgd_step/" + model + "/threads:" + std::to_string(threads);
      skiptrain::bench::register_paired(
          name, [model, spec, threads](benchmark::State& state) { sgd_step(state, model, spec, threads); },
          benchmark::kMicrosecond);
    }
  return skiptrain::bench::run_registered(argc, argv);
}
