// Benchmark: 2x2/stride-2 max pooling on LeNet's and the EIF filters' maps, torch's max_pool2d vs
// skiptrain::max_pool2x2 (forward + backward, autograd recording), and, without autograd, the
// maximum of four strided views vs skiptrain::max_pool2x2. NCHW and channels-last. Prints a
// markdown table of minimum times (us) after warm-up. Usage: max_pool2x2_bench [--threads N] [--reps R]
#include "skiptrain/ops/max_pool2x2.h"
#include "skiptrain/skiptrain.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace {

// Minimum, not median: on a shared machine other processes only ever add time.
double min_us(const std::function<void()>& f, int reps) {
  for (int i = 0; i < 5; ++i) f();
  double best = 1e300;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

using Pool = std::function<torch::Tensor(const torch::Tensor&)>;

double forward_backward_us(const Pool& pool, const torch::Tensor& x, int reps) {
  auto leaf = x.detach().requires_grad_(true);
  const auto upstream = torch::randn(pool(x.detach()).sizes());
  // autograd::grad, not backward(): no accumulation into leaf.grad() timed along.
  return min_us([&] { torch::autograd::grad({pool(leaf)}, {leaf}, {upstream}); }, reps);
}

double forward_us(const Pool& pool, const torch::Tensor& x, int reps) {
  torch::NoGradGuard no_grad;
  return min_us([&] { pool(x); }, reps);
}

torch::Tensor aten_pool(const torch::Tensor& x) { return torch::max_pool2d(x, {2, 2}, {2, 2}); }

// The no-autograd path lenet.cpp's pool2 used before skiptrain::max_pool2x2.
torch::Tensor strided_max(const torch::Tensor& x) {
  const int64_t h = x.size(2) / 2 * 2, w = x.size(3) / 2 * 2;
  const auto rows = torch::maximum(x.slice(2, 0, h, 2), x.slice(2, 1, h, 2));
  return torch::maximum(rows.slice(3, 0, w, 2), rows.slice(3, 1, w, 2));
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, reps = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--threads") threads = std::stoi(argv[i + 1]);
    else if (flag == "--reps") reps = std::stoi(argv[i + 1]);
  }
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  // LeNet-5 on MNIST (conv1, conv2 maps), the brief's unpadded LeNet, the slim filter (conv1, conv2).
  const std::vector<std::vector<int64_t>> shapes = {{64, 6, 28, 28}, {64, 16, 10, 10}, {64, 6, 24, 24},
                                                    {64, 16, 8, 8},  {20, 4, 14, 14},  {20, 8, 5, 5}};
  std::printf("threads %d, min of %d runs, us\n\n", threads, reps);
  std::printf("| shape | layout | fwd+bwd max_pool2d | fwd+bwd max_pool2x2 | no-grad strided max | no-grad max_pool2x2 | _max_pool2x2_backward |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const auto& shape : shapes)
    for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
      const auto x = torch::randn(shape).contiguous(format);
      const auto codes = std::get<1>(skiptrain::max_pool2x2_with_codes(x));
      const auto grad = torch::randn(codes.sizes()).contiguous(format);
      const double backward = min_us([&] { skiptrain::_max_pool2x2_backward(grad, codes, x.size(2), x.size(3)); }, reps);
      std::printf("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", c10::str(x.sizes()).c_str(),
                  format == at::MemoryFormat::Contiguous ? "NCHW" : "NHWC", forward_backward_us(aten_pool, x, reps),
                  forward_backward_us(skiptrain::max_pool2x2, x, reps), forward_us(strided_max, x, reps),
                  forward_us(skiptrain::max_pool2x2, x, reps), backward);
    }
  return 0;
}
