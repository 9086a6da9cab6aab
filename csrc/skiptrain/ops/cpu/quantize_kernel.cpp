// CPU kernels of skiptrain::quantize (one min/max reduction, then one fused, parallel
// round-and-rescale pass) and of skiptrain::quantize_grad's forward (a copy).
#include "skiptrain/ops/quantize.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <cmath>

namespace skiptrain {
namespace {

template <typename T>
void round_to_levels(const T* x, const T* noise, T* out, int64_t n, double lo, double step, double levels) {
  const double inv_step = 1.0 / step;
  at::parallel_for(0, n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double offset = noise != nullptr ? static_cast<double>(noise[i]) : 0.5;
      double q = std::floor((static_cast<double>(x[i]) - lo) * inv_step + offset);
      q = q < 0 ? 0 : (q > levels ? levels : q);
      out[i] = static_cast<T>(lo + q * step);
    }
  });
}

at::Tensor quantize_cpu(const at::Tensor& x, int64_t bits, bool stochastic) {
  check_quant_bits(bits, "quantize: bits");
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), "quantize: x must be floating point, got ", x.scalar_type());
  const auto input = x.contiguous(x.suggest_memory_format());
  if (input.numel() == 0) return input.clone();
  const auto range = at::aminmax(input);
  const double lo = std::get<0>(range).item<double>();
  const double hi = std::get<1>(range).item<double>();
  // A constant tensor is exactly representable; a non-finite one is passed on for the caller's NaN check.
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(hi > lo)) return input.clone();
  const double levels = std::ldexp(1.0, static_cast<int>(bits)) - 1.0;
  const double step = (hi - lo) / levels;
  auto out = at::empty_like(input);
  const auto noise = stochastic ? at::rand_like(input) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "quantize_cpu", [&] {
    round_to_levels<scalar_t>(input.data_ptr<scalar_t>(), stochastic ? noise.data_ptr<scalar_t>() : nullptr,
                              out.data_ptr<scalar_t>(), input.numel(), lo, step, levels);
  });
  return out;
}

at::Tensor quantize_grad_forward_cpu(const at::Tensor& x, int64_t bits) {
  check_quant_bits(bits, "quantize_grad: bits");
  return x.clone();
}

}  // namespace

TORCH_LIBRARY_IMPL(skiptrain, CPU, m) {
  m.impl("quantize", quantize_cpu);
  m.impl("quantize_grad", quantize_grad_forward_cpu);
}

}  // namespace skiptrain
