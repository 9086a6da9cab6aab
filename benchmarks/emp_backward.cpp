// Benchmark: wall-clock time of a conv layer's backward (grad_input +
// grad_weight) with ATen's dense at::convolution_backward vs Error Map Pruning
// (skiptrain::_emp_conv2d_backward through the dispatcher) at keep = 1, 0.5,
// 0.25, on the CIFAR-ResNet and LeNet conv shapes, with the tensors stored NCHW
// and channels-last (each against the dense backward in that layout: oneDNN is
// faster channels-last, and the trainer stores its models so when that is
// faster). Prints a markdown table (minimum of repeated runs after warm-up;
// ratios measured in the same run) and writes it to the file given as the first
// argument (default: stdout only). Usage: emp_backward_bench [out.md]
// [--threads N] [--reps R]
#include "skiptrain/ops/emp_conv2d.h"
#include "skiptrain/ops/select_channels.h"
#include "skiptrain/skiptrain.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Shape {
  std::string name;
  std::vector<int64_t> input; // [N, C_in, H, W]
  int64_t c_out, kernel, padding;
};

// Minimum, not median: on a shared machine other processes only ever add time
// (a descheduled OpenMP thread costs a whole scheduler slice, ~4 ms), and the
// median of a loaded run moves by 2-4x.
double min_ms(const std::function<void()> &f, int reps) {
  for (int i = 0; i < 3; ++i)
    f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto s = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - s)
                    .count());
  }
  return *std::min_element(t.begin(), t.end());
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0)
      return line.substr(line.find(':') + 2);
  return "unknown";
}

} // namespace

int main(int argc, char **argv) {
  std::string out_path;
  int threads = 2, reps = 21;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc)
      threads = std::stoi(argv[++i]);
    else if (a == "--reps" && i + 1 < argc)
      reps = std::stoi(argv[++i]);
    else
      out_path = a;
  }
  at::set_num_threads(threads);
  at::manual_seed(0);
  const std::vector<Shape> shapes = {
      {"ResNet stage 1, 16->16 3x3", {128, 16, 32, 32}, 16, 3, 1},
      {"ResNet stage 2, 32->32 3x3", {128, 32, 16, 16}, 32, 3, 1},
      {"ResNet stage 3, 64->64 3x3", {128, 64, 8, 8}, 64, 3, 1},
      {"LeNet conv1, 1->6 5x5 pad 2", {64, 1, 28, 28}, 6, 5, 2},
      {"LeNet conv2, 6->16 5x5", {64, 6, 14, 14}, 16, 5, 0},
  };
  const std::vector<double> keeps = {1.0, 0.5, 0.25};
  const std::vector<int64_t> stride = {1, 1}, dilation = {1, 1},
                             no_pad = {0, 0};
  std::ostringstream md;
  md << "# EMP backward vs dense convolution backward\n\n"
     << "Machine: " << cpu_model() << "; threads: " << threads << "; torch "
     << TORCH_VERSION << "; minimum of " << reps
     << " runs after 3 warm-up runs; grad_input + grad_weight (no bias).\n"
     << "Ratio = EMP time / dense time in the same run; selection = "
        "skiptrain::select_channels time as % of dense.\n\n"
     << "| layer | input | layout | dense ms | keep | EMP ms | ratio | "
        "selection % of dense |\n"
     << "|---|---|---|---:|---:|---:|---:|---:|\n";
  for (const auto &s : shapes)
    for (const auto format :
         {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
      const char *layout =
          format == at::MemoryFormat::Contiguous ? "NCHW" : "channels-last";
      auto x = at::randn(s.input).contiguous(format);
      auto w = at::randn({s.c_out, s.input[1], s.kernel, s.kernel})
                   .contiguous(format);
      const std::vector<int64_t> pad = {s.padding, s.padding};
      auto y = at::conv2d(x, w, {}, stride, pad);
      auto go = at::randn(y.sizes()).contiguous(format);
      const double dense = min_ms(
          [&] {
            at::convolution_backward(go, x, w, c10::nullopt, stride, pad,
                                     dilation, false, no_pad, 1,
                                     {true, true, false});
          },
          reps);
      std::ostringstream in;
      in << "[" << s.input[0] << "," << s.input[1] << "," << s.input[2] << ","
         << s.input[3] << "]";
      for (double keep : keeps) {
        const double emp = min_ms(
            [&] {
              skiptrain::_emp_conv2d_backward(go, x, w, stride, pad, dilation,
                                              1, keep, 1.0, 1.0,
                                              {true, true, false});
            },
            reps);
        std::string sel = "-";
        if (keep < 1.0) {
          const double t = min_ms(
              [&] { skiptrain::select_channels(go, w, keep, 1.0, 1.0); }, reps);
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * t / dense);
          sel = buf;
        }
        char row[256];
        std::snprintf(row, sizeof row,
                      "| %s | %s | %s | %.3f | %.2f | %.3f | %.2fx | %s |\n",
                      s.name.c_str(), in.str().c_str(), layout, dense, keep,
                      emp, emp / dense, sel.c_str());
        md << row;
        std::cout << row << std::flush;
      }
    }
  std::cout << "\n" << md.str();
  if (!out_path.empty()) {
    std::ofstream f(out_path, std::ios::app);
    f << md.str() << "\n";
  }
  return 0;
}
