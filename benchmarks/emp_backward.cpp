// Google Benchmark: a conv layer's backward (grad_input + grad_weight, no bias) with ATen's
// dense at::convolution_backward against Error Map Pruning (skiptrain::_emp_conv2d_backward
// through the dispatcher) at keep 1, 0.5 and 0.25, on the CIFAR-ResNet and LeNet conv shapes,
// stored NCHW and channels-last (each against the dense backward in that layout: oneDNN is
// faster channels-last, and the trainer stores its models so when that is faster), on 1 and 2
// threads. Both run in every iteration (paired_timing.h): the time is EMP's; counters dense_ms,
// ratio (EMP / dense) and, below keep 1, selection_pct (skiptrain::select_channels alone, % of
// dense). benchmarks/results/emp_backward.md reads the "min" aggregate of
//   emp_backward_bench --benchmark_repetitions=31 --benchmark_report_aggregates_only=true
#include "paired_timing.h"

#include "skiptrain/ops/emp_conv2d.h"
#include "skiptrain/ops/select_channels.h"
#include "skiptrain/skiptrain.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

struct Layer {
  std::string name;            // benchmark name part
  std::string label;           // what the layer is
  std::vector<int64_t> input;  // [N, C_in, H, W]
  int64_t c_out, kernel, padding;
};

const std::vector<Layer>& layers() {
  static const std::vector<Layer> all = {
      {"resnet_stage1", "ResNet stage 1, 16->16 3x3, [128,16,32,32]", {128, 16, 32, 32}, 16, 3, 1},
      {"resnet_stage2", "ResNet stage 2, 32->32 3x3, [128,32,16,16]", {128, 32, 16, 16}, 32, 3, 1},
      {"resnet_stage3", "ResNet stage 3, 64->64 3x3, [128,64,8,8]", {128, 64, 8, 8}, 64, 3, 1},
      {"lenet_conv1", "LeNet conv1, 1->6 5x5 pad 2, [64,1,28,28]", {64, 1, 28, 28}, 6, 5, 2},
      {"lenet_conv2", "LeNet conv2, 6->16 5x5, [64,6,14,14]", {64, 6, 14, 14}, 16, 5, 0},
  };
  return all;
}

void emp_vs_dense(benchmark::State& state, const Layer& layer, at::MemoryFormat format, double keep, int threads) {
  at::set_num_threads(threads);
  at::manual_seed(0);
  const std::vector<int64_t> stride = {1, 1}, dilation = {1, 1}, no_pad = {0, 0};
  const std::vector<int64_t> pad = {layer.padding, layer.padding};
  const auto x = at::randn(layer.input).contiguous(format);
  const auto w = at::randn({layer.c_out, layer.input[1], layer.kernel, layer.kernel}).contiguous(format);
  const auto go = at::randn(at::conv2d(x, w, {}, stride, pad).sizes()).contiguous(format);
  skiptrain::bench::Paired paired;
  double selection_s = 0;
  for (auto _ : state) {
    paired.time(
        state,
        [&] {
          skiptrain::_emp_conv2d_backward(go, x, w, stride, pad, dilation, 1, keep, 1.0, 1.0, false,
                                          {true, true, false});
        },
        [&] {
          at::convolution_backward(go, x, w, c10::nullopt, stride, pad, dilation, false, no_pad, 1,
                                   {true, true, false});
        });
    if (keep < 1)
      selection_s += skiptrain::bench::seconds_of([&] { skiptrain::select_channels(go, w, keep, 1.0, 1.0); });
  }
  paired.report(state, "dense_ms", 1e3);
  if (keep < 1) state.counters["selection_pct"] = 100 * selection_s / paired.reference_s();
  state.SetLabel(layer.label);
}

}  // namespace

int main(int argc, char** argv) {
  for (const Layer& layer : layers())
    for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast})
      for (const double keep : {1.0, 0.5, 0.25})
        for (const int threads : {1, 2}) {
          char name[128];
          std::snprintf(name, sizeof name, "emp_backward/%s/%s/keep:%.2f/threads:%d", layer.name.c_str(),
                        format == at::MemoryFormat::Contiguous ? "nchw" : "channels_last", keep, threads);
          skiptrain::bench::register_paired(
              name,
              [&layer, format, keep, threads](benchmark::State& state) {
                emp_vs_dense(state, layer, format, keep, threads);
              },
              benchmark::kMillisecond);
        }
  return skiptrain::bench::run_registered(argc, argv);
}
