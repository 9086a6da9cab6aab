// 2x2 max pooling with stride 2 (floor mode, no padding), the pooling of LeNet-5 and the EIF
// filters: [N, C, H, W] -> [N, C, H/2, W/2]. On CPU float/double and on CUDA (built with CUDA) it
// is skiptrain's own op, one pass that also keeps a int32 argmax code per output for a scatter-free
// backward; torch 1.13's CPU max_pool2d takes as long as LeNet's convolutions. Other devices and
// dtypes use torch's max_pool2d.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>

namespace skiptrain {

// Equal to at::max_pool2d(x, {2, 2}, {2, 2}) in values (NaN propagates) and in gradient (ties: the
// first maximum in the order (0,0), (0,1), (1,0), (1,1) of the window gets it). x: [N, C, H, W],
// H, W >= 2, NCHW or channels-last (the output keeps it). Rows and columns dropped by the floor get
// zero gradient. Not twice differentiable.
at::Tensor max_pool2x2(const at::Tensor& x);

// The op behind max_pool2x2 (CPU: float/double; CUDA: any floating dtype): the output and, per
// output, the int32 code 2 * dy + dx of the maximum's position in its window, both
// [N, C, H/2, W/2] in x's memory format.
std::tuple<at::Tensor, at::Tensor> max_pool2x2_with_codes(const at::Tensor& x);

// Gradient of max_pool2x2_with_codes' output: [N, C, height, width] with grad_output (shaped like
// codes) at each window's coded position and zeros elsewhere, in codes' memory format.
at::Tensor _max_pool2x2_backward(const at::Tensor& grad_output, const at::Tensor& codes, int64_t height,
                                 int64_t width);

namespace detail {
// The shape checks every max_pool2x2_with_codes kernel starts with (x: [N, C, H, W], H, W >= 2);
// each kernel checks the dtypes it serves.
void check_max_pool2x2_input(const at::Tensor& x);

// The checks every _max_pool2x2_backward kernel starts with: codes int32 [N, C, height/2, width/2],
// NCHW- or channels-last-contiguous, on grad_output's device; grad_output shaped like codes.
void check_max_pool2x2_backward_args(const at::Tensor& grad_output, const at::Tensor& codes, int64_t height,
                                     int64_t width);
}  // namespace detail

}  // namespace skiptrain
