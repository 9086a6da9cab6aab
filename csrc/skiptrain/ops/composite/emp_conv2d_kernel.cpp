// Device-generic kernels of skiptrain::emp_conv2d (ATen's convolution) and of
// skiptrain::_emp_conv2d_backward (select or draw the kept channels, then ATen's convolution backward
// on the kept slice: never a mask; keep = 1 is ATen's dense backward), registered at
// CompositeExplicitAutograd: CUDA and every device without a kernel of its own run them. The CPU
// kernel (cpu/emp_conv2d_kernel.cpp) falls back to emp_conv2d_backward_sliced below.
#include "skiptrain/ops/emp_conv2d.h"

#include <ATen/ATen.h>
#include <torch/library.h>

#include <vector>

namespace skiptrain {
namespace {

// The layout ATen's convolution runs in (cuDNN's and oneDNN's rule): channels-last when input or
// weight is.
at::MemoryFormat conv_memory_format(const at::Tensor& input, const at::Tensor& weight) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  return input.suggest_memory_format() == cl || weight.suggest_memory_format() == cl ? cl
                                                                                      : at::MemoryFormat::Contiguous;
}

// t.index_select(dim, idx) laid out in `format`: index_select alone returns NCHW, which the
// convolution backward of a channels-last model would convert back (cuDNN is fastest channels-last).
at::Tensor index_select_as(const at::Tensor& t, int64_t dim, const at::Tensor& idx, at::MemoryFormat format) {
  auto sizes = t.sizes().vec();
  sizes[dim] = idx.numel();
  auto out = at::empty(sizes, t.options().memory_format(format));
  return at::index_select_out(out, t, dim, idx);
}

at::Tensor emp_conv2d_forward(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                              c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
                              int64_t groups, double keep, double gamma1, double gamma2, bool /*sample*/) {
  detail::check_emp_conv2d_args(input, weight, bias, stride, padding, dilation, groups, keep, gamma1, gamma2);
  return at::convolution(input, weight, bias, stride, padding, dilation, false, {0, 0}, groups);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> emp_conv2d_backward(const at::Tensor& grad_output,
                                                                   const at::Tensor& input, const at::Tensor& weight,
                                                                   c10::IntArrayRef stride, c10::IntArrayRef padding,
                                                                   c10::IntArrayRef dilation, int64_t groups,
                                                                   double keep, double gamma1, double gamma2,
                                                                   bool sample, std::array<bool, 3> output_mask) {
  if (auto dense = detail::emp_conv2d_backward_if_dense(grad_output, input, weight, stride, padding, dilation, groups,
                                                        keep, gamma1, gamma2, output_mask))
    return *dense;
  const auto kept = detail::kept_for_backward(grad_output, weight, keep, gamma1, gamma2, sample);
  auto [gi, gw, gb] = detail::emp_conv2d_backward_sliced(grad_output, input,
                                                         detail::weight_for_grad_input(weight, kept, output_mask[0]),
                                                         kept.index, stride, padding, dilation, groups, output_mask);
  detail::scale_kept_gradients(kept, gw, gb);
  return std::make_tuple(gi, gw, gb);
}

}  // namespace

namespace detail {

std::tuple<at::Tensor, at::Tensor, at::Tensor> emp_conv2d_backward_sliced(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, const at::Tensor& idx,
    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups,
    std::array<bool, 3> output_mask) {
  const auto format = conv_memory_format(input, weight);
  const std::array<bool, 3> mask = {output_mask[0], output_mask[1], false};  // grad_bias: from the slice, below
  const std::vector<int64_t> no_output_padding = {0, 0};
  const auto go = index_select_as(grad_output, 1, idx, format);  // [N, K, H_out, W_out]
  const auto w = index_select_as(weight, 0, idx, format);        // [K, C_in/groups, kh, kw]
  at::Tensor gi, gw, gb;
  if (output_mask[1]) gw = at::zeros_like(weight);
  if (output_mask[2]) gb = at::zeros({weight.size(0)}, weight.options()).index_copy_(0, idx, go.sum({0, 2, 3}));
  const int64_t co_per_group = weight.size(0) / groups, ci_per_group = weight.size(1);
  if (groups == 1 || co_per_group == 1) {
    // groups = 1: one convolution of the kept filters. One output channel per group (depthwise and
    // its multiples): kept channel j reads input channels [j*ci_per_group, (j+1)*ci_per_group), so
    // the kept channels form a smaller grouped convolution of those gathered input channels.
    at::Tensor in_idx;
    auto x = input;
    if (groups > 1) {
      in_idx = (idx.unsqueeze(1) * ci_per_group + at::arange(ci_per_group, idx.options()).unsqueeze(0)).reshape(-1);
      x = index_select_as(input, 1, in_idx, format);
    }
    auto r = at::convolution_backward(go, x, w, c10::nullopt, stride, padding, dilation, false, no_output_padding,
                                      groups == 1 ? 1 : idx.numel(), mask);
    if (output_mask[0])
      gi = groups == 1 ? std::get<0>(r) : at::zeros_like(input).index_copy_(1, in_idx, std::get<0>(r));
    if (output_mask[1]) gw.index_copy_(0, idx, std::get<1>(r));
    return std::make_tuple(gi, gw, gb);
  }
  // Several output channels per group: one groups = 1 convolution per group that has kept channels.
  // idx is ascending, so each group's kept channels are a run of it; the runs are found on the host
  // (for a CUDA idx, one device-to-host copy: no model of the zoo has such groups).
  if (output_mask[0]) gi = at::zeros_like(input);
  const auto host_idx = idx.cpu();
  const int64_t* ip = host_idx.data_ptr<int64_t>();
  const int64_t kept = idx.numel();
  for (int64_t begin = 0, end = 0; begin < kept; begin = end) {
    const int64_t g = ip[begin] / co_per_group;
    while (end < kept && ip[end] / co_per_group == g) ++end;
    auto r = at::convolution_backward(go.narrow(1, begin, end - begin), input.narrow(1, g * ci_per_group, ci_per_group),
                                      w.narrow(0, begin, end - begin), c10::nullopt, stride, padding, dilation, false,
                                      no_output_padding, 1, mask);
    if (output_mask[0]) gi.narrow(1, g * ci_per_group, ci_per_group).copy_(std::get<0>(r));
    if (output_mask[1]) gw.index_copy_(0, idx.narrow(0, begin, end - begin), std::get<1>(r));
  }
  return std::make_tuple(gi, gw, gb);
}

}  // namespace detail

TORCH_LIBRARY_IMPL(skiptrain, CompositeExplicitAutograd, m) {
  m.impl("emp_conv2d", emp_conv2d_forward);
  m.impl("_emp_conv2d_backward", emp_conv2d_backward);
}

}  // namespace skiptrain
