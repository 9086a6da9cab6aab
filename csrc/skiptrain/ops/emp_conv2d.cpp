// Schemas, C++ API and argument checks of skiptrain::emp_conv2d and skiptrain::_emp_conv2d_backward,
// and the kept channels every backward kernel shares (selected or sampled, with the sampled scales);
// the kernels are in composite/ (every device) and cpu/, the autograd wiring in autograd/.
#include "skiptrain/ops/emp_conv2d.h"

#include "skiptrain/ops/select_channels.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <vector>

namespace skiptrain {

at::Tensor emp_conv2d(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                      c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups,
                      double keep, double gamma1, double gamma2, bool sample) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("skiptrain::emp_conv2d", "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&, c10::IntArrayRef,
                            c10::IntArrayRef, c10::IntArrayRef, int64_t, double, double, double, bool)>();
  return op.call(input, weight, bias, stride, padding, dilation, groups, keep, gamma1, gamma2, sample);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> _emp_conv2d_backward(const at::Tensor& grad_output,
                                                                    const at::Tensor& input, const at::Tensor& weight,
                                                                    c10::IntArrayRef stride, c10::IntArrayRef padding,
                                                                    c10::IntArrayRef dilation, int64_t groups,
                                                                    double keep, double gamma1, double gamma2,
                                                                    bool sample, std::array<bool, 3> output_mask) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skiptrain::_emp_conv2d_backward", "")
                       .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
                           const at::Tensor&, const at::Tensor&, const at::Tensor&, c10::IntArrayRef, c10::IntArrayRef,
                           c10::IntArrayRef, int64_t, double, double, double, bool, std::array<bool, 3>)>();
  return op.call(grad_output, input, weight, stride, padding, dilation, groups, keep, gamma1, gamma2, sample,
                 output_mask);
}

namespace detail {

void check_emp_conv2d_args(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                           c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
                           int64_t groups, double keep, double gamma1, double gamma2) {
  check_emp_settings(keep, gamma1, gamma2);
  TORCH_CHECK_VALUE(input.dim() == 4, "emp_conv2d: input must be [N, C_in, H, W], got shape ", input.sizes());
  TORCH_CHECK_VALUE(weight.dim() == 4, "emp_conv2d: weight must be [C_out, C_in/groups, kh, kw], got shape ",
                    weight.sizes());
  TORCH_CHECK_TYPE(at::isFloatingType(input.scalar_type()), "emp_conv2d: input must be floating point, got ",
                   input.scalar_type());
  TORCH_CHECK_TYPE(weight.scalar_type() == input.scalar_type(), "emp_conv2d: weight dtype (", weight.scalar_type(),
                   ") must equal input dtype (", input.scalar_type(), ")");
  TORCH_CHECK_VALUE(weight.device() == input.device(), "emp_conv2d: weight is on ", weight.device(), " but input on ",
                    input.device());
  TORCH_CHECK_VALUE(groups > 0, "emp_conv2d: groups must be positive, got ", groups);
  TORCH_CHECK_VALUE(weight.size(0) > 0 && weight.size(0) % groups == 0,
                    "emp_conv2d: weight.size(0) (C_out = ", weight.size(0), ") must be a positive multiple of groups (",
                    groups, ")");
  TORCH_CHECK_VALUE(input.size(1) == weight.size(1) * groups, "emp_conv2d: input has ", input.size(1),
                    " channels but weight expects C_in = weight.size(1) * groups = ", weight.size(1) * groups);
  TORCH_CHECK_VALUE(stride.size() == 2 && stride[0] > 0 && stride[1] > 0,
                    "emp_conv2d: stride must be two positive ints, got ", stride);
  TORCH_CHECK_VALUE(padding.size() == 2 && padding[0] >= 0 && padding[1] >= 0,
                    "emp_conv2d: padding must be two non-negative ints, got ", padding);
  TORCH_CHECK_VALUE(dilation.size() == 2 && dilation[0] > 0 && dilation[1] > 0,
                    "emp_conv2d: dilation must be two positive ints, got ", dilation);
  for (int d = 0; d < 2; ++d) {
    const int64_t span = dilation[d] * (weight.size(2 + d) - 1) + 1;
    TORCH_CHECK_VALUE(input.size(2 + d) + 2 * padding[d] >= span, "emp_conv2d: input spatial size ", input.sizes(),
                      " (padded by ", padding, ") is smaller than the dilated kernel (", weight.sizes(), ")");
  }
  if (bias.has_value() && bias->defined()) {
    TORCH_CHECK_VALUE(bias->dim() == 1 && bias->size(0) == weight.size(0),
                      "emp_conv2d: bias must be [C_out = ", weight.size(0), "], got shape ", bias->sizes());
    TORCH_CHECK_TYPE(bias->scalar_type() == input.scalar_type(), "emp_conv2d: bias dtype (", bias->scalar_type(),
                     ") must equal input dtype (", input.scalar_type(), ")");
    TORCH_CHECK_VALUE(bias->device() == input.device(), "emp_conv2d: bias is on ", bias->device(), " but input on ",
                      input.device());
  }
}

void check_emp_conv2d_backward_args(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
                                    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
                                    int64_t groups, double keep, double gamma1, double gamma2) {
  check_emp_conv2d_args(input, weight, c10::nullopt, stride, padding, dilation, groups, keep, gamma1, gamma2);
  TORCH_CHECK_VALUE(
      grad_output.dim() == 4 && grad_output.size(0) == input.size(0) && grad_output.size(1) == weight.size(0),
      "_emp_conv2d_backward: grad_output must be [N = ", input.size(0), ", C_out = ", weight.size(0),
      ", H_out, W_out], got shape ", grad_output.sizes());
  TORCH_CHECK_TYPE(grad_output.scalar_type() == input.scalar_type(), "_emp_conv2d_backward: grad_output dtype (",
                   grad_output.scalar_type(), ") must equal input dtype (", input.scalar_type(), ")");
  TORCH_CHECK_VALUE(grad_output.device() == input.device(), "_emp_conv2d_backward: grad_output is on ",
                    grad_output.device(), " but input on ", input.device());
}

c10::optional<std::tuple<at::Tensor, at::Tensor, at::Tensor>> emp_conv2d_backward_if_dense(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups, double keep, double gamma1, double gamma2,
    std::array<bool, 3> output_mask) {
  check_emp_conv2d_backward_args(grad_output, input, weight, stride, padding, dilation, groups, keep, gamma1, gamma2);
  const int64_t c_out = weight.size(0);
  if (kept_channels(c_out, keep) < c_out) return c10::nullopt;
  return at::convolution_backward(grad_output, input, weight, std::vector<int64_t>{c_out}, stride, padding, dilation,
                                  false, std::vector<int64_t>{0, 0}, groups, output_mask);
}

KeptChannels kept_for_backward(const at::Tensor& grad_output, const at::Tensor& weight, double keep, double gamma1,
                               double gamma2, bool sample) {
  if (!sample) return {select_channels(grad_output, weight, keep, gamma1, gamma2), at::Tensor()};
  auto [index, scale] = sample_channels(grad_output, weight, keep, gamma1, gamma2);
  return {index, scale};
}

namespace {
// rows (t's kept rows, [K, ...]) times their scales, in the scales' precision, back in t's dtype.
at::Tensor scaled_rows(const at::Tensor& t, const KeptChannels& kept) {
  auto rows = t.index_select(0, kept.index).to(kept.scale.scalar_type());
  auto shape = std::vector<int64_t>(t.dim(), 1);
  shape[0] = -1;
  return rows.mul_(kept.scale.view(shape)).to(t.scalar_type());
}
}  // namespace

at::Tensor weight_for_grad_input(const at::Tensor& weight, const KeptChannels& kept, bool grad_input_wanted) {
  if (!kept.scale.defined() || !grad_input_wanted) return weight;
  return weight.clone(at::MemoryFormat::Preserve).index_copy_(0, kept.index, scaled_rows(weight, kept));
}

void scale_kept_gradients(const KeptChannels& kept, at::Tensor& grad_weight, at::Tensor& grad_bias) {
  if (!kept.scale.defined()) return;
  if (grad_weight.defined()) grad_weight.index_copy_(0, kept.index, scaled_rows(grad_weight, kept));
  if (grad_bias.defined()) grad_bias.index_copy_(0, kept.index, scaled_rows(grad_bias, kept));
}

}  // namespace detail

TORCH_LIBRARY_FRAGMENT(skiptrain, m) {
  m.def(
      "emp_conv2d(Tensor input, Tensor weight, Tensor? bias, int[] stride, int[] padding, int[] dilation, "
      "int groups, float keep, float gamma1, float gamma2, bool sample=False) -> Tensor");
  m.def(
      "_emp_conv2d_backward(Tensor grad_output, Tensor input, Tensor weight, int[] stride, int[] padding, "
      "int[] dilation, int groups, float keep, float gamma1, float gamma2, bool sample, bool[3] output_mask) "
      "-> (Tensor, Tensor, Tensor)");
  // The argument checks alone, for the fake kernel (python/skiptrain/_fake.py): they read only
  // shapes, dtypes and devices, so this catch-all kernel runs on meta and fake tensors too.
  m.def(
      "_check_emp_conv2d_args(Tensor input, Tensor weight, Tensor? bias, int[] stride, int[] padding, "
      "int[] dilation, int groups, float keep, float gamma1, float gamma2) -> ()",
      &detail::check_emp_conv2d_args);
}

}  // namespace skiptrain
