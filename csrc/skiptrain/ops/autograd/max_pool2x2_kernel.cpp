// Autograd of skiptrain::max_pool2x2_with_codes, registered at the Autograd key: the forward
// saves the argmax codes (one int32 per output), the backward hands them with the output's
// gradient to skiptrain::_max_pool2x2_backward. The codes output is not differentiable.
#include "skiptrain/ops/max_pool2x2.h"

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/autograd.h>
#include <torch/library.h>

namespace skiptrain {
namespace {

class MaxPool2x2Function : public torch::autograd::Function<MaxPool2x2Function> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, codes] = max_pool2x2_with_codes(x);
    ctx->mark_non_differentiable({codes});
    ctx->save_for_backward({codes});
    ctx->saved_data["height"] = x.size(2);
    ctx->saved_data["width"] = x.size(3);
    return {output, codes};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto codes = ctx->get_saved_variables()[0];
    return {_max_pool2x2_backward(grad_outputs[0], codes, ctx->saved_data["height"].toInt(),
                                  ctx->saved_data["width"].toInt())};
  }
};

std::tuple<at::Tensor, at::Tensor> max_pool2x2_with_codes_autograd(const at::Tensor& x) {
  auto outputs = MaxPool2x2Function::apply(x);
  return {outputs[0], outputs[1]};
}

}  // namespace

TORCH_LIBRARY_IMPL(skiptrain, Autograd, m) { m.impl("max_pool2x2_with_codes", max_pool2x2_with_codes_autograd); }

}  // namespace skiptrain
