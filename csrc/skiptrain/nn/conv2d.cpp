// skiptrain's Conv2d layer.
#include "skiptrain/nn/conv2d.h"

#include "skiptrain/cost/recorder.h"

#include <torch/torch.h>

#include <cmath>

namespace skiptrain::nn {

Conv2dImpl::Conv2dImpl(Conv2dOptions options_) : options(std::move(options_)) { reset(); }

void Conv2dImpl::reset() {
  TORCH_CHECK(options.in_channels > 0 && options.out_channels > 0 && options.kernel_size > 0,
              "Conv2d: channels and kernel_size must be positive");
  TORCH_CHECK(options.groups > 0 && options.in_channels % options.groups == 0 &&
                  options.out_channels % options.groups == 0,
              "Conv2d: groups (", options.groups, ") must divide in_channels (", options.in_channels,
              ") and out_channels (", options.out_channels, ")");
  weight = register_parameter(
      "weight", torch::empty({options.out_channels, options.in_channels / options.groups, options.kernel_size,
                              options.kernel_size}));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (options.bias) {
    const double fan_in = static_cast<double>(weight.size(1) * weight.size(2) * weight.size(3));
    const double bound = 1.0 / std::sqrt(fan_in);
    bias = register_parameter("bias", torch::empty({options.out_channels}));
    torch::nn::init::uniform_(bias, -bound, bound);
  } else {
    bias = torch::Tensor();
  }
}

torch::Tensor Conv2dImpl::forward(const torch::Tensor& input) {
  auto output = at::conv2d(input, weight, bias, {options.stride, options.stride},
                           {options.padding, options.padding}, {options.dilation, options.dilation}, options.groups);
  cost::ShapeRecorder::record(this, "conv2d", input, weight, output, options.groups);
  return output;
}

}  // namespace skiptrain::nn
