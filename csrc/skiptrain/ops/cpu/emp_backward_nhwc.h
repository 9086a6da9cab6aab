// The channels-last path of the pruned conv backward on CPU (kernels: emp_conv2d_nhwc.h):
// when it applies, and the call that fills the kept-channel gradients.
#pragma once

#include <ATen/ATen.h>

#include <array>

namespace skiptrain::cpu {

// True when the NHWC kernels serve this conv: float32 CPU input stored channels-last, groups 1,
// stride 1, dilation 1, C_in a multiple of the vector width, kernel width 1, 3 or 5, and padding
// at most kernel - 1 (so the error map's border covers every tap).
bool nhwc_backward_applies(const at::Tensor& input, const at::Tensor& weight, c10::IntArrayRef stride,
                           c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups);

// Fills grad_input (channels-last, every element), and the rows `idx` of grad_weight and grad_bias
// (left untouched elsewhere), from the kept error-map channels `idx` only.
void nhwc_backward(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
                   const at::Tensor& idx, c10::IntArrayRef padding, std::array<bool, 3> mask, at::Tensor& grad_input,
                   at::Tensor& grad_weight, at::Tensor& grad_bias);

}  // namespace skiptrain::cpu
