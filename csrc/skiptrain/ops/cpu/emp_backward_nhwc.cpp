// The channels-last path of the pruned conv backward on CPU: per instance (parallel over the
// batch), gathers the kept error-map channels into a bordered [Ho, Wo, K] map and pads the
// input, then runs the NHWC kernels of emp_conv2d_nhwc.h, compiled for AVX-512 and AVX2.
#include "skiptrain/ops/cpu/emp_backward_nhwc.h"

#include "skiptrain/ops/cpu/thread_partials.h"
#include "skiptrain/ops/cpu/vector_width.h"
#include "skiptrain/ops/emp_conv2d.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace skiptrain::cpu {
namespace {

// Everything the per-instance loop needs; built once, read by every thread.
struct NhwcArgs {
  const float* x = nullptr;    // input [N, H, W, Ci]
  const float* go = nullptr;   // grad_output [N, Ho, Wo, Co]
  const int64_t* idx = nullptr;
  const float* wt = nullptr;   // kept weights [K, KH, KW, Ci]
  float* gi = nullptr;         // grad_input [N, H, W, Ci]
  int64_t K = 0, Ci = 0, H = 0, W = 0, Co = 0, Ho = 0, Wo = 0, KH = 0, KW = 0, ph = 0, pw = 0;
  int64_t Wp = 0;          // padded input row: W + 2*pw positions
  int64_t Wq = 0, bh = 0, bw = 0;  // bordered error map: rows of Wq positions, error map at (bh, bw)
  int CV = 1;              // vectors of input channels per kernel block
  bool need_gi = false, need_gw = false, need_gb = false;
};

}  // namespace

// One instance-range runner per instruction set; KW and CV become template arguments here.
#define SKIPTRAIN_NHWC_DISPATCH(KERNEL, KW, CV, ...)           \
  switch ((KW) * 10 + (CV)) {                                  \
    case 11: KERNEL<1, 1>(__VA_ARGS__); break;                 \
    case 12: KERNEL<1, 2>(__VA_ARGS__); break;                 \
    case 14: KERNEL<1, 4>(__VA_ARGS__); break;                 \
    case 31: KERNEL<3, 1>(__VA_ARGS__); break;                 \
    case 32: KERNEL<3, 2>(__VA_ARGS__); break;                 \
    case 34: KERNEL<3, 4>(__VA_ARGS__); break;                 \
    case 51: KERNEL<5, 1>(__VA_ARGS__); break;                 \
    case 52: KERNEL<5, 2>(__VA_ARGS__); break;                 \
    default: KERNEL<5, 4>(__VA_ARGS__); break;                 \
  }

#define SKIPTRAIN_NHWC_INSTANCES                                                                                  \
  static void instances(const NhwcArgs& a, int64_t begin, int64_t end, float* xp, float* dqp, float* gw,          \
                        double* gb) {                                                                             \
    const int64_t dq_row = a.Wq * a.K;                                                                            \
    float* dq = dqp + (a.bh * a.Wq + a.bw) * a.K;                                                                 \
    std::vector<float> gb_n(a.K);                                                                                 \
    for (int64_t n = begin; n < end; ++n) {                                                                       \
      std::fill(gb_n.begin(), gb_n.end(), 0.0f);                                                                  \
      nhwc_gather(a.go + n * a.Ho * a.Wo * a.Co, a.Ho, a.Wo, a.Co, a.idx, a.K, dq, dq_row, gb_n.data());         \
      for (int64_t k = 0; k < a.K; ++k) gb[k] += gb_n[k];                                                         \
      if (a.need_gw) {                                                                                            \
        for (int64_t h = 0; h < a.H; ++h)                                                                         \
          std::memcpy(xp + ((h + a.ph) * a.Wp + a.pw) * a.Ci, a.x + (n * a.H + h) * a.W * a.Ci,                   \
                      sizeof(float) * a.W * a.Ci);                                                                \
        SKIPTRAIN_NHWC_DISPATCH(nhwc_gw_instance, a.KW, a.CV, dq, dq_row, a.K, xp, a.Wp, a.Ci, a.KH, a.Ho, a.Wo, \
                                gw)                                                                               \
      }                                                                                                           \
      if (a.need_gi)                                                                                              \
        SKIPTRAIN_NHWC_DISPATCH(nhwc_gi_instance, a.KW, a.CV, dqp, dq_row, a.K, a.KH, a.wt, a.Ci, a.H, a.W,     \
                                a.gi + n * a.H * a.W * a.Ci)                                                      \
    }                                                                                                             \
  }

#if SKIPTRAIN_EMP_DIRECT
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx2,fma")
namespace nhwc_avx512 {
#define SKIPTRAIN_VW 16
#include "skiptrain/ops/cpu/emp_conv2d_nhwc.h"
#undef SKIPTRAIN_VW
SKIPTRAIN_NHWC_INSTANCES
}  // namespace nhwc_avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace nhwc_avx2 {
#define SKIPTRAIN_VW 8
#include "skiptrain/ops/cpu/emp_conv2d_nhwc.h"
#undef SKIPTRAIN_VW
SKIPTRAIN_NHWC_INSTANCES
}  // namespace nhwc_avx2
#pragma GCC pop_options
#endif  // SKIPTRAIN_EMP_DIRECT

bool nhwc_backward_applies(const at::Tensor& input, const at::Tensor& weight, c10::IntArrayRef stride,
                           c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups) {
  return input.scalar_type() == at::kFloat && input.device().is_cpu() && input.dim() == 4 &&
         input.is_contiguous(at::MemoryFormat::ChannelsLast) &&
         emp_backward_keeps_channels_last(input.size(1), weight.size(2), weight.size(3), stride, padding, dilation,
                                          groups);
}

void nhwc_backward(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
                   const at::Tensor& idx, c10::IntArrayRef padding, std::array<bool, 3> mask, at::Tensor& grad_input,
                   at::Tensor& grad_weight, at::Tensor& grad_bias) {
  const int vw = emp_vector_width();
  auto go = grad_output.contiguous(at::MemoryFormat::ChannelsLast);
  NhwcArgs a;
  a.x = input.data_ptr<float>();
  a.go = go.data_ptr<float>();
  a.idx = idx.data_ptr<int64_t>();
  a.K = idx.numel();
  a.Ci = input.size(1), a.H = input.size(2), a.W = input.size(3);
  a.Co = weight.size(0), a.KH = weight.size(2), a.KW = weight.size(3);
  a.Ho = go.size(2), a.Wo = go.size(3);
  a.ph = padding[0], a.pw = padding[1];
  a.need_gi = mask[0], a.need_gw = mask[1], a.need_gb = mask[2];
  a.Wp = a.W + 2 * a.pw;
  const int64_t Hp = a.H + 2 * a.ph;
  a.bh = a.KH - 1 - a.ph, a.bw = a.KW - 1 - a.pw;
  a.Wq = a.W + a.KW - 1;
  const int64_t Hq = a.H + a.KH - 1;
  // Up to 4 vectors of input channels per block (2 with AVX2's 16 registers), dividing C_in.
  const int64_t cvecs = a.Ci / vw;
  a.CV = (vw == 16 && cvecs % 4 == 0) ? 4 : cvecs % 2 == 0 ? 2 : 1;
  at::Tensor wt;
  if (a.need_gi) {
    wt = weight.index_select(0, idx).permute({0, 2, 3, 1}).contiguous();
    a.wt = wt.data_ptr<float>();
    a.gi = grad_input.data_ptr<float>();
  }
  ThreadPartials<float> gw_parts(a.need_gw ? a.K * a.KH * a.KW * a.Ci : 1);
  ThreadPartials<double> gb_parts(a.K);
  at::parallel_for(0, input.size(0), 1, [&](int64_t begin, int64_t end) {
    float* gw_local = gw_parts.mine();
    double* gb_local = gb_parts.mine();
    // Zeroed once: the borders stay zero, the interiors are rewritten per instance.
    auto xp = at::zeros({a.need_gw ? Hp * a.Wp * a.Ci : 1}, at::kFloat);
    auto dqp = at::zeros({Hq * a.Wq * a.K}, at::kFloat);
#if SKIPTRAIN_EMP_DIRECT
    if (vw == 16)
      nhwc_avx512::instances(a, begin, end, xp.data_ptr<float>(), dqp.data_ptr<float>(), gw_local, gb_local);
    else
      nhwc_avx2::instances(a, begin, end, xp.data_ptr<float>(), dqp.data_ptr<float>(), gw_local, gb_local);
#endif
  });
  // Kept rows [K, KH, KW, C_in] viewed as [K, C_in, KH, KW].
  if (a.need_gw)
    grad_weight.index_copy_(0, idx, gw_parts.total({a.K, a.KH, a.KW, a.Ci}, weight.scalar_type()).permute({0, 3, 1, 2}));
  if (a.need_gb) grad_bias.index_copy_(0, idx, gb_parts.total({a.K}, grad_bias.scalar_type()));
}

}  // namespace skiptrain::cpu

namespace skiptrain {

bool emp_backward_keeps_channels_last(int64_t in_channels, int64_t kernel_h, int64_t kernel_w, c10::IntArrayRef stride,
                                      c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups) {
  const int vw = cpu::emp_vector_width();
  return vw > 0 && groups == 1 && stride[0] == 1 && stride[1] == 1 && dilation[0] == 1 && dilation[1] == 1 &&
         in_channels % vw == 0 && (kernel_w == 1 || kernel_w == 3 || kernel_w == 5) && padding[0] <= kernel_h - 1 &&
         padding[1] <= kernel_w - 1;
}

}  // namespace skiptrain
