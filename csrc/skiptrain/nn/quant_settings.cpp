// set_quant and the layer-side helpers of quantized training.
#include "skiptrain/nn/quant_settings.h"

#include "skiptrain/nn/conv2d.h"
#include "skiptrain/nn/linear.h"
#include "skiptrain/ops/quantize.h"

#include <ATen/core/grad_mode.h>

namespace skiptrain::nn {

void check_quant_settings(const QuantSettings& settings, const char* bits_name, const char* grad_bits_name) {
  const auto in_range = [](int64_t bits) { return bits >= kMinQuantBits && bits <= kMaxQuantBits; };
  TORCH_CHECK_VALUE(!settings.quantizes_operands() || in_range(settings.bits), bits_name, " must be between ",
                    kMinQuantBits, " and ", kMaxQuantBits, ", or ", kFloatBits, " for float; got ", settings.bits);
  TORCH_CHECK_VALUE(!settings.quantizes_errors() || in_range(settings.grad_bits), grad_bits_name, " must be between ",
                    kMinQuantBits, " and ", kMaxQuantBits, ", or 0 for float error maps; got ", settings.grad_bits);
}

torch::Tensor quantize_operand(const torch::Tensor& x, const QuantSettings& settings) {
  return settings.quantizes_operands() ? skiptrain::quantize(x, settings.bits, /*stochastic=*/false) : x;
}

torch::Tensor quantize_error(const torch::Tensor& output, const QuantSettings& settings) {
  if (!settings.quantizes_errors() || !output.requires_grad() || !at::GradMode::is_enabled()) return output;
  return skiptrain::quantize_grad(output, settings.grad_bits);
}

void set_quant(torch::nn::Module& model, const QuantSettings& settings) {
  check_quant_settings(settings);
  auto visit = [&](torch::nn::Module& module) {
    if (auto* conv = dynamic_cast<Conv2dImpl*>(&module)) conv->quant = settings;
    if (auto* linear = dynamic_cast<LinearImpl*>(&module)) linear->quant = settings;
  };
  visit(model);
  for (const auto& item : model.named_modules("", /*include_self=*/false)) visit(*item.value());
}

}  // namespace skiptrain::nn
