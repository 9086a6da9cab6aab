// CUDA kernels of skiptrain::max_pool2x2_with_codes and skiptrain::_max_pool2x2_backward, mirroring
// ops/cpu/max_pool2x2_kernel.cpp: one thread per output (its window's maximum under the rule of
// ops/cpu/window_max.h, and the int32 code 2 * dy + dx of its position), and one thread per input
// element in the backward (the gradient where the code points, zero elsewhere: no zero fill, no
// atomics). NCHW and channels-last, kept as they come.
#include "skiptrain/ops/max_pool2x2.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/NumericUtils.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/native/CanUse32BitIndexMath.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>

namespace skiptrain {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = int64_t{1} << 20;  // beyond, the kernels' grid-stride loops go round

int64_t block_count(int64_t total) { return std::min((total + kThreads - 1) / kThreads, kMaxBlocks); }

// The CPU rule (window_max.h): a later value wins only if strictly greater, or if it is NaN.
template <typename T>
__device__ __forceinline__ void fold(T v, int32_t k, T& m, int32_t& code) {
  using acc_t = at::opmath_type<T>;
  if (static_cast<acc_t>(v) > static_cast<acc_t>(m) || at::_isnan(v)) {
    m = v;
    code = k;
  }
}

// Output o of [N, C, H/2, W/2] (NCHW) or [N, H/2, W/2, C] (channels-last), in memory order.
template <typename T, typename index_t, bool channels_last>
__global__ void pool_forward(const T* __restrict__ x, T* __restrict__ out, int32_t* __restrict__ codes,
                             index_t channels, index_t height, index_t width, index_t out_h, index_t out_w,
                             index_t total) {
  const index_t stride = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t o = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < total; o += stride) {
    index_t first, dx, dy;  // the window's first element, and its steps right and down
    if (channels_last) {
      const index_t c = o % channels, t = o / channels, ow = t % out_w, oh = t / out_w % out_h,
                    n = t / out_w / out_h;
      first = ((n * height + 2 * oh) * width + 2 * ow) * channels + c;
      dx = channels;
      dy = width * channels;
    } else {
      const index_t ow = o % out_w, oh = o / out_w % out_h, p = o / out_w / out_h;
      first = (p * height + 2 * oh) * width + 2 * ow;
      dx = 1;
      dy = width;
    }
    T m = x[first];
    int32_t code = 0;
    fold(x[first + dx], 1, m, code);
    fold(x[first + dy], 2, m, code);
    fold(x[first + dy + dx], 3, m, code);
    out[o] = m;
    codes[o] = code;
  }
}

// Input element i of [N, C, H, W] (NCHW) or [N, H, W, C] (channels-last), in memory order: the
// gradient of its window if the window's code points at it, else +0; rows and columns the floor
// drops belong to no window and get 0.
template <typename T, typename index_t, bool channels_last>
__global__ void pool_backward(const T* __restrict__ grad, const int32_t* __restrict__ codes, T* __restrict__ gx,
                              index_t channels, index_t height, index_t width, index_t out_h, index_t out_w,
                              index_t total) {
  const index_t stride = static_cast<index_t>(gridDim.x) * blockDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    index_t c = 0, w, h, p;  // p: the plane (NCHW) or the image (channels-last)
    if (channels_last) {
      c = i % channels;
      const index_t t = i / channels;
      w = t % width;
      h = t / width % height;
      p = t / width / height;
    } else {
      w = i % width;
      h = i / width % height;
      p = i / width / height;
    }
    T g = T(0);
    if (h < 2 * out_h && w < 2 * out_w) {
      const index_t cell = (p * out_h + h / 2) * out_w + w / 2;
      const index_t window = channels_last ? cell * channels + c : cell;
      if (codes[window] == 2 * (h % 2) + w % 2) g = grad[window];
    }
    gx[i] = g;
  }
}

template <typename T, typename index_t>
void launch_forward(const at::Tensor& x, at::Tensor& out, at::Tensor& codes, bool channels_last,
                    cudaStream_t stream) {
  const auto total = static_cast<index_t>(out.numel());
  const index_t c = x.size(1), h = x.size(2), w = x.size(3), oh = out.size(2), ow = out.size(3);
  const auto kernel = channels_last ? pool_forward<T, index_t, true> : pool_forward<T, index_t, false>;
  kernel<<<static_cast<unsigned>(block_count(total)), kThreads, 0, stream>>>(
      x.data_ptr<T>(), out.data_ptr<T>(), codes.data_ptr<int32_t>(), c, h, w, oh, ow, total);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T, typename index_t>
void launch_backward(const at::Tensor& grad, const at::Tensor& codes, at::Tensor& gx, bool channels_last,
                     cudaStream_t stream) {
  const auto total = static_cast<index_t>(gx.numel());
  const index_t c = gx.size(1), h = gx.size(2), w = gx.size(3), oh = codes.size(2), ow = codes.size(3);
  const auto kernel = channels_last ? pool_backward<T, index_t, true> : pool_backward<T, index_t, false>;
  kernel<<<static_cast<unsigned>(block_count(total)), kThreads, 0, stream>>>(
      grad.data_ptr<T>(), codes.data_ptr<int32_t>(), gx.data_ptr<T>(), c, h, w, oh, ow, total);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

std::tuple<at::Tensor, at::Tensor> max_pool2x2_with_codes_cuda(const at::Tensor& x) {
  detail::check_max_pool2x2_input(x);
  TORCH_CHECK_TYPE(at::isFloatingType(x.scalar_type()), "max_pool2x2: x must be floating point, got ", x.scalar_type());
  const c10::cuda::CUDAGuard guard(x.device());
  const auto format = x.suggest_memory_format();
  const auto input = x.contiguous(format);
  const int64_t n = x.size(0), channels = x.size(1), out_h = x.size(2) / 2, out_w = x.size(3) / 2;
  auto output = at::empty({n, channels, out_h, out_w}, x.options().memory_format(format));
  auto codes = at::empty({n, channels, out_h, out_w}, x.options().dtype(at::kInt).memory_format(format));
  if (output.numel() == 0) return {output, codes};
  const bool channels_last = format == at::MemoryFormat::ChannelsLast;
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "max_pool2x2_cuda", [&] {
    if (at::native::canUse32BitIndexMath(input))
      launch_forward<scalar_t, int32_t>(input, output, codes, channels_last, stream);
    else
      launch_forward<scalar_t, int64_t>(input, output, codes, channels_last, stream);
  });
  return {output, codes};
}

at::Tensor max_pool2x2_backward_cuda(const at::Tensor& grad_output, const at::Tensor& codes, int64_t height,
                                     int64_t width) {
  detail::check_max_pool2x2_backward_args(grad_output, codes, height, width);
  TORCH_CHECK_TYPE(at::isFloatingType(grad_output.scalar_type()),
                   "_max_pool2x2_backward: grad_output must be floating point, got ", grad_output.scalar_type());
  const c10::cuda::CUDAGuard guard(grad_output.device());
  // Where both layouts fit (C = 1, or 1x1 outputs) they order the elements alike.
  const auto format = codes.is_contiguous() ? at::MemoryFormat::Contiguous : at::MemoryFormat::ChannelsLast;
  const auto grad = grad_output.contiguous(format);
  auto grad_input =
      at::empty({codes.size(0), codes.size(1), height, width}, grad_output.options().memory_format(format));
  if (grad_input.numel() == 0) return grad_input;
  const bool channels_last = format == at::MemoryFormat::ChannelsLast;
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "max_pool2x2_backward_cuda", [&] {
    if (at::native::canUse32BitIndexMath(grad_input))
      launch_backward<scalar_t, int32_t>(grad, codes, grad_input, channels_last, stream);
    else
      launch_backward<scalar_t, int64_t>(grad, codes, grad_input, channels_last, stream);
  });
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(skiptrain, CUDA, m) {
  m.impl("max_pool2x2_with_codes", max_pool2x2_with_codes_cuda);
  m.impl("_max_pool2x2_backward", max_pool2x2_backward_cuda);
}

}  // namespace skiptrain
