// skiptrain's Conv2d layer.
#include "skiptrain/nn/conv2d.h"

#include "skiptrain/cost/recorder.h"
#include "skiptrain/ops/emp_conv2d.h"
#include "skiptrain/ops/select_channels.h"

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
  const auto x = quantize_operand(input, quant);
  const auto w = quantize_operand(weight, quant);
  torch::Tensor output;
  if (emp.keep < 1.0 && is_training() && at::GradMode::is_enabled()) {
    output = skiptrain::emp_conv2d(x, w, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt,
                                   {options.stride, options.stride}, {options.padding, options.padding},
                                   {options.dilation, options.dilation}, options.groups, emp.keep, emp.gamma1,
                                   emp.gamma2, emp.sample);
  } else {
    output = at::conv2d(x, w, bias, {options.stride, options.stride}, {options.padding, options.padding},
                        {options.dilation, options.dilation}, options.groups);
  }
  cost::ShapeRecorder::record(this, "conv2d", input, weight, output, options.groups, quant.operand_width(),
                              quant.error_width());
  return quantize_error(output, quant);
}

double Conv2dImpl::kept_fraction() const {
  if (emp.keep >= 1.0) return 1.0;
  return static_cast<double>(skiptrain::kept_channels(options.out_channels, emp.keep)) /
         static_cast<double>(options.out_channels);
}

double Conv2dImpl::selection_macs_per_instance(int64_t h_out, int64_t w_out) const {
  if (kept_fraction() >= 1.0) return 0.0;
  return static_cast<double>(options.out_channels) * static_cast<double>(h_out) * static_cast<double>(w_out);
}

double Conv2dImpl::selection_macs_per_batch() const {
  if (kept_fraction() >= 1.0 || emp.gamma1 == 0.0) return 0.0;
  return static_cast<double>(options.out_channels) * static_cast<double>(options.in_channels / options.groups) *
         static_cast<double>(options.kernel_size * options.kernel_size);
}

}  // namespace skiptrain::nn
