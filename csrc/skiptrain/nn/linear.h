// skiptrain's fully connected layer: same parameters and state_dict keys as
// torch.nn.Linear, reports its shapes to the cost ledger, and is the layer that
// quantization configures.
#pragma once

#include "skiptrain/nn/quant_settings.h"

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace skiptrain::nn {

class LinearImpl : public torch::nn::Cloneable<LinearImpl> {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias = true);
  // (Re)initialises weight and bias as torch.nn.Linear does.
  void reset() override;
  // input [N, in] -> [N, out]; with `quant` set, input, weight and error map are quantized.
  torch::Tensor forward(const torch::Tensor& input);

  int64_t in_features;
  int64_t out_features;
  bool with_bias;
  torch::Tensor weight;  // [out, in]
  torch::Tensor bias;    // [out] or undefined
  QuantSettings quant;   // float unless configured (see nn/quant_settings.h)
};
TORCH_MODULE(Linear);

}  // namespace skiptrain::nn
