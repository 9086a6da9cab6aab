// Autograd of the quantizers, registered at the Autograd key: skiptrain::quantize passes
// its gradient straight through; skiptrain::quantize_grad rounds the gradient (the error
// map of the layer whose output it wraps) stochastically onto 2^bits levels.
#include "skiptrain/ops/quantize.h"

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/autograd.h>
#include <torch/library.h>

namespace skiptrain {
namespace {

class QuantizeFunction : public torch::autograd::Function<QuantizeFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                                                int64_t bits, bool stochastic) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return {quantize(x, bits, stochastic)};
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    return {grad_outputs[0], at::Tensor(), at::Tensor()};
  }
};

class QuantizeGradFunction : public torch::autograd::Function<QuantizeGradFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                                                int64_t bits) {
    at::AutoDispatchBelowADInplaceOrView guard;
    ctx->saved_data["bits"] = bits;
    return {quantize_grad(x, bits)};
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto& grad = grad_outputs[0];
    if (!grad.defined()) return {at::Tensor(), at::Tensor()};
    return {quantize(grad, ctx->saved_data["bits"].toInt(), /*stochastic=*/true), at::Tensor()};
  }
};

at::Tensor quantize_autograd(const at::Tensor& x, int64_t bits, bool stochastic) {
  return QuantizeFunction::apply(x, bits, stochastic)[0];
}

at::Tensor quantize_grad_autograd(const at::Tensor& x, int64_t bits) {
  return QuantizeGradFunction::apply(x, bits)[0];
}

}  // namespace

TORCH_LIBRARY_IMPL(skiptrain, Autograd, m) {
  m.impl("quantize", quantize_autograd);
  m.impl("quantize_grad", quantize_grad_autograd);
}

}  // namespace skiptrain
