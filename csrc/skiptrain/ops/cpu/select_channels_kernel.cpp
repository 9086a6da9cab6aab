// CPU kernels of skiptrain::select_channels and skiptrain::sample_channels: per-channel L1 norms of
// the error map (one streaming pass over the batch, parallel over instances) and of the weights, then
// a partial sort of C_out scores (select) or a draw in proportion to them (sample, channel_sampling.h).
#include "skiptrain/ops/select_channels.h"

#include "skiptrain/ops/channel_sampling.h"
#include "skiptrain/ops/cpu/thread_partials.h"

#include <ATen/Parallel.h>
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace skiptrain {
namespace {

// sum |p[i]| for i < n, with 16 independent lanes so the compiler vectorises it.
template <typename T>
double abs_sum(const T* p, int64_t n) {
  constexpr int L = 16;
  T lanes[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int l = 0; l < L; ++l) lanes[l] += std::abs(p[i + l]);
  double s = 0;
  for (; i < n; ++i) s += std::abs(static_cast<double>(p[i]));
  for (int l = 0; l < L; ++l) s += lanes[l];
  return s;
}

// Per-channel L1 norms of the error map [N, C, H, W], stored NCHW (channels_last = false) or
// channels-last; parallel over instances, each thread summing into its own partial.
template <typename T>
std::vector<double> error_norms(const at::Tensor& go, bool channels_last) {
  const int64_t N = go.size(0), C = go.size(1), HW = go.size(2) * go.size(3);
  const T* p = go.data_ptr<T>();
  cpu::ThreadPartials<double> partial(C);
  // At least ~2^18 elements (1 MiB of float) per task: waking a second (passively waiting) OpenMP
  // thread costs tens of microseconds, more than the whole pass over a small error map (LeNet).
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 18) / std::max<int64_t>(1, C * HW));
  at::parallel_for(0, N, grain, [&](int64_t begin, int64_t end) {
    double* mine = partial.mine();
    if (!channels_last) {
      for (int64_t n = begin; n < end; ++n)
        for (int64_t c = 0; c < C; ++c) mine[c] += abs_sum(p + (n * C + c) * HW, HW);
      return;
    }
    // Channels innermost: one instance's sums in T (vectorised over c), then added in double.
    std::vector<T> lanes(C);
    for (int64_t n = begin; n < end; ++n) {
      std::fill(lanes.begin(), lanes.end(), T(0));
      for (int64_t s = 0; s < HW; ++s) {
        const T* px = p + (n * HW + s) * C;
        for (int64_t c = 0; c < C; ++c) lanes[c] += std::abs(px[c]);
      }
      for (int64_t c = 0; c < C; ++c) mine[c] += lanes[c];
    }
  });
  return partial.sum();
}

template <typename T>
std::vector<double> weight_norms(const at::Tensor& w) {
  const int64_t C = w.size(0), K = w.numel() / std::max<int64_t>(C, 1);
  const T* p = w.data_ptr<T>();
  std::vector<double> out(C);
  for (int64_t c = 0; c < C; ++c) out[c] = abs_sum(p + c * K, K);
  return out;
}

// Adds gamma * v / mean(v) to score; skipped when gamma or the mean is zero.
void add_normalised(std::vector<double>& score, const std::vector<double>& v, double gamma) {
  if (gamma == 0.0) return;
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  if (!(mean > 0.0)) return;
  for (size_t j = 0; j < v.size(); ++j) score[j] += gamma * v[j] / mean;
}

// The channel scores of select_channels.h: gamma1 * ||W_j||_1 / mean + gamma2 * ||delta_j||_1 / mean.
std::vector<double> channel_scores(const at::Tensor& grad_output, const at::Tensor& weight, double gamma1,
                                   double gamma2) {
  std::vector<double> score(weight.size(0), 0.0);
  AT_DISPATCH_FLOATING_TYPES(grad_output.scalar_type(), "select_channels", [&] {
    if (gamma2 != 0.0) {
      // A channels-last error map (from a channels-last model) is read in place, not copied.
      const bool channels_last = !grad_output.is_contiguous() &&
                                 grad_output.is_contiguous(at::MemoryFormat::ChannelsLast);
      add_normalised(score, error_norms<scalar_t>(channels_last ? grad_output : grad_output.contiguous(), channels_last),
                     gamma2);
    }
    if (gamma1 != 0.0) add_normalised(score, weight_norms<scalar_t>(weight.contiguous()), gamma1);
  });
  return score;
}

at::Tensor select_channels_cpu(const at::Tensor& grad_output, const at::Tensor& weight, double keep, double gamma1,
                               double gamma2) {
  detail::check_select_channels_args(grad_output, weight, keep, gamma1, gamma2);
  const int64_t C = weight.size(0);
  const int64_t K = kept_channels(C, keep);
  auto options = at::TensorOptions().dtype(at::kLong).device(grad_output.device());
  if (K == C) return at::arange(C, options);

  const std::vector<double> score = channel_scores(grad_output, weight, gamma1, gamma2);
  std::vector<int64_t> order(C);
  std::iota(order.begin(), order.end(), 0);
  // Highest score first; equal scores: lower index first (stable, deterministic).
  std::partial_sort(order.begin(), order.begin() + K, order.end(),
                    [&](int64_t a, int64_t b) { return score[a] > score[b] || (score[a] == score[b] && a < b); });
  std::sort(order.begin(), order.begin() + K);
  auto out = at::empty({K}, options);
  std::copy(order.begin(), order.begin() + K, out.data_ptr<int64_t>());
  return out;
}

std::tuple<at::Tensor, at::Tensor> sample_channels_cpu(const at::Tensor& grad_output, const at::Tensor& weight,
                                                       double keep, double gamma1, double gamma2) {
  detail::check_select_channels_args(grad_output, weight, keep, gamma1, gamma2);
  const int64_t C = weight.size(0);
  const int64_t K = kept_channels(C, keep);
  auto kept = at::empty({K}, at::TensorOptions().dtype(at::kLong));
  const auto scale_dtype = at::toOpMathType(grad_output.scalar_type());
  if (K == C) return {at::arange(C, kept.options()), at::ones({C}, at::TensorOptions().dtype(scale_dtype))};

  std::vector<double> p = channel_scores(grad_output, weight, gamma1, gamma2);
  sampling::inclusion_probabilities(p.data(), C, K, p.data());
  auto scale = at::empty({K}, at::TensorOptions().dtype(at::kDouble));
  const int64_t drawn = sampling::systematic_sample(p.data(), C, K, detail::uniform_draw(), kept.data_ptr<int64_t>(),
                                                    scale.data_ptr<double>());
  TORCH_CHECK(drawn == K, "sample_channels: drew ", drawn, " of ", K, " channels (inclusion probabilities broken)");
  return {kept, scale.to(scale_dtype)};
}

}  // namespace

TORCH_LIBRARY_IMPL(skiptrain, CPU, m) {
  m.impl("select_channels", select_channels_cpu);
  m.impl("sample_channels", sample_channels_cpu);
}

}  // namespace skiptrain
