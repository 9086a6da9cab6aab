// Schemas and C++ API of skiptrain::max_pool2x2_with_codes and skiptrain::_max_pool2x2_backward,
// and max_pool2x2, which picks that op or torch's max_pool2d; the kernels are in cpu/, the autograd
// wiring in autograd/.
#include "skiptrain/ops/max_pool2x2.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

namespace skiptrain {

at::Tensor max_pool2x2(const at::Tensor& x) {
  const auto dtype = x.scalar_type();
  if (x.device().is_cpu() && (dtype == at::kFloat || dtype == at::kDouble))
    return std::get<0>(max_pool2x2_with_codes(x));
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

TORCH_LIBRARY_FRAGMENT(skiptrain, m) {
  m.def("max_pool2x2_with_codes(Tensor x) -> (Tensor, Tensor)");
  m.def("_max_pool2x2_backward(Tensor grad_output, Tensor codes, int height, int width) -> Tensor");
}

}  // namespace skiptrain
