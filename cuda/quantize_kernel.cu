// CUDA kernel of skiptrain::quantize, mirroring ops/cpu/quantize_kernel.cpp: the range comes from
// ATen's aminmax and stays on the device (no host synchronisation), then one elementwise pass rounds
// onto the 2^bits levels, to the nearest level (float/double: the CPU kernel's arithmetic, bit for
// bit) or stochastically, with Philox noise from the device's default CUDA generator (graph-safe).
#include "skiptrain/ops/quantize.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/cuda/PhiloxUtils.cuh>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <curand_kernel.h>

#include <algorithm>
#include <mutex>

namespace skiptrain {
namespace {

constexpr int kThreads = 256;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Rounded on their own: nvcc would fuse a product and the sum after it into one FMA (one rounding),
// which the CPU kernel does not do, and a value near a level boundary could round the other way.
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div_rn(double a, double b) { return __ddiv_rn(a, b); }

// out[i] = lo + step * min(floor((x[i] - lo) / step + offset), levels), offset 0.5 (nearest) or
// uniform in [0, 1) (stochastic), lo and hi read from the device. Thread t handles elements t,
// t + stride, ... and draws their noise, one 32-bit Philox output each, from its own subsequence t.
template <typename T>
__global__ void round_to_levels(const T* __restrict__ x, T* __restrict__ out, int64_t n, const T* __restrict__ lo_ptr,
                                const T* __restrict__ hi_ptr, int32_t levels, bool stochastic,
                                at::PhiloxCudaState philox) {
  using acc_t = at::opmath_type<T>;  // T for float and double, as on the CPU; float for half types
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const acc_t lo = static_cast<acc_t>(*lo_ptr), hi = static_cast<acc_t>(*hi_ptr);
  // A constant tensor is exactly representable; a non-finite one is passed on for the caller's NaN check.
  if (!isfinite(lo) || !isfinite(hi) || !(hi > lo)) {
    for (int64_t i = first; i < n; i += stride) out[i] = x[i];
    return;
  }
  const acc_t step = static_cast<acc_t>((static_cast<double>(hi) - static_cast<double>(lo)) / levels);
  const acc_t inv_step = div_rn(acc_t(1), step);
  curandStatePhilox4_32_10_t state;
  if (stochastic) {
    const auto seeds = at::cuda::philox::unpack(philox);
    curand_init(std::get<0>(seeds), first, std::get<1>(seeds), &state);
  }
  for (int64_t i = first; i < n; i += stride) {
    // The CPU kernel's noise: 24 random bits, uniform in [0, 1).
    const acc_t offset =
        stochastic ? static_cast<acc_t>(static_cast<float>(curand(&state) >> 8) * (1.0f / 16777216.0f)) : acc_t(0.5);
    int32_t q = static_cast<int32_t>(mul_rn(static_cast<acc_t>(x[i]) - lo, inv_step) + offset);
    q -= static_cast<int32_t>(q > levels);
    out[i] = static_cast<T>(lo + mul_rn(static_cast<acc_t>(q), step));
  }
}

at::Tensor quantize_cuda(const at::Tensor& x, int64_t bits, bool stochastic) {
  detail::check_quantize_args(x, bits);
  const c10::cuda::CUDAGuard guard(x.device());
  const auto input = x.contiguous(x.suggest_memory_format());
  if (input.numel() == 0) return input.clone();
  const auto range = at::aminmax(input);  // two 0-dim tensors on the device
  auto out = at::empty_like(input);
  const int64_t n = input.numel();
  const auto* props = at::cuda::getCurrentDeviceProperties();
  const int64_t resident =
      static_cast<int64_t>(props->multiProcessorCount) * (props->maxThreadsPerMultiProcessor / kThreads);
  const int64_t blocks = std::max<int64_t>(1, std::min(ceil_div(n, kThreads), resident));
  at::PhiloxCudaState philox;
  if (stochastic) {
    auto* generator =
        at::check_generator<at::CUDAGeneratorImpl>(at::cuda::detail::getDefaultCUDAGenerator(x.device().index()));
    // See ATen's note [Acquire lock when using random generators].
    std::lock_guard<std::mutex> lock(generator->mutex_);
    philox = generator->philox_cuda_state(static_cast<uint64_t>(ceil_div(n, blocks * kThreads)));
  }
  const int32_t levels = (int32_t{1} << bits) - 1;
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "quantize_cuda", [&] {
    round_to_levels<scalar_t><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
        input.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), n, std::get<0>(range).data_ptr<scalar_t>(),
        std::get<1>(range).data_ptr<scalar_t>(), levels, stochastic, philox);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(skiptrain, CUDA, m) { m.impl("quantize", quantize_cuda); }

}  // namespace skiptrain
