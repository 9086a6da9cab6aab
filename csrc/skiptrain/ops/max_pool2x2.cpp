// Schemas, C++ API and argument checks of skiptrain::max_pool2x2_with_codes and
// skiptrain::_max_pool2x2_backward, and max_pool2x2, which picks that op or torch's max_pool2d; the
// kernels are in cpu/ and cuda/, the autograd wiring in autograd/.
#include "skiptrain/ops/max_pool2x2.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

namespace skiptrain {

namespace {

// True where skiptrain's op has a kernel for x: CPU float/double, and CUDA floating types when the
// library was built with its CUDA kernels.
bool own_kernel_serves(const at::Tensor& x) {
  const auto dtype = x.scalar_type();
  if (x.device().is_cpu()) return dtype == at::kFloat || dtype == at::kDouble;
  static const bool cuda_kernel = c10::Dispatcher::singleton()
                                      .findSchemaOrThrow("skiptrain::max_pool2x2_with_codes", "")
                                      .hasKernelForDispatchKey(c10::DispatchKey::CUDA);
  return x.is_cuda() && cuda_kernel && at::isFloatingType(dtype);
}

}  // namespace

at::Tensor max_pool2x2(const at::Tensor& x) {
  if (own_kernel_serves(x)) return std::get<0>(max_pool2x2_with_codes(x));
  return at::max_pool2d(x, {2, 2}, {2, 2});
}

std::tuple<at::Tensor, at::Tensor> max_pool2x2_with_codes(const at::Tensor& x) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skiptrain::max_pool2x2_with_codes", "")
                       .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&)>();
  return op.call(x);
}

at::Tensor _max_pool2x2_backward(const at::Tensor& grad_output, const at::Tensor& codes, int64_t height,
                                 int64_t width) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skiptrain::_max_pool2x2_backward", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t, int64_t)>();
  return op.call(grad_output, codes, height, width);
}

namespace detail {

void check_max_pool2x2_input(const at::Tensor& x) {
  TORCH_CHECK_VALUE(x.dim() == 4, "max_pool2x2: x must be [N, C, H, W], got shape ", x.sizes());
  TORCH_CHECK_VALUE(x.size(2) >= 2 && x.size(3) >= 2, "max_pool2x2: x's H and W must be at least 2, got shape ",
                    x.sizes());
}

void check_max_pool2x2_backward_args(const at::Tensor& grad_output, const at::Tensor& codes, int64_t height,
                                     int64_t width) {
  TORCH_CHECK_TYPE(codes.dim() == 4 && codes.scalar_type() == at::kInt,
                   "_max_pool2x2_backward: codes must be int32 [N, C, H/2, W/2], got ", codes.scalar_type(), " ",
                   codes.sizes());
  TORCH_CHECK_VALUE(grad_output.sizes() == codes.sizes(), "_max_pool2x2_backward: grad_output's shape ",
                    grad_output.sizes(), " must equal codes' ", codes.sizes());
  TORCH_CHECK_VALUE(codes.size(2) == height / 2 && codes.size(3) == width / 2, "_max_pool2x2_backward: codes ",
                    codes.sizes(), " do not pool an input of height ", height, " and width ", width);
  TORCH_CHECK_VALUE(codes.is_contiguous() || codes.is_contiguous(at::MemoryFormat::ChannelsLast),
                    "_max_pool2x2_backward: codes must be contiguous (NCHW or channels-last) as the forward made them");
  TORCH_CHECK_VALUE(codes.device() == grad_output.device(), "_max_pool2x2_backward: codes are on ", codes.device(),
                    " but grad_output on ", grad_output.device());
}

}  // namespace detail

TORCH_LIBRARY_FRAGMENT(skiptrain, m) {
  m.def("max_pool2x2_with_codes(Tensor x) -> (Tensor, Tensor)");
  m.def("_max_pool2x2_backward(Tensor grad_output, Tensor codes, int height, int width) -> Tensor");
}

}  // namespace skiptrain
