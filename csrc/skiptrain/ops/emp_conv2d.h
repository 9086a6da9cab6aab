// Error Map Pruning convolution: skiptrain::emp_conv2d is an ordinary 2-d convolution
// forward whose backward (skiptrain::_emp_conv2d_backward) only computes the gradients of
// the best-scoring output channels (see select_channels.h); pruned filters get exactly zero
// gradient. Both are dispatcher ops: C++, Python and TorchScript share one autograd.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/Optional.h>

#include <array>
#include <tuple>

namespace skiptrain {

// Default score weights (each term is mean-normalised, see select_channels.h): the filter's
// weight norm and the batch's error-map norm count equally.
constexpr double kDefaultGamma1 = 1.0;
constexpr double kDefaultGamma2 = 1.0;

// conv2d(input [N, C_in, H, W], weight [C_out, C_in/groups, kh, kw], bias [C_out]?) ->
// [N, C_out, H_out, W_out]; in backward only ceil(keep*C_out) channels get gradients.
// keep = 1 is the dense convolution (and its dense backward). sample = false keeps the best-scoring
// channels (select_channels, the paper's rule); true draws them in proportion to their scores and
// scales their gradients by 1 / probability (sample_channels): unbiased, noisier.
at::Tensor emp_conv2d(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                      c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups,
                      double keep, double gamma1 = kDefaultGamma1, double gamma2 = kDefaultGamma2, bool sample = false);

// The pruned backward: (grad_input, grad_weight, grad_bias); an entry whose output_mask is false is
// undefined. grad_weight rows and grad_bias entries of pruned channels are zero.
std::tuple<at::Tensor, at::Tensor, at::Tensor> _emp_conv2d_backward(const at::Tensor& grad_output,
                                                                    const at::Tensor& input, const at::Tensor& weight,
                                                                    c10::IntArrayRef stride, c10::IntArrayRef padding,
                                                                    c10::IntArrayRef dilation, int64_t groups,
                                                                    double keep, double gamma1, double gamma2,
                                                                    bool sample, std::array<bool, 3> output_mask);

// True when the CPU pruned backward of a float32 conv with these settings has a kernel for
// channels-last tensors on this CPU, so a channels-last model stays channels-last through it
// (otherwise its tensors are converted to NCHW for the pruned backward).
bool emp_backward_keeps_channels_last(int64_t in_channels, int64_t kernel_h, int64_t kernel_w, c10::IntArrayRef stride,
                                      c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups);

namespace detail {
// Checks shapes, dtypes, devices and settings; every message names the argument.
void check_emp_conv2d_args(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                           c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
                           int64_t groups, double keep, double gamma1, double gamma2);

// check_emp_conv2d_args, and grad_output: [N, C_out, H_out, W_out] of input's dtype and device.
void check_emp_conv2d_backward_args(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
                                    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
                                    int64_t groups, double keep, double gamma1, double gamma2);

// The start every _emp_conv2d_backward kernel shares: checks the arguments and, when keep leaves
// every channel (kept_channels(C_out, keep) == C_out), returns ATen's dense backward; otherwise
// nothing, and the kernel selects the kept channels and prunes.
c10::optional<std::tuple<at::Tensor, at::Tensor, at::Tensor>> emp_conv2d_backward_if_dense(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups, double keep, double gamma1, double gamma2,
    std::array<bool, 3> output_mask);

// The output channels one pruned backward keeps: select_channels' best scorers (scale undefined), or
// sample_channels' draw and each drawn channel's gradient scale (1 / its probability).
struct KeptChannels {
  at::Tensor index;  // int64 [K], ascending, on the tensors' device
  at::Tensor scale;  // [K] float32 (float64 for double), or undefined: every kept gradient as computed
};
KeptChannels kept_for_backward(const at::Tensor& grad_output, const at::Tensor& weight, double keep, double gamma1,
                               double gamma2, bool sample);

// The weight a pruned backward computes grad_input from: `weight` itself, or (sampled, and only when
// grad_input is wanted) a copy whose kept rows are multiplied by their scales, so that grad_input
// sums rot(W_j) * delta_j / p_j. Products are taken in the scale's precision (half and bfloat16 too).
at::Tensor weight_for_grad_input(const at::Tensor& weight, const KeptChannels& kept, bool grad_input_wanted);

// Multiplies the kept rows of grad_weight and entries of grad_bias (those defined) by their scales;
// nothing when kept.scale is undefined.
void scale_kept_gradients(const KeptChannels& kept, at::Tensor& grad_weight, at::Tensor& grad_bias);

// The device-generic pruned backward on checked arguments and the kept channels `idx` (int64,
// ascending, on the tensors' device): ATen's convolution backward on the gathered kept slice of
// grad_output and weight, scattered into zero-filled grad_weight / grad_bias; grad_input is
// ATen's. Gathers keep the memory format ATen's convolution picks (channels-last when input or
// weight is). Registered at CompositeExplicitAutograd (composite/emp_conv2d_kernel.cpp) and the
// CPU kernel's fallback.
std::tuple<at::Tensor, at::Tensor, at::Tensor> emp_conv2d_backward_sliced(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, const at::Tensor& idx,
    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups,
    std::array<bool, 3> output_mask);
}  // namespace detail

}  // namespace skiptrain
