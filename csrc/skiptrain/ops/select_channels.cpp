// Schema, C++ API and argument checks of skiptrain::select_channels; the kernels are in cpu/ and
// cuda/.
#include "skiptrain/ops/select_channels.h"

#include "skiptrain/ceil_share.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <cmath>

namespace skiptrain {

int64_t kept_channels(int64_t c_out, double keep) {
  return std::max<int64_t>(1, std::min<int64_t>(ceil_share(keep, c_out), c_out));
}

void check_emp_settings(double keep, double gamma1, double gamma2, const EmpSettingNames& names) {
  TORCH_CHECK_VALUE(keep > 0.0 && keep <= 1.0, "emp: ", names.keep, " must be in (0, 1], got ", keep);
  TORCH_CHECK_VALUE(gamma1 >= 0.0 && std::isfinite(gamma1), "emp: ", names.gamma1, " must be finite and >= 0, got ",
                    gamma1);
  TORCH_CHECK_VALUE(gamma2 >= 0.0 && std::isfinite(gamma2), "emp: ", names.gamma2, " must be finite and >= 0, got ",
                    gamma2);
}

at::Tensor select_channels(const at::Tensor& grad_output, const at::Tensor& weight, double keep, double gamma1,
                           double gamma2) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skiptrain::select_channels", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, double, double, double)>();
  return op.call(grad_output, weight, keep, gamma1, gamma2);
}

std::tuple<at::Tensor, at::Tensor> sample_channels(const at::Tensor& grad_output, const at::Tensor& weight, double keep,
                                                   double gamma1, double gamma2) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("skiptrain::sample_channels", "")
          .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, double, double, double)>();
  return op.call(grad_output, weight, keep, gamma1, gamma2);
}

namespace detail {

double uniform_draw() { return at::rand({}, at::TensorOptions().dtype(at::kDouble)).item<double>(); }

void check_select_channels_args(const at::Tensor& grad_output, const at::Tensor& weight, double keep, double gamma1,
                                double gamma2) {
  check_emp_settings(keep, gamma1, gamma2);
  TORCH_CHECK_VALUE(grad_output.dim() == 4, "select_channels: grad_output must be [N, C_out, H_out, W_out], got shape ",
                    grad_output.sizes());
  TORCH_CHECK_VALUE(weight.dim() >= 2 && weight.size(0) > 0,
                    "select_channels: weight must be [C_out, ...] with C_out > 0, got shape ", weight.sizes());
  TORCH_CHECK_VALUE(grad_output.size(1) == weight.size(0), "select_channels: grad_output has ", grad_output.size(1),
                    " channels but weight has C_out = ", weight.size(0));
  TORCH_CHECK_TYPE(at::isFloatingType(grad_output.scalar_type()) && grad_output.scalar_type() == weight.scalar_type(),
                   "select_channels: grad_output and weight must share a floating dtype, got ",
                   grad_output.scalar_type(), " and ", weight.scalar_type());
  TORCH_CHECK_VALUE(grad_output.device() == weight.device(), "select_channels: grad_output is on ",
                    grad_output.device(), " but weight on ", weight.device());
}

}  // namespace detail

TORCH_LIBRARY_FRAGMENT(skiptrain, m) {
  m.def("select_channels(Tensor grad_output, Tensor weight, float keep, float gamma1, float gamma2) -> Tensor");
  m.def(
      "sample_channels(Tensor grad_output, Tensor weight, float keep, float gamma1, float gamma2) -> (Tensor, Tensor)",
      {at::Tag::nondeterministic_seeded});
  // The kept-channel count rule, for Python (the fake kernel of select_channels): no tensors, so catch-all.
  m.def("kept_channels(int c_out, float keep) -> int", [](int64_t c_out, double keep) {
    check_emp_settings(keep, 0.0, 0.0);
    return kept_channels(c_out, keep);
  });
}

}  // namespace skiptrain
