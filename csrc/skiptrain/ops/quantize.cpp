// Schemas, C++ API and argument checks of skiptrain::quantize and skiptrain::quantize_grad; the
// kernels are in cpu/, cuda/ and composite/ (quantize_grad's forward, a copy), the autograd wiring
// (straight-through, error-map rounding) in autograd/.
#include "skiptrain/ops/quantize.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

namespace skiptrain {

void check_quant_bits(int64_t bits, const char* what) {
  TORCH_CHECK_VALUE(bits >= kMinQuantBits && bits <= kMaxQuantBits, what, " must be between ", kMinQuantBits, " and ",
                    kMaxQuantBits, " (32 means float: no quantizer), got ", bits);
}

at::Tensor quantize(const at::Tensor& x, int64_t bits, bool stochastic) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skiptrain::quantize", "")
                       .typed<at::Tensor(const at::Tensor&, int64_t, bool)>();
  return op.call(x, bits, stochastic);
}

at::Tensor quantize_grad(const at::Tensor& x, int64_t bits) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skiptrain::quantize_grad", "")
                       .typed<at::Tensor(const at::Tensor&, int64_t)>();
  return op.call(x, bits);
}

namespace detail {

void check_quantize_args(const at::Tensor& x, int64_t bits) {
  check_quant_bits(bits, "quantize: bits");
  TORCH_CHECK_TYPE(at::isFloatingType(x.scalar_type()), "quantize: x must be floating point, got ", x.scalar_type());
}

}  // namespace detail

TORCH_LIBRARY_FRAGMENT(skiptrain, m) {
  m.def("quantize(Tensor x, int bits, bool stochastic) -> Tensor");
  m.def("quantize_grad(Tensor x, int bits) -> Tensor");
}

}  // namespace skiptrain
