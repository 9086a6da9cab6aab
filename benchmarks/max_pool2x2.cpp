// Google Benchmark: 2x2/stride-2 max pooling on LeNet's and the EIF filters' maps, NCHW and
// channels-last, on 1 and 2 threads: forward + backward with autograd recording, torch's
// max_pool2d against skiptrain::max_pool2x2; without autograd, the maximum of four strided views
// (lenet.cpp's path before max_pool2x2) against skiptrain::max_pool2x2; and
// skiptrain::_max_pool2x2_backward alone. Paired cases run both in every iteration
// (paired_timing.h): the time is skiptrain's; counters max_pool2d_us / strided_max_us and ratio
// (skiptrain / reference). Read the "min" aggregate of --benchmark_repetitions=N.
#include "paired_timing.h"

#include "skiptrain/ops/max_pool2x2.h"
#include "skiptrain/skiptrain.h"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace {

torch::Tensor aten_pool(const torch::Tensor& x) { return torch::max_pool2d(x, {2, 2}, {2, 2}); }

// The no-autograd path lenet.cpp's pool2 used before skiptrain::max_pool2x2.
torch::Tensor strided_max(const torch::Tensor& x) {
  const int64_t h = x.size(2) / 2 * 2, w = x.size(3) / 2 * 2;
  const auto rows = torch::maximum(x.slice(2, 0, h, 2), x.slice(2, 1, h, 2));
  return torch::maximum(rows.slice(3, 0, w, 2), rows.slice(3, 1, w, 2));
}

torch::Tensor input(const std::vector<int64_t>& shape, at::MemoryFormat format, int threads) {
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  return torch::randn(shape).contiguous(format);
}

void forward_backward(benchmark::State& state, std::vector<int64_t> shape, at::MemoryFormat format, int threads) {
  const auto leaf = input(shape, format, threads).requires_grad_(true);
  const auto upstream = torch::randn(aten_pool(leaf.detach()).sizes());
  skiptrain::bench::Paired paired;
  // autograd::grad, not backward(): no accumulation into leaf.grad() timed along.
  for (auto _ : state)
    paired.time(
        state, [&] { torch::autograd::grad({skiptrain::max_pool2x2(leaf)}, {leaf}, {upstream}); },
        [&] { torch::autograd::grad({aten_pool(leaf)}, {leaf}, {upstream}); });
  paired.report(state, "max_pool2d_us", 1e6);
}

void no_grad_forward(benchmark::State& state, std::vector<int64_t> shape, at::MemoryFormat format, int threads) {
  const auto x = input(shape, format, threads);
  torch::NoGradGuard no_grad;
  skiptrain::bench::Paired paired;
  for (auto _ : state) paired.time(state, [&] { skiptrain::max_pool2x2(x); }, [&] { strided_max(x); });
  paired.report(state, "strided_max_us", 1e6);
}

void backward_alone(benchmark::State& state, std::vector<int64_t> shape, at::MemoryFormat format, int threads) {
  const auto x = input(shape, format, threads);
  const auto codes = std::get<1>(skiptrain::max_pool2x2_with_codes(x));
  const auto grad = torch::randn(codes.sizes()).contiguous(format);
  for (auto _ : state) benchmark::DoNotOptimize(skiptrain::_max_pool2x2_backward(grad, codes, x.size(2), x.size(3)));
}

}  // namespace

int main(int argc, char** argv) {
  // LeNet-5 on MNIST (conv1, conv2 maps), the brief's unpadded LeNet, the slim filter (conv1, conv2).
  const std::vector<std::vector<int64_t>> shapes = {{64, 6, 28, 28}, {64, 16, 10, 10}, {64, 6, 24, 24},
                                                    {64, 16, 8, 8},  {20, 4, 14, 14},  {20, 8, 5, 5}};
  using Case = void (*)(benchmark::State&, std::vector<int64_t>, at::MemoryFormat, int);
  const std::vector<std::pair<std::string, Case>> cases = {
      {"fwd_bwd", forward_backward}, {"no_grad_fwd", no_grad_forward}, {"backward_alone", backward_alone}};
  for (const auto& [case_name, run] : cases)
    for (const auto& shape : shapes)
      for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast})
        for (const int threads : {1, 2}) {
          std::string name = "max_pool2x2/" + case_name + "/";
          for (size_t i = 0; i < shape.size(); ++i) name += (i ? "x" : "") + std::to_string(shape[i]);
          name += format == at::MemoryFormat::Contiguous ? "/nchw" : "/channels_last";
          name += "/threads:" + std::to_string(threads);
          auto* b = benchmark::RegisterBenchmark(name.c_str(), run, shape, format, threads);
          b->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", skiptrain::bench::min_of);
          if (run != backward_alone) b->UseManualTime();
        }
  return skiptrain::bench::run_registered(argc, argv);
}
