// Direct float32 kernels of the pruned conv backward (stride 1, groups 1), written once
// and compiled once per instruction set: emp_conv2d_kernel.cpp includes this file inside
// a namespace under `#pragma GCC target(...)` with SKIPTRAIN_VW = floats per vector.
//
// Layout trick: the padded input plane xp [Hp, Wp] and the kept error map dq [Ho, Wp] share
// the row stride Wp (columns Wo..Wp-1 of dq are zero). A tap (i, j) is then the 1-d shift
// off = i*dh*Wp + j*dw, so both grads are 1-d correlations over contiguous memory:
//   grad_weight[k, c, i, j] = sum_q dq[k, q] * xp[c, q + off]
//   grad_xp[c, r]           = sum_k sum_(i,j) W[k, c, i, j] * dq[k, r - off]
// and run at full vector width whatever W is. No im2col buffer.
// Masked layout (AVX-512 only, "same" convs whose W divides the vector width, e.g. 8x8 planes):
// Wp = W, no zero columns; a tap that would wrap into the neighbouring row is zeroed by a
// zero-masking load instead. The lane -> column map is then the same for every vector, so each
// tap column j has one constant mask (all ones in the padded layout). Saves the 2*pw/Wp of wasted
// work that zero columns cost on narrow planes (25% at 8 wide).
// (No include guard on purpose: included once per instruction set.)
#include "skiptrain/ops/cpu/emp_simd.h"

// KB kept channels x TB taps of one kernel row, summed over `nbc` instances (planes `dq_n` / `x_n`
// floats apart) so the horizontal sums are paid once per sub-batch, not once per instance:
// out[kb * stride_k + tb] += sum_n sum_q dq[kb][n][q] * xrow[n][q + tb*dw] (x lanes masked by jmask[tb]).
template <int TB, int KB>
static void gw_block(const float* const* dq, int64_t dq_n, const float* xrow, int64_t x_n, int64_t nbc, int64_t dw,
                     int64_t Qv, const unsigned* jmask, float* out, int64_t stride_k) {
  unsigned m[TB];
#pragma GCC unroll 8
  for (int tb = 0; tb < TB; ++tb) m[tb] = jmask[tb];
  vf acc[KB][TB];
#pragma GCC unroll 8
  for (int kb = 0; kb < KB; ++kb)
#pragma GCC unroll 8
    for (int tb = 0; tb < TB; ++tb) acc[kb][tb] = vf{};
  for (int64_t n = 0; n < nbc; ++n) {
    const float* xr = xrow + n * x_n;
    const float* dn[KB];
#pragma GCC unroll 8
    for (int kb = 0; kb < KB; ++kb) dn[kb] = dq[kb] + n * dq_n;
    for (int64_t q = 0; q < Qv; q += VW) {
      vf d[KB];
#pragma GCC unroll 8
      for (int kb = 0; kb < KB; ++kb) {
        d[kb] = loadu(dn[kb] + q);
        SKIPTRAIN_PIN(d[kb]);
      }
#pragma GCC unroll 8
      for (int tb = 0; tb < TB; ++tb) {
        const vf x = loadz(xr + q + tb * dw, m[tb]);
#pragma GCC unroll 8
        for (int kb = 0; kb < KB; ++kb) acc[kb][tb] += d[kb] * x;
      }
    }
  }
  // Fully unrolled like the loops above: a runtime-indexed acc would live on the stack, and GCC then
  // stores every accumulator back to it on each inner iteration (seen in perf annotate).
#pragma GCC unroll 8
  for (int kb = 0; kb < KB; ++kb)
#pragma GCC unroll 8
    for (int tb = 0; tb < TB; ++tb) out[kb * stride_k + tb] += hsum(acc[kb][tb]);
}

// gw_block<TB, r> for a run-time block size r <= R.
template <int TB, int R>
static void gw_block_n(int r, const float* const* dq, int64_t dq_n, const float* xrow, int64_t x_n, int64_t nbc,
                       int64_t dw, int64_t Qv, const unsigned* jmask, float* out, int64_t stride_k) {
  if constexpr (R > 1) {
    if (r < R) return gw_block_n<TB, R - 1>(r, dq, dq_n, xrow, x_n, nbc, dw, Qv, jmask, out, stride_k);
  }
  gw_block<TB, R>(dq, dq_n, xrow, x_n, nbc, dw, Qv, jmask, out, stride_k);
}

// grad_weight of a sub-batch of nbc instances for all kept channels: gw[(k*Ci + c)*KH*KW + i*KW + j].
// dq plane of (k, n): dq_planes + (k*NB + n)*dq_stride; xp plane of (c, n): xp_planes + (c*NB + n)*xp_stride.
// The K kept channels are split into ceil(K/KB) blocks of near-equal size: a small remainder block
// (or single channels) reuses each x load for few FMAs and runs load-bound.
template <int TB, int KB>
static void gw_instances(const float* dq_planes, int64_t dq_stride, int64_t K, const float* xp_planes,
                         int64_t xp_stride, int64_t NB, int64_t nbc, int64_t Ci, int64_t KH, int64_t dh, int64_t dw,
                         int64_t Wp, int64_t Qv, const unsigned* jmask, float* gw) {
  const int64_t T = KH * TB;
  const int64_t blocks = (K + KB - 1) / KB;
  for (int64_t c = 0; c < Ci; ++c) {
    const float* xp = xp_planes + c * NB * xp_stride;
    for (int64_t i = 0; i < KH; ++i) {
      const float* xrow = xp + i * dh * Wp;
      for (int64_t b = 0, k = 0; b < blocks; ++b) {
        const int r = static_cast<int>(K / blocks + (b < K % blocks ? 1 : 0));
        const float* d[KB];
        for (int kb = 0; kb < r; ++kb) d[kb] = dq_planes + (k + kb) * NB * dq_stride;
        gw_block_n<TB, KB>(r, d, dq_stride, xrow, xp_stride, nbc, dw, Qv, jmask, gw + (k * Ci + c) * T + i * TB,
                           Ci * T);
        k += r;
      }
    }
  }
}

// CB input channels x RB vectors of padded positions starting at r:
// out[cb][rb*VW + l] = sum_k sum_t wt[(k*T + t)*Ci + c0 + cb] * dq[k][r + rb*VW + l - off[t]]
// (dq lanes masked by tmask[t]).
template <int CB, int RB>
static void gi_block(const float* dq_planes, int64_t dq_stride, int64_t K, const float* wt, int64_t Ci, int64_t c0,
                     const int64_t* off, const unsigned* tmask, int64_t T, int64_t r, float* out,
                     int64_t out_stride) {
  vf acc[CB][RB];
#pragma GCC unroll 8
  for (int cb = 0; cb < CB; ++cb)
#pragma GCC unroll 8
    for (int rb = 0; rb < RB; ++rb) acc[cb][rb] = vf{};
  for (int64_t k = 0; k < K; ++k) {
    const float* dk = dq_planes + k * dq_stride + r;
    const float* wk = wt + k * T * Ci + c0;
    for (int64_t t = 0; t < T; ++t) {
      const float* dp = dk - off[t];
      vf d[RB];
#pragma GCC unroll 8
      for (int rb = 0; rb < RB; ++rb) {
        d[rb] = loadz(dp + rb * VW, tmask[t]);
        SKIPTRAIN_PIN(d[rb]);
      }
#pragma GCC unroll 8
      for (int cb = 0; cb < CB; ++cb) {
        const vf w = bcast(wk[t * Ci + cb]);
#pragma GCC unroll 8
        for (int rb = 0; rb < RB; ++rb) acc[cb][rb] += w * d[rb];
      }
    }
  }
  // Unrolled for the same reason as gw_block's final loop: keeps acc in registers.
#pragma GCC unroll 8
  for (int cb = 0; cb < CB; ++cb)
#pragma GCC unroll 8
    for (int rb = 0; rb < RB; ++rb) storeu(out + cb * out_stride + rb * VW, acc[cb][rb]);
}

// Runs gi_block over vectors [0, Rv/VW) of one channel block: RB vectors at a time, then singles.
template <int CB, int RB>
static void gi_rows(const float* dq_planes, int64_t dq_stride, int64_t K, const float* wt, int64_t Ci, int64_t c,
                    const int64_t* off, const unsigned* tmask, int64_t T, int64_t r_begin, int64_t Rv, float* gip) {
  int64_t Rfull = Rv / (RB * VW) * (RB * VW);
  // One vector left after blocks of 3 (e.g. 4 vectors of an 8x8 plane): take 2 + 2 instead of 3 + 1,
  // a single-vector block is bound by its CB weight broadcasts.
  if (RB == 3 && Rfull > 0 && Rv - Rfull == VW) Rfull -= RB * VW;
  for (int64_t r = 0; r < Rfull; r += RB * VW)
    gi_block<CB, RB>(dq_planes, dq_stride, K, wt, Ci, c, off, tmask, T, r_begin + r, gip + c * Rv + r, Rv);
  int64_t r = Rfull;
  if (RB > 2)
    for (; r + 2 * VW <= Rv; r += 2 * VW)
      gi_block<CB, (RB > 2 ? 2 : 1)>(dq_planes, dq_stride, K, wt, Ci, c, off, tmask, T, r_begin + r, gip + c * Rv + r, Rv);
  for (; r < Rv; r += VW)
    gi_block<CB, 1>(dq_planes, dq_stride, K, wt, Ci, c, off, tmask, T, r_begin + r, gip + c * Rv + r, Rv);
}

// grad of the padded input rows [r_begin, r_begin + Rv) of one instance for every input channel
// into gip[c * Rv + ...]; Rv is a multiple of VW. The kept error maps of the instance are
// dq_planes + k*dq_stride. Channel blocks of CB, then CB/2, then singles.
template <int CB, int RB>
static void gi_instance(const float* dq_planes, int64_t dq_stride, int64_t K, const float* wt, int64_t Ci,
                        const int64_t* off, const unsigned* tmask, int64_t T, int64_t r_begin, int64_t Rv, float* gip) {
  int64_t c = 0;
  for (; c + CB <= Ci; c += CB) gi_rows<CB, RB>(dq_planes, dq_stride, K, wt, Ci, c, off, tmask, T, r_begin, Rv, gip);
  for (; c + CB / 2 <= Ci && CB / 2 > 1; c += CB / 2)
    gi_rows<(CB / 2 > 1 ? CB / 2 : 1), RB>(dq_planes, dq_stride, K, wt, Ci, c, off, tmask, T, r_begin, Rv, gip);
  for (; c < Ci; ++c) gi_rows<1, RB>(dq_planes, dq_stride, K, wt, Ci, c, off, tmask, T, r_begin, Rv, gip);
}
