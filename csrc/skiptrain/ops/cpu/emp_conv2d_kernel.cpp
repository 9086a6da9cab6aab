// CPU kernel of skiptrain::_emp_conv2d_backward (Error Map Pruning; the forward is the
// device-generic one in composite/). It selects the kept channels (skiptrain::select_channels, or
// draws them with sample_channels and scales their gradients: detail::kept_for_backward), then runs
// dense work on the kept slice only:
//  - a channels-last input that the NHWC kernels serve (emp_backward_nhwc.h): those, and
//    grad_input stays channels-last;
//  - float32, stride 1, groups 1, kernel width 1/3/5/7 on x86-64 with AVX2 or AVX-512:
//    direct kernels (emp_conv2d_direct.h), parallel over the batch (at::parallel_for: with
//    ATen's OpenMP backend that is a header-inline `omp parallel`, so it only runs threads when
//    this file is compiled with -fopenmp);
//  - anything else: the device-generic sliced backward (detail::emp_conv2d_backward_sliced, ATen's
//    convolution backward on the gathered slice, scattered back) on NCHW tensors. Never a mask.
//    keep = 1 is ATen's dense backward, untouched.
#include "skiptrain/ops/emp_conv2d.h"
#include "skiptrain/ops/cpu/emp_backward_nhwc.h"
#include "skiptrain/ops/cpu/thread_partials.h"
#include "skiptrain/ops/cpu/vector_width.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <cstring>
#include <vector>

namespace skiptrain {
namespace {

// Everything the direct kernels need for one call; built once, read by every thread.
struct DirectArgs {
  const float* x = nullptr;   // input [N, Ci, H, W]
  const float* go = nullptr;  // grad_output [N, Co, Ho, Wo]
  const int64_t* idx = nullptr;
  int64_t K = 0;  // kept channels
  int64_t N = 0, Ci = 0, H = 0, W = 0, Co = 0, Ho = 0, Wo = 0, KH = 0, KW = 0, ph = 0, pw = 0, dh = 0, dw = 0;
  bool need_gi = false, need_gw = false, need_gb = false;
  // Padded geometry (see emp_conv2d_direct.h): rows of stride Wp everywhere (Wp = W in the masked layout).
  bool masked = false;
  int64_t xoff = 0;    // where x[0, 0] sits in an xp plane
  int64_t xread = 0;   // where grad_weight's tap (0, 0) reads start in an xp plane
  int64_t gi_r0 = 0;   // first dq position (relative to B) that grad_input's output position 0 reads
  int64_t gi_col0 = 0; // column of x[., 0] in grad_input's rows
  int64_t Hp = 0, Wp = 0, Q = 0, Qv = 0, M = 0, B = 0, Rv = 0, Px = 0, Pd = 0, T = 0;
  int64_t NB = 1;  // instances packed together (grad_weight's horizontal sums are paid once per NB)
  std::vector<int64_t> off;  // [T] tap shifts
  std::vector<unsigned> jmask;  // [KW] lanes of x that tap column j may read (grad_weight)
  std::vector<unsigned> tmask;  // [T] lanes of dq that tap t may read (grad_input)
  std::vector<float> wt;     // kept weights, transposed: [K][T][Ci]
  // Raw views of off / wt / masks: the per-ISA code below touches no std:: templates.
  const int64_t* off_ptr = nullptr;
  const float* wt_ptr = nullptr;
  const unsigned* jmask_ptr = nullptr;
  const unsigned* tmask_ptr = nullptr;
  float* gi = nullptr;       // grad_input [N, Ci, H, W]
};

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

}  // namespace

#if SKIPTRAIN_EMP_DIRECT
// Packs sub-batches of NB instances into the padded planes (the zero borders stay zero), then
// runs grad_weight over the sub-batch and grad_input per instance.
#define SKIPTRAIN_EMP_PACK_AND_RUN(GW_KB, GI_CB, GI_RB)                                                           \
  static void instances(const DirectArgs& a, int64_t begin, int64_t end, float* xp, float* dq, float* gip,       \
                        float* gw, double* gb) {                                                                  \
    for (int64_t n0 = begin; n0 < end; n0 += a.NB) {                                                              \
      const int64_t nbc = end - n0 < a.NB ? end - n0 : a.NB;                                                      \
      for (int64_t nb = 0; nb < nbc; ++nb) {                                                                      \
        const int64_t n = n0 + nb;                                                                                \
        if (a.need_gw) {                                                                                          \
          for (int64_t c = 0; c < a.Ci; ++c)                                                                      \
            for (int64_t h = 0; h < a.H; ++h)                                                                     \
              std::memcpy(xp + (c * a.NB + nb) * a.Px + a.xoff + h * a.Wp,                                        \
                          a.x + ((n * a.Ci + c) * a.H + h) * a.W, sizeof(float) * a.W);                           \
        }                                                                                                         \
        for (int64_t k = 0; k < a.K; ++k) {                                                                       \
          const float* src = a.go + (n * a.Co + a.idx[k]) * a.Ho * a.Wo;                                         \
          float* dst = dq + (k * a.NB + nb) * a.Pd + a.B;                                                         \
          float s = 0;                                                                                            \
          for (int64_t ho = 0; ho < a.Ho; ++ho) {                                                                 \
            std::memcpy(dst + ho * a.Wp, src + ho * a.Wo, sizeof(float) * a.Wo);                                  \
            if (a.need_gb)                                                                                        \
              for (int64_t wo = 0; wo < a.Wo; ++wo) s += src[ho * a.Wo + wo];                                     \
          }                                                                                                       \
          gb[k] += s;                                                                                             \
        }                                                                                                         \
      }                                                                                                           \
      if (a.need_gw) {                                                                                            \
        switch (a.KW) {                                                                                           \
          case 1: gw_instances<1, GW_KB(1)>(dq + a.B, a.Pd, a.K, xp + a.xread, a.Px, a.NB, nbc, a.Ci, a.KH, a.dh, a.dw, a.Wp, a.Qv, a.jmask_ptr, gw); break; \
          case 3: gw_instances<3, GW_KB(3)>(dq + a.B, a.Pd, a.K, xp + a.xread, a.Px, a.NB, nbc, a.Ci, a.KH, a.dh, a.dw, a.Wp, a.Qv, a.jmask_ptr, gw); break; \
          case 5: gw_instances<5, GW_KB(5)>(dq + a.B, a.Pd, a.K, xp + a.xread, a.Px, a.NB, nbc, a.Ci, a.KH, a.dh, a.dw, a.Wp, a.Qv, a.jmask_ptr, gw); break; \
          default: gw_instances<7, GW_KB(7)>(dq + a.B, a.Pd, a.K, xp + a.xread, a.Px, a.NB, nbc, a.Ci, a.KH, a.dh, a.dw, a.Wp, a.Qv, a.jmask_ptr, gw); break; \
        }                                                                                                         \
      }                                                                                                           \
      if (a.need_gi) {                                                                                            \
        for (int64_t nb = 0; nb < nbc; ++nb) {                                                                    \
          const int64_t n = n0 + nb;                                                                              \
          gi_instance<GI_CB, GI_RB>(dq + nb * a.Pd + a.B, a.NB * a.Pd, a.K, a.wt_ptr, a.Ci, a.off_ptr,            \
                                    a.tmask_ptr, a.T, a.gi_r0, a.Rv, gip);                                        \
          for (int64_t c = 0; c < a.Ci; ++c)                                                                      \
            for (int64_t h = 0; h < a.H; ++h)                                                                     \
              std::memcpy(a.gi + ((n * a.Ci + c) * a.H + h) * a.W, gip + c * a.Rv + h * a.Wp + a.gi_col0,         \
                          sizeof(float) * a.W);                                                                   \
        }                                                                                                         \
      }                                                                                                           \
    }                                                                                                             \
  }

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx2,fma")
namespace emp_avx512 {
#define SKIPTRAIN_VW 16
#include "skiptrain/ops/cpu/emp_conv2d_direct.h"
#undef SKIPTRAIN_VW
// Register budget (32 zmm): KB*KW accumulators + KB + 1 live vectors; CB*RB + RB + 1 for gi.
#define SKIPTRAIN_GW_KB(kw) ((kw) == 1 ? 8 : (kw) == 3 ? 6 : (kw) == 5 ? 4 : 3)
SKIPTRAIN_EMP_PACK_AND_RUN(SKIPTRAIN_GW_KB, 8, 3)
#undef SKIPTRAIN_GW_KB
}  // namespace emp_avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace emp_avx2 {
#define SKIPTRAIN_VW 8
#include "skiptrain/ops/cpu/emp_conv2d_direct.h"
#undef SKIPTRAIN_VW
// Register budget (16 ymm).
#define SKIPTRAIN_GW_KB(kw) ((kw) == 1 ? 4 : (kw) == 3 ? 3 : (kw) == 5 ? 2 : 1)
SKIPTRAIN_EMP_PACK_AND_RUN(SKIPTRAIN_GW_KB, 4, 2)
#undef SKIPTRAIN_GW_KB
}  // namespace emp_avx2
#pragma GCC pop_options
#endif  // SKIPTRAIN_EMP_DIRECT

namespace {

bool direct_applies(const at::Tensor& input, const at::Tensor& weight, c10::IntArrayRef stride, int64_t groups) {
  const int64_t kw = weight.size(3);
  return cpu::emp_vector_width() > 0 && input.scalar_type() == at::kFloat && input.device().is_cpu() &&
         groups == 1 && stride[0] == 1 && stride[1] == 1 && (kw == 1 || kw == 3 || kw == 5 || kw == 7);
}

// Direct kernels on the kept slice: fills grad_input (if needed), and the kept rows of
// grad_weight / grad_bias.
void backward_direct(const at::Tensor& go, const at::Tensor& x, const at::Tensor& w, const at::Tensor& idx,
                     c10::IntArrayRef padding, c10::IntArrayRef dilation, std::array<bool, 3> mask, at::Tensor& gi,
                     at::Tensor& gw, at::Tensor& gb) {
  const int vw = cpu::emp_vector_width();
  DirectArgs a;
  a.x = x.data_ptr<float>();
  a.go = go.data_ptr<float>();
  a.idx = idx.data_ptr<int64_t>();
  a.K = idx.numel();
  a.N = x.size(0), a.Ci = x.size(1), a.H = x.size(2), a.W = x.size(3);
  a.Co = w.size(0), a.KH = w.size(2), a.KW = w.size(3);
  a.Ho = go.size(2), a.Wo = go.size(3);
  a.ph = padding[0], a.pw = padding[1], a.dh = dilation[0], a.dw = dilation[1];
  a.need_gi = mask[0], a.need_gw = mask[1], a.need_gb = mask[2];
  // Masked layout (emp_conv2d_direct.h) where rows repeat within a vector and the zero margin in
  // front of each xp plane (one vector) covers the left padding.
  a.masked = vw == 16 && a.Wo == a.W && vw % a.W == 0 && a.pw > 0 && a.pw <= vw;
  a.Hp = a.H + 2 * a.ph, a.Wp = a.masked ? a.W : a.W + 2 * a.pw;
  a.T = a.KH * a.KW;
  a.Q = a.Ho * a.Wp;
  a.Qv = round_up(a.Q, vw);
  a.M = (a.KH - 1) * a.dh * a.Wp + (a.KW - 1) * a.dw;
  a.B = round_up(a.M, vw);
  a.Rv = round_up(a.H * a.Wp, vw);
  a.xoff = a.masked ? vw + a.ph * a.Wp : a.ph * a.Wp + a.pw;
  a.xread = a.masked ? vw - a.pw : 0;
  a.gi_r0 = a.masked ? a.ph * a.Wp + a.pw : a.ph * a.Wp;
  a.gi_col0 = a.masked ? 0 : a.pw;
  a.Px = round_up(a.xread + a.Qv + a.M + vw, vw);
  a.Pd = round_up(a.B + std::max(a.Qv, a.gi_r0 + a.Rv) + vw, vw);
  // Sub-batch of up to 32 instances (small planes need many to amortise the horizontal sums), with
  // its packed planes kept within ~1 MiB (L2).
  a.NB = std::max<int64_t>(1, std::min<int64_t>(32, (1 << 18) / std::max<int64_t>(1, a.Ci * a.Px + a.K * a.Pd)));
  for (int64_t i = 0; i < a.KH; ++i)
    for (int64_t j = 0; j < a.KW; ++j) a.off.push_back(i * a.dh * a.Wp + j * a.dw);
  // Lane l holds column l % W (masked layout): tap column j reads x column l%W + j*dw - pw for
  // grad_weight and dq column l%W + pw - j*dw for grad_input; lanes outside the row are zeroed.
  const auto lanes = [&](int64_t shift, int64_t width) {
    unsigned m = 0;
    for (int l = 0; l < vw; ++l) {
      const int64_t col = (a.masked ? l % a.W : 0) + shift;
      if (!a.masked || (col >= 0 && col < width)) m |= 1u << l;
    }
    return m;
  };
  for (int64_t j = 0; j < a.KW; ++j) a.jmask.push_back(lanes(j * a.dw - a.pw, a.W));
  for (int64_t i = 0; i < a.KH; ++i)
    for (int64_t j = 0; j < a.KW; ++j) a.tmask.push_back(lanes(a.pw - j * a.dw, a.Wo));
  if (a.need_gi) {
    // wt[k][t][c] = W[idx[k], c, t]
    auto wc = w.contiguous();
    const float* wp = wc.data_ptr<float>();
    a.wt.resize(a.K * a.T * a.Ci);
    for (int64_t k = 0; k < a.K; ++k)
      for (int64_t c = 0; c < a.Ci; ++c)
        for (int64_t t = 0; t < a.T; ++t) a.wt[(k * a.T + t) * a.Ci + c] = wp[(a.idx[k] * a.Ci + c) * a.T + t];
    a.gi = gi.data_ptr<float>();
  }
  a.off_ptr = a.off.data();
  a.wt_ptr = a.wt.data();
  a.jmask_ptr = a.jmask.data();
  a.tmask_ptr = a.tmask.data();
  cpu::ThreadPartials<float> gw_parts(a.need_gw ? a.K * a.Ci * a.T : 1);
  cpu::ThreadPartials<double> gb_parts(a.K);
  at::parallel_for(0, a.N, 1, [&](int64_t begin, int64_t end) {
    float* gw_local = gw_parts.mine();
    double* gb_local = gb_parts.mine();
    // 64-byte aligned (at::zeros), so the error-map loads of the kernels are aligned.
    auto xp = at::zeros({a.need_gw ? a.Ci * a.NB * a.Px : 1}, at::kFloat);
    auto dq = at::zeros({a.K * a.NB * a.Pd}, at::kFloat);
    auto gip = at::empty({a.need_gi ? a.Ci * a.Rv : 1}, at::kFloat);
#if SKIPTRAIN_EMP_DIRECT
    if (vw == 16)
      emp_avx512::instances(a, begin, end, xp.data_ptr<float>(), dq.data_ptr<float>(), gip.data_ptr<float>(),
                            gw_local, gb_local);
    else
      emp_avx2::instances(a, begin, end, xp.data_ptr<float>(), dq.data_ptr<float>(), gip.data_ptr<float>(),
                          gw_local, gb_local);
#endif
  });
  if (a.need_gw) gw.index_copy_(0, idx, gw_parts.total({a.K, a.Ci, a.KH, a.KW}, w.scalar_type()));
  if (a.need_gb) gb.index_copy_(0, idx, gb_parts.total({a.K}, gb.scalar_type()));
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> emp_conv2d_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups, double keep, double gamma1, double gamma2,
    bool sample, std::array<bool, 3> output_mask) {
  if (auto dense = detail::emp_conv2d_backward_if_dense(grad_output, input, weight, stride, padding, dilation, groups,
                                                        keep, gamma1, gamma2, output_mask))
    return *dense;
  const auto kept = detail::kept_for_backward(grad_output, weight, keep, gamma1, gamma2, sample);
  const auto& idx = kept.index;
  // Channels-last stays channels-last only where the NHWC kernels serve it (on CPU a model is kept
  // channels-last only where they serve most of its pruned work: emp_backward_keeps_channels_last).
  const bool nhwc = cpu::nhwc_backward_applies(input, weight, stride, padding, dilation, groups);
  const auto go = nhwc ? grad_output : grad_output.contiguous();
  const auto x = nhwc ? input : input.contiguous();
  const auto scaled = detail::weight_for_grad_input(weight, kept, output_mask[0]);
  const auto w = nhwc ? scaled : scaled.contiguous();
  if (!nhwc && !direct_applies(x, w, stride, groups)) {
    auto [gi, gw, gb] =
        detail::emp_conv2d_backward_sliced(go, x, w, idx, stride, padding, dilation, groups, output_mask);
    detail::scale_kept_gradients(kept, gw, gb);
    return std::make_tuple(gi, gw, gb);
  }
  // The NHWC and direct kernels write every grad_input element, and the kept rows of the others.
  at::Tensor gi, gw, gb;
  if (output_mask[0]) gi = at::empty_like(x);
  if (output_mask[1]) gw = at::zeros_like(weight);
  if (output_mask[2]) gb = at::zeros({weight.size(0)}, weight.options());
  if (nhwc)
    cpu::nhwc_backward(go, x, w, idx, padding, output_mask, gi, gw, gb);
  else
    backward_direct(go, x, w, idx, padding, dilation, output_mask, gi, gw, gb);
  detail::scale_kept_gradients(kept, gw, gb);
  return std::make_tuple(gi, gw, gb);
}

}  // namespace

TORCH_LIBRARY_IMPL(skiptrain, CPU, m) { m.impl("_emp_conv2d_backward", emp_conv2d_backward_cpu); }

}  // namespace skiptrain
