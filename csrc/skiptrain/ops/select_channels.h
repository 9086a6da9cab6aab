// Channel selection of Error Map Pruning: which output channels of a conv layer keep
// their backward pass for this batch. One selection per batch, the same channels for
// every instance (method.md section 4).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>

namespace skiptrain {

// Number of channels EMP keeps out of c_out at kept fraction `keep` in (0, 1]:
// ceil(keep * c_out), at least 1 (a tolerance of 1e-9 keeps 0.3 * 10 at 3, not 4).
int64_t kept_channels(int64_t c_out, double keep);

// Names of the three EMP settings in messages: the op's arguments, or the trainer's flags.
struct EmpSettingNames {
  const char* keep = "keep";
  const char* gamma1 = "gamma1";
  const char* gamma2 = "gamma2";
};

// Throws c10::ValueError naming the setting unless 0 < keep <= 1 and gamma1, gamma2 are finite and
// >= 0 (both 0 is allowed: every score ties and the lowest-index channels are kept, a static subset).
void check_emp_settings(double keep, double gamma1, double gamma2, const EmpSettingNames& names = {});

// Indices (int64, ascending) of the kept_channels(C_out, keep) output channels with the highest
// score  s_j = gamma1 * ||W_j||_1 / mean_i ||W_i||_1 + gamma2 * ||delta_j||_1 / mean_i ||delta_i||_1,
// where ||delta_j||_1 sums over the whole batch. Each term is normalised by its mean over channels
// (a term with zero mean is dropped) so gamma1 and gamma2 weigh comparable magnitudes: raw weight
// and error-map norms differ by orders of magnitude. Ties go to the lower channel index.
// grad_output (delta): [N, C_out, H_out, W_out]; weight: [C_out, C_in/groups, kh, kw].
at::Tensor select_channels(const at::Tensor& grad_output, const at::Tensor& weight, double keep, double gamma1,
                           double gamma2);

// The unbiased alternative to select_channels: the same kept_channels(C_out, keep) count and the same
// scores, but the channels are drawn at random, each with an inclusion probability p_j proportional to
// its score (capped at 1; see ops/channel_sampling.h), from the default CPU generator whatever the
// device: torch.manual_seed makes it repeatable, the trainer's checkpoints resume it, and CPU and CUDA
// draw the same channels from the same scores. Returns (kept: int64 [K] ascending, scale: [K], 1 / p_j,
// in grad_output's op-math dtype: float64 for double, float32 otherwise, so that half and bfloat16
// gradients are scaled without rounding the scales): a backward that scales each kept channel's
// gradients by its scale equals the dense backward in expectation.
std::tuple<at::Tensor, at::Tensor> sample_channels(const at::Tensor& grad_output, const at::Tensor& weight, double keep,
                                                   double gamma1, double gamma2);

namespace detail {
// One uniform draw in [0, 1) from the default CPU generator: the randomness of every sample_channels
// kernel.
double uniform_draw();

// The checks every select_channels kernel starts with (settings, shapes, one floating dtype and one
// device for both tensors); every message names the argument.
void check_select_channels_args(const at::Tensor& grad_output, const at::Tensor& weight, double keep, double gamma1,
                                double gamma2);
}  // namespace detail

}  // namespace skiptrain
