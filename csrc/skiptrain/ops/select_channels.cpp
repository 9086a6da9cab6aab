// Schema and C++ API of skiptrain::select_channels; the kernel is in cpu/.
#include "skiptrain/ops/select_channels.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <cmath>

namespace skiptrain {

int64_t kept_channels(int64_t c_out, double keep) {
  const auto k = static_cast<int64_t>(std::ceil(keep * static_cast<double>(c_out) - 1e-9));
  return std::max<int64_t>(1, std::min<int64_t>(k, c_out));
}

void check_emp_settings(double keep, double gamma1, double gamma2) {
  TORCH_CHECK(keep > 0.0 && keep <= 1.0, "emp: keep must be in (0, 1], got keep = ", keep);
  TORCH_CHECK(gamma1 >= 0.0 && std::isfinite(gamma1), "emp: gamma1 must be finite and >= 0, got ", gamma1);
  TORCH_CHECK(gamma2 >= 0.0 && std::isfinite(gamma2), "emp: gamma2 must be finite and >= 0, got ", gamma2);
}

at::Tensor select_channels(const at::Tensor& grad_output, const at::Tensor& weight, double keep, double gamma1,
                           double gamma2) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("skiptrain::select_channels", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, double, double, double)>();
  return op.call(grad_output, weight, keep, gamma1, gamma2);
}

TORCH_LIBRARY_FRAGMENT(skiptrain, m) {
  m.def("select_channels(Tensor grad_output, Tensor weight, float keep, float gamma1, float gamma2) -> Tensor");
}

}  // namespace skiptrain
