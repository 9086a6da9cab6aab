// skiptrain's Linear layer.
#include "skiptrain/nn/linear.h"

#include "skiptrain/cost/recorder.h"

#include <torch/torch.h>

#include <cmath>

namespace skiptrain::nn {

LinearImpl::LinearImpl(int64_t in_features_, int64_t out_features_, bool bias_)
    : in_features(in_features_), out_features(out_features_), with_bias(bias_) {
  reset();
}

void LinearImpl::reset() {
  TORCH_CHECK(in_features > 0 && out_features > 0, "Linear: features must be positive, got ", in_features, " -> ",
              out_features);
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (with_bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    bias = register_parameter("bias", torch::empty({out_features}));
    torch::nn::init::uniform_(bias, -bound, bound);
  } else {
    bias = torch::Tensor();
  }
}

torch::Tensor LinearImpl::forward(const torch::Tensor& input) {
  auto output = at::linear(quantize_operand(input, quant), quantize_operand(weight, quant), bias);
  cost::ShapeRecorder::record(this, "linear", input, weight, output, 1, quant.operand_width(), quant.error_width());
  return quantize_error(output, quant);
}

}  // namespace skiptrain::nn
