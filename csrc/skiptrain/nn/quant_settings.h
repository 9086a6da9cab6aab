// 8-bit quantized training settings of the Conv2d and Linear layers (method.md section 5):
// the layers quantize their input and weight to `bits` in the forward pass (gradient:
// straight-through) and, with grad_bits > 0, the error map flowing back into them to
// `grad_bits` with stochastic rounding. Biases and BatchNorm stay float (standard BN,
// not Banner's range BN). Configured on a whole model by set_quant.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>

namespace skiptrain::nn {

constexpr int64_t kFloatBits = 32;

struct QuantSettings {
  int64_t bits = kFloatBits;  // forward operands (activations, weights): 2..16, or 32 = float
  int64_t grad_bits = 0;      // error maps: 2..16, or 0 = float

  bool quantizes_operands() const { return bits != kFloatBits; }
  bool quantizes_errors() const { return grad_bits != 0; }
  // Operand widths the cost ledger prices: (forward operands, error maps).
  int64_t operand_width() const { return bits; }
  int64_t error_width() const { return quantizes_errors() ? grad_bits : kFloatBits; }
};

// Throws c10::Error naming `bits_name` / `grad_bits_name` when a width is out of range.
void check_quant_settings(const QuantSettings& settings, const char* bits_name = "bits",
                          const char* grad_bits_name = "grad_bits");

// The forward operand a quantized layer computes with: x itself when settings.bits is 32.
torch::Tensor quantize_operand(const torch::Tensor& x, const QuantSettings& settings);

// Wraps a layer's output so its gradient (the layer's error map) is quantized in backward;
// the output itself when grad_bits is 0 or no gradient will flow.
torch::Tensor quantize_error(const torch::Tensor& output, const QuantSettings& settings);

// Sets `settings` on every skiptrain Conv2d and Linear of `model`.
void set_quant(torch::nn::Module& model, const QuantSettings& settings);

}  // namespace skiptrain::nn
