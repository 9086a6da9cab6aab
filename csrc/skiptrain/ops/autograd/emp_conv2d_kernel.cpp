// Autograd of skiptrain::emp_conv2d: a torch::autograd::Function registered at the
// Autograd key, so the LibTorch trainer, Python and TorchScript share one backward,
// which calls skiptrain::_emp_conv2d_backward through the dispatcher.
#include "skiptrain/ops/emp_conv2d.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/autograd.h>
#include <torch/library.h>

namespace skiptrain {
namespace {

class EmpConv2dFunction : public torch::autograd::Function<EmpConv2dFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input,
                                                const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                                                std::vector<int64_t> stride, std::vector<int64_t> padding,
                                                std::vector<int64_t> dilation, int64_t groups, double keep,
                                                double gamma1, double gamma2, bool sample) {
    at::AutoDispatchBelowADInplaceOrView guard;
    // An absent bias must stay an empty optional: autograd::Function cannot hold an undefined Tensor input.
    auto output = emp_conv2d(input, weight, bias, stride, padding, dilation, groups, keep, gamma1, gamma2, sample);
    ctx->save_for_backward({input, weight});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["dilation"] = dilation;
    ctx->saved_data["groups"] = groups;
    ctx->saved_data["keep"] = keep;
    ctx->saved_data["gamma1"] = gamma1;
    ctx->saved_data["gamma2"] = gamma2;
    ctx->saved_data["sample"] = sample;
    ctx->saved_data["has_bias"] = bias.has_value() && bias->defined();
    return {output};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    std::array<bool, 3> mask = {ctx->needs_input_grad(0), ctx->needs_input_grad(1),
                                has_bias && ctx->needs_input_grad(2)};
    at::Tensor gi, gw, gb;
    if (grad_outputs[0].defined() && (mask[0] || mask[1] || mask[2])) {
      std::tie(gi, gw, gb) = _emp_conv2d_backward(
          grad_outputs[0], saved[0], saved[1], ctx->saved_data["stride"].toIntVector(),
          ctx->saved_data["padding"].toIntVector(), ctx->saved_data["dilation"].toIntVector(),
          ctx->saved_data["groups"].toInt(), ctx->saved_data["keep"].toDouble(), ctx->saved_data["gamma1"].toDouble(),
          ctx->saved_data["gamma2"].toDouble(), ctx->saved_data["sample"].toBool(), mask);
    }
    return {gi,           gw,           gb,           at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor emp_conv2d_autograd(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                               c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
                               int64_t groups, double keep, double gamma1, double gamma2, bool sample) {
  const c10::optional<at::Tensor> b = bias.has_value() && bias->defined() ? bias : c10::nullopt;
  return EmpConv2dFunction::apply(input, weight, b, stride.vec(), padding.vec(), dilation.vec(), groups, keep, gamma1,
                                  gamma2, sample)[0];
}

// The backward op is not differentiable (no double backward): it runs below autograd.
std::tuple<at::Tensor, at::Tensor, at::Tensor> emp_conv2d_backward_autograd(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups, double keep, double gamma1, double gamma2,
    bool sample, std::array<bool, 3> output_mask) {
  at::AutoDispatchBelowADInplaceOrView guard;
  return _emp_conv2d_backward(grad_output, input, weight, stride, padding, dilation, groups, keep, gamma1, gamma2,
                              sample, output_mask);
}

}  // namespace

TORCH_LIBRARY_IMPL(skiptrain, Autograd, m) {
  m.impl("emp_conv2d", emp_conv2d_autograd);
  m.impl("_emp_conv2d_backward", emp_conv2d_backward_autograd);
}

}  // namespace skiptrain
