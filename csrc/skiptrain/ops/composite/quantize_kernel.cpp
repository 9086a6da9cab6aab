// Device-generic kernel of skiptrain::quantize_grad's forward, registered at
// CompositeExplicitAutograd: a copy of x on every device (the rounding happens in its backward,
// autograd/quantize_kernel.cpp).
#include "skiptrain/ops/quantize.h"

#include <ATen/ATen.h>
#include <torch/library.h>

namespace skiptrain {
namespace {

at::Tensor quantize_grad_forward(const at::Tensor& x, int64_t bits) {
  check_quant_bits(bits, "quantize_grad: bits");
  return x.clone();
}

}  // namespace

TORCH_LIBRARY_IMPL(skiptrain, CompositeExplicitAutograd, m) { m.impl("quantize_grad", quantize_grad_forward); }

}  // namespace skiptrain
