// CPU kernels of skiptrain::max_pool2x2_with_codes (one pass: each output's maximum and its
// window position, 0..3, as an int32) and skiptrain::_max_pool2x2_backward (each input element
// written once: the gradient where the code points, zero elsewhere; no zero fill, no scatter).
// Both NCHW (parallel over the N*C planes) and channels-last (parallel over the output rows).
#include "skiptrain/ops/max_pool2x2.h"

#include "skiptrain/ops/cpu/window_max.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>

namespace skiptrain {
namespace {

using cpu::fold;
using cpu::select;

// Elements per parallel chunk: below this, thread start-up costs more than the work.
constexpr int64_t kGrainElements = 1 << 14;

// One [H, W] plane -> [H/2, W/2] maxima and codes.
template <typename T>
void forward_plane(const T* __restrict x, T* __restrict out, int32_t* __restrict codes, int64_t width,
                   int64_t out_h, int64_t out_w) {
  for (int64_t oh = 0; oh < out_h; ++oh) {
    const T* r0 = x + 2 * oh * width;
    const T* r1 = r0 + width;
    for (int64_t ow = 0; ow < out_w; ++ow) {
      T m = r0[2 * ow];
      int32_t code = 0;
      fold(r0[2 * ow + 1], 1, m, code);
      fold(r1[2 * ow], 2, m, code);
      fold(r1[2 * ow + 1], 3, m, code);
      out[oh * out_w + ow] = m;
      codes[oh * out_w + ow] = code;
    }
  }
}

// One output row of a channels-last map: input rows [W, C] 2*oh and 2*oh+1 -> [W/2, C].
template <typename T>
void forward_row_nhwc(const T* __restrict r0, const T* __restrict r1, T* __restrict out,
                      int32_t* __restrict codes, int64_t channels, int64_t out_w) {
  for (int64_t ow = 0; ow < out_w; ++ow) {
    const T* a = r0 + 2 * ow * channels;
    const T* b = r1 + 2 * ow * channels;
    T* o = out + ow * channels;
    int32_t* k = codes + ow * channels;
    for (int64_t c = 0; c < channels; ++c) {
      T m = a[c];
      int32_t code = 0;
      fold(a[channels + c], 1, m, code);
      fold(b[c], 2, m, code);
      fold(b[channels + c], 3, m, code);
      o[c] = m;
      k[c] = code;
    }
  }
}

// g where the code points at window position k, else +0.0.
template <typename T>
inline T grad_if(T g, int32_t code, int32_t k) {
  return select(code == k, g, T(0));
}

// One [H/2, W/2] gradient plane -> the [H, W] input gradient plane.
template <typename T>
void backward_plane(const T* __restrict grad, const int32_t* __restrict codes, T* __restrict gx, int64_t height,
                    int64_t width, int64_t out_h, int64_t out_w) {
  for (int64_t oh = 0; oh < out_h; ++oh) {
    T* r0 = gx + 2 * oh * width;
    T* r1 = r0 + width;
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const T g = grad[oh * out_w + ow];
      const int32_t code = codes[oh * out_w + ow];
      r0[2 * ow] = grad_if(g, code, 0);
      r0[2 * ow + 1] = grad_if(g, code, 1);
      r1[2 * ow] = grad_if(g, code, 2);
      r1[2 * ow + 1] = grad_if(g, code, 3);
    }
    if (width % 2) r0[width - 1] = r1[width - 1] = T(0);
  }
  if (height % 2) std::fill_n(gx + (height - 1) * width, width, T(0));
}

// One output row of a channels-last gradient -> input gradient rows 2*oh and 2*oh+1 ([W, C] each).
template <typename T>
void backward_row_nhwc(const T* __restrict grad, const int32_t* __restrict codes, T* __restrict r0,
                       T* __restrict r1, int64_t channels, int64_t width, int64_t out_w) {
  for (int64_t ow = 0; ow < out_w; ++ow) {
    const T* g = grad + ow * channels;
    const int32_t* k = codes + ow * channels;
    T* a = r0 + 2 * ow * channels;
    T* b = r1 + 2 * ow * channels;
    for (int64_t c = 0; c < channels; ++c) {
      a[c] = grad_if(g[c], k[c], 0);
      a[channels + c] = grad_if(g[c], k[c], 1);
      b[c] = grad_if(g[c], k[c], 2);
      b[channels + c] = grad_if(g[c], k[c], 3);
    }
  }
  if (width % 2) {
    std::fill_n(r0 + (width - 1) * channels, channels, T(0));
    std::fill_n(r1 + (width - 1) * channels, channels, T(0));
  }
}

// Chunk size, in units of `unit` elements each, that gives every parallel chunk kGrainElements.
int64_t grain(int64_t unit) { return std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, unit)); }

std::tuple<at::Tensor, at::Tensor> max_pool2x2_with_codes_cpu(const at::Tensor& x) {
  detail::check_max_pool2x2_input(x);
  TORCH_CHECK_TYPE(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
                   "max_pool2x2: x must be float32 or float64, got ", x.scalar_type());
  const auto format = x.suggest_memory_format();
  const auto input = x.contiguous(format);
  const int64_t n = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  const int64_t out_h = height / 2, out_w = width / 2;
  auto output = at::empty({n, channels, out_h, out_w}, x.options().memory_format(format));
  auto codes = at::empty({n, channels, out_h, out_w}, x.options().dtype(at::kInt).memory_format(format));
  if (output.numel() == 0) return {output, codes};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "max_pool2x2_cpu", [&] {
    const scalar_t* in = input.data_ptr<scalar_t>();
    scalar_t* out = output.data_ptr<scalar_t>();
    int32_t* code = codes.data_ptr<int32_t>();
    if (format == at::MemoryFormat::ChannelsLast) {
      // Output row r = (n, oh) reads input rows 2*oh, 2*oh+1 of image n.
      at::parallel_for(0, n * out_h, grain(2 * width * channels), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const scalar_t* r0 = in + ((r / out_h) * height + 2 * (r % out_h)) * width * channels;
          forward_row_nhwc(r0, r0 + width * channels, out + r * out_w * channels, code + r * out_w * channels,
                           channels, out_w);
        }
      });
    } else {
      at::parallel_for(0, n * channels, grain(height * width), [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p)
          forward_plane(in + p * height * width, out + p * out_h * out_w, code + p * out_h * out_w, width, out_h,
                        out_w);
      });
    }
  });
  return {output, codes};
}

at::Tensor max_pool2x2_backward_cpu(const at::Tensor& grad_output, const at::Tensor& codes, int64_t height,
                                    int64_t width) {
  detail::check_max_pool2x2_backward_args(grad_output, codes, height, width);
  TORCH_CHECK_TYPE(grad_output.scalar_type() == at::kFloat || grad_output.scalar_type() == at::kDouble,
                   "_max_pool2x2_backward: grad_output must be float32 or float64, got ", grad_output.scalar_type());
  // Where both layouts fit (C = 1, or 1x1 outputs) they order the elements alike.
  const auto format = codes.is_contiguous() ? at::MemoryFormat::Contiguous : at::MemoryFormat::ChannelsLast;
  const auto grad = grad_output.contiguous(format);
  const int64_t n = codes.size(0), channels = codes.size(1), out_h = codes.size(2), out_w = codes.size(3);
  auto grad_input = at::empty({n, channels, height, width}, grad_output.options().memory_format(format));
  if (grad_input.numel() == 0) return grad_input;
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "max_pool2x2_backward_cpu", [&] {
    const scalar_t* g = grad.data_ptr<scalar_t>();
    const int32_t* code = codes.data_ptr<int32_t>();
    scalar_t* gx = grad_input.data_ptr<scalar_t>();
    if (format == at::MemoryFormat::ChannelsLast) {
      at::parallel_for(0, n * out_h, grain(2 * width * channels), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const int64_t image = r / out_h, oh = r % out_h;
          scalar_t* r0 = gx + (image * height + 2 * oh) * width * channels;
          backward_row_nhwc(g + r * out_w * channels, code + r * out_w * channels, r0, r0 + width * channels,
                            channels, width, out_w);
          // An odd height's last row belongs to no window: the image's last output row zeroes it.
          if (height % 2 && oh == out_h - 1)
            std::fill_n(gx + (image * height + height - 1) * width * channels, width * channels, scalar_t(0));
        }
      });
    } else {
      at::parallel_for(0, n * channels, grain(height * width), [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p)
          backward_plane(g + p * out_h * out_w, code + p * out_h * out_w, gx + p * height * width, height, width,
                         out_h, out_w);
      });
    }
  });
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(skiptrain, CPU, m) {
  m.impl("max_pool2x2_with_codes", max_pool2x2_with_codes_cpu);
  m.impl("_max_pool2x2_backward", max_pool2x2_backward_cpu);
}

}  // namespace skiptrain
