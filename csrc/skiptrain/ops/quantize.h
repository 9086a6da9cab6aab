// Range-based linear quantization for 8-bit training (Banner et al., NeurIPS 2018, the
// scheme E2-Train and the paper use): skiptrain::quantize rounds a tensor onto 2^bits
// evenly spaced levels spanning its own [min, max] and returns it as float ("fake"
// quantization: the arithmetic that follows runs in float, only the values are b-bit);
// its gradient is the straight-through estimator. skiptrain::quantize_grad is the
// identity in the forward pass and quantizes the gradient flowing back through it
// (the error map) with stochastic rounding.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace skiptrain {

// Widths the quantizers accept; 32 (float, no quantizer) is handled by the layers, not here.
constexpr int64_t kMinQuantBits = 2;
constexpr int64_t kMaxQuantBits = 16;

// Throws (naming `what`, e.g. "bits" or "--quant-bits") unless kMinQuantBits <= bits <= kMaxQuantBits.
void check_quant_bits(int64_t bits, const char* what);

// x rounded onto the 2^bits levels  min(x) + q * (max(x) - min(x)) / (2^bits - 1),  q = 0 .. 2^bits-1:
// to the nearest level, or stochastically (up with probability equal to the fractional part, so
// the result is unbiased; the device's default generator draws the noise). A constant tensor is returned
// unchanged. Same shape, dtype and memory format as x. Gradient: straight-through (identity).
at::Tensor quantize(const at::Tensor& x, int64_t bits, bool stochastic);

// Forward: a copy of x. Backward: quantize(grad, bits, stochastic = true).
at::Tensor quantize_grad(const at::Tensor& x, int64_t bits);

namespace detail {
// The checks every quantize kernel starts with: bits in range, x floating point.
void check_quantize_args(const at::Tensor& x, int64_t bits);
}  // namespace detail

}  // namespace skiptrain
