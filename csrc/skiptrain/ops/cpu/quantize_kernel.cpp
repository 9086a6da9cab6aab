// CPU kernel of skiptrain::quantize: one min/max reduction, then one fused, parallel
// round-and-rescale pass (quantize_grad's forward, a copy, is in composite/).
#include "skiptrain/ops/quantize.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <mutex>

namespace skiptrain {
namespace {

// out[i] = lo + step * min(floor((x[i] - lo) / step + offset_i), levels), offset 0.5 (nearest) or
// uniform noise in [0, 1) (stochastic). x >= lo, so the floor's argument is >= 0 and truncation is floor;
// it stays below levels + 2, so the clamp is one branch-free subtraction. Both keep the loop
// vectorisable with plain SSE2 (std::floor and min/max would need SSE4.1 or fast-math); restrict
// pointers and by-value scalars do the rest.
template <typename T>
void round_nearest(const T* __restrict x, T* __restrict out, int64_t n, T lo, T step, int32_t levels) {
  const T inv_step = T(1) / step;
  for (int64_t i = 0; i < n; ++i) {
    int32_t q = static_cast<int32_t>((x[i] - lo) * inv_step + T(0.5));
    q -= static_cast<int32_t>(q > levels);
    out[i] = lo + static_cast<T>(q) * step;
  }
}

// A counter-based uniform in [0, 1) for element `index` of the call seeded with `seed` (two rounds of
// a 32-bit integer hash, "lowbias32"): as good as a sequential generator for rounding noise, but
// parallel and several times faster than drawing a noise tensor with at::rand_like.
inline float uniform_noise(uint64_t seed, int64_t index) {
  auto mix = [](uint32_t v) {
    v ^= v >> 16;
    v *= 0x7feb352du;
    v ^= v >> 15;
    v *= 0x846ca68bu;
    return v ^ (v >> 16);
  };
  const uint32_t h = mix(mix(static_cast<uint32_t>(index) + static_cast<uint32_t>(seed)) ^
                         static_cast<uint32_t>(seed >> 32) ^ static_cast<uint32_t>(index >> 32));
  return static_cast<float>(h >> 8) * (1.0f / 16777216.0f);
}

template <typename T>
void round_stochastic(const T* __restrict x, T* __restrict out, int64_t first, int64_t n, T lo, T step,
                      int32_t levels, uint64_t seed) {
  const T inv_step = T(1) / step;
  for (int64_t i = 0; i < n; ++i) {
    int32_t q = static_cast<int32_t>((x[i] - lo) * inv_step + static_cast<T>(uniform_noise(seed, first + i)));
    q -= static_cast<int32_t>(q > levels);
    out[i] = lo + static_cast<T>(q) * step;
  }
}

template <typename T>
void round_to_levels(const T* x, T* out, int64_t n, T lo, T step, int32_t levels, bool stochastic, uint64_t seed) {
  at::parallel_for(0, n, 1 << 15, [=](int64_t begin, int64_t end) {
    if (stochastic)
      round_stochastic(x + begin, out + begin, begin, end - begin, lo, step, levels, seed);
    else
      round_nearest(x + begin, out + begin, end - begin, lo, step, levels);
  });
}

// One draw from torch's default CPU generator per call: seeded runs and resumed checkpoints repeat.
uint64_t draw_seed() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
}

at::Tensor quantize_cpu(const at::Tensor& x, int64_t bits, bool stochastic) {
  detail::check_quantize_args(x, bits);
  const auto input = x.contiguous(x.suggest_memory_format());
  if (input.numel() == 0) return input.clone();
  const auto range = at::aminmax(input);
  const double lo = std::get<0>(range).item<double>();
  const double hi = std::get<1>(range).item<double>();
  // A constant tensor is exactly representable; a non-finite one is passed on for the caller's NaN check.
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(hi > lo)) return input.clone();
  const int32_t levels = (int32_t{1} << bits) - 1;
  const double step = (hi - lo) / levels;
  auto out = at::empty_like(input);
  const uint64_t seed = stochastic ? draw_seed() : 0;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "quantize_cpu", [&] {
    round_to_levels<scalar_t>(input.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), input.numel(),
                              static_cast<scalar_t>(lo), static_cast<scalar_t>(step), levels, stochastic, seed);
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(skiptrain, CPU, m) { m.impl("quantize", quantize_cpu); }

}  // namespace skiptrain
