// LeNet-5 and the slim LeNet filters; see lenet.h for the layer lists.
#include "skiptrain/nn/lenet.h"

#include "skiptrain/errors.h"
#include "skiptrain/nn/lenet_filter_fused.h"
#include "skiptrain/ops/max_pool2x2.h"

#include <torch/torch.h>

#include <string>

namespace skiptrain::nn {
namespace {

// Side of a square map after a conv (kernel k, stride s, padding p).
int64_t conv_out(int64_t size, int64_t k, int64_t s, int64_t p) { return (size + 2 * p - k) / s + 1; }

void check_spec(const ModelSpec& spec, const char* model) {
  if (spec.in_channels < 1 || spec.num_classes < 1 || spec.image_size < 1)
    throw InputError(std::string(model) + ": in_channels (" + std::to_string(spec.in_channels) +
                     "), image_size (" + std::to_string(spec.image_size) + ") and num_classes (" +
                     std::to_string(spec.num_classes) + ") must be positive");
}

void check_side(int64_t side, const ModelSpec& spec, const char* model) {
  if (side < 1)
    throw InputError(std::string(model) + ": image_size " + std::to_string(spec.image_size) +
                     " (--image-size) is too small for its convolutions and pools");
}

// 2x2 max pooling, stride 2, odd sides floored: [N, C, H, W] -> [N, C, H/2, W/2].
// With autograd it is skiptrain::max_pool2x2, whose forward saves one argmax code per output:
// forward + backward 4.7x (channels-last) to 8x (NCHW) faster than torch 1.13's CPU max_pool2d
// on LeNet-5's first map (64x6x28x28: 228 vs 1086 us channels-last, one thread; see
// benchmarks/max_pool2x2.cpp). Without autograd (the filter's decisions, loss-only forwards,
// evaluation) it is the maximum of four strided views: the same values, no codes, and on the
// channels-last maps the trainer uses faster still (76 vs 87 us on that map).
torch::Tensor pool2(const torch::Tensor& x) {
  if (x.requires_grad() && at::GradMode::is_enabled()) return max_pool2x2(x);
  const int64_t h = x.size(2) / 2 * 2, w = x.size(3) / 2 * 2;
  const auto rows = torch::maximum(x.slice(2, 0, h, 2), x.slice(2, 1, h, 2));
  return torch::maximum(rows.slice(3, 0, w, 2), rows.slice(3, 1, w, 2));
}

}  // namespace

LeNet5Impl::LeNet5Impl(const ModelSpec& spec) {
  check_spec(spec, "lenet5");
  // LeNet-5 was designed for 32x32 inputs: pad smaller images up to that (2 for MNIST's 28x28).
  const int64_t padding = spec.image_size < 32 ? (32 - spec.image_size) / 2 : 0;
  int64_t side = conv_out(spec.image_size, 5, 1, padding) / 2;
  side = conv_out(side, 5, 1, 0) / 2;
  check_side(side, spec, "lenet5");
  conv1 = register_module("conv1", Conv2d(Conv2dOptions(spec.in_channels, 6, 5).with_padding(padding)));
  conv2 = register_module("conv2", Conv2d(Conv2dOptions(6, 16, 5)));
  fc1 = register_module("fc1", Linear(16 * side * side, 120));
  fc2 = register_module("fc2", Linear(120, 84));
  fc3 = register_module("fc3", Linear(84, spec.num_classes));
}

torch::Tensor LeNet5Impl::forward(torch::Tensor images) {
  auto x = pool2(torch::relu(conv1->forward(images)));  // [N, 6, 14, 14] for 28x28
  x = pool2(torch::relu(conv2->forward(x)));            // [N, 16, 5, 5]
  x = x.flatten(1);
  x = torch::relu(fc1->forward(x));
  x = torch::relu(fc2->forward(x));
  return fc3->forward(x);
}

LeNetFilterImpl::LeNetFilterImpl(const ModelSpec& spec, LeNetFilterWidths widths, const char* name) {
  check_spec(spec, name);
  int64_t side = conv_out(spec.image_size, 3, 2, 1) / 2;
  side = conv_out(side, 3, 1, 0) / 2;
  check_side(side, spec, name);
  conv1 = register_module("conv1",
                          Conv2d(Conv2dOptions(spec.in_channels, widths.conv1, 3).with_stride(2).with_padding(1)));
  conv2 = register_module("conv2", Conv2d(Conv2dOptions(widths.conv1, widths.conv2, 3)));
  fc1 = register_module("fc1", Linear(widths.conv2 * side * side, widths.hidden));
  fc2 = register_module("fc2", Linear(widths.hidden, spec.num_classes));
}

torch::Tensor LeNetFilterImpl::forward(torch::Tensor images) {
  // The filter's layers are so small that dispatch dominates: one fused op where it is equivalent.
  if (fused_filter_applies(*this, images)) return fused_filter_forward(*this, images);
  auto x = pool2(torch::relu(conv1->forward(images)));  // [N, conv1, 7, 7] for 28x28
  x = pool2(torch::relu(conv2->forward(x)));            // [N, conv2, 2, 2]
  x = torch::relu(fc1->forward(x.flatten(1)));
  return fc2->forward(x);
}

}  // namespace skiptrain::nn
