// skiptrain's 2-d convolution layer: same parameters and state_dict keys as
// torch.nn.Conv2d ("weight", "bias"), reports its shapes to the cost ledger, and is
// the layer that Error Map Pruning and quantization configure.
#pragma once

#include "skiptrain/nn/quant_settings.h"
#include "skiptrain/ops/emp_conv2d.h"

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace skiptrain::nn {

// Geometry of a Conv2d; square kernels, strides, paddings and dilations.
struct Conv2dOptions {
  Conv2dOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels(in_channels), out_channels(out_channels), kernel_size(kernel_size) {}
  int64_t in_channels;
  int64_t out_channels;
  int64_t kernel_size;
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = true;

  Conv2dOptions& with_stride(int64_t v) { stride = v; return *this; }
  Conv2dOptions& with_padding(int64_t v) { padding = v; return *this; }
  Conv2dOptions& with_dilation(int64_t v) { dilation = v; return *this; }
  Conv2dOptions& with_groups(int64_t v) { groups = v; return *this; }
  Conv2dOptions& with_bias(bool v) { bias = v; return *this; }
};

// Error Map Pruning settings of one Conv2d (see ops/emp_conv2d.h). keep = 1: dense backward.
// The score is gamma1*||W_j||_1/mean + gamma2*||delta_j||_1/mean (each term mean-normalised).
// sample: draw the kept channels in proportion to their scores, gradients scaled by 1 / probability
// (unbiased), instead of keeping the best scorers.
struct EmpSettings {
  double keep = 1.0;
  double gamma1 = skiptrain::kDefaultGamma1;
  double gamma2 = skiptrain::kDefaultGamma2;
  bool sample = false;
};

class Conv2dImpl : public torch::nn::Cloneable<Conv2dImpl> {
 public:
  explicit Conv2dImpl(Conv2dOptions options);
  // (Re)initialises weight and bias as torch.nn.Conv2d does (Kaiming-uniform, a = sqrt(5)).
  void reset() override;
  // input [N, C_in, H, W] -> [N, C_out, H_out, W_out]
  // Uses skiptrain::emp_conv2d (pruned backward) when emp.keep < 1, grad mode is on and the module
  // is training; otherwise the plain at::conv2d. With `quant` set, input and weight are quantized
  // first and the error map in backward too (see nn/quant_settings.h).
  torch::Tensor forward(const torch::Tensor& input);

  // Fraction of output channels whose backward runs: ceil(keep*C_out)/C_out (at least 1 channel), 1 if dense.
  double kept_fraction() const;
  // Channel-selection cost per instance (|x| adds of the L1 norm of the error map): C_out*H_out*W_out,
  // 0 when dense. Count it for every instance that trains through this layer.
  double selection_macs_per_instance(int64_t h_out, int64_t w_out) const;
  // Channel-selection cost per batch (L1 norm of the weights): C_out*C_in/groups*k*k, 0 when dense.
  double selection_macs_per_batch() const;

  Conv2dOptions options;
  torch::Tensor weight;  // [C_out, C_in/groups, k, k]
  torch::Tensor bias;    // [C_out] or undefined
  EmpSettings emp;       // dense unless configured (see nn/emp_settings.h)
  QuantSettings quant;   // float unless configured (see nn/quant_settings.h)
};
TORCH_MODULE(Conv2d);

}  // namespace skiptrain::nn
