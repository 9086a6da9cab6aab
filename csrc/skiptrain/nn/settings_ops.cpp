// The layer settings' rules as operators, so that Python's EMPConv2d, QuantConv2d, QuantLinear and
// the converters (python/skiptrain/nn.py, emp.py, quant.py) check their settings with the C++ code
// the trainer runs: torch.ops.skiptrain.check_emp_settings / check_quant_settings raise ValueError
// naming the setting. Catch-all kernels: the ops take no tensors.
#include "skiptrain/nn/quant_settings.h"
#include "skiptrain/ops/select_channels.h"

#include <torch/library.h>

namespace skiptrain::nn {

TORCH_LIBRARY_FRAGMENT(skiptrain, m) {
  // keep in (0, 1], gamma1 and gamma2 finite and >= 0.
  m.def("check_emp_settings(float keep, float gamma1, float gamma2) -> ()",
        [](double keep, double gamma1, double gamma2) { skiptrain::check_emp_settings(keep, gamma1, gamma2); });
  // bits in 2..16 or 32 (float); grad_bits in 2..16 or 0 (float error maps).
  m.def("check_quant_settings(int bits, int grad_bits) -> ()", [](int64_t bits, int64_t grad_bits) {
    check_quant_settings(QuantSettings{bits, grad_bits});
  });
}

}  // namespace skiptrain::nn
