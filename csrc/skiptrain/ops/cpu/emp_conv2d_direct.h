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
// (No include guard on purpose: included once per instruction set.)

static constexpr int VW = SKIPTRAIN_VW;
typedef float vf __attribute__((vector_size(SKIPTRAIN_VW * 4), __may_alias__));
typedef float vfu __attribute__((vector_size(SKIPTRAIN_VW * 4), __may_alias__, aligned(4)));

static inline __attribute__((always_inline)) vf loadu(const float* p) { return *reinterpret_cast<const vfu*>(p); }
static inline __attribute__((always_inline)) void storeu(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }
static inline __attribute__((always_inline)) vf bcast(float s) {
  vf v = {};
  return v + s;
}
// Pins a loaded vector in a register: without it GCC folds the load into every FMA that uses
// it, re-reading memory once per use (measured: 3x the loads of the kernels below).
#define SKIPTRAIN_PIN(v) asm("" : "+v"(v))
static inline __attribute__((always_inline)) float hsum(vf v) {
  float s = 0;
  for (int i = 0; i < VW; ++i) s += v[i];
  return s;
}

// KB kept channels x TB taps of one kernel row, summed over `nbc` instances (planes `dq_n` / `x_n`
// floats apart) so the horizontal sums are paid once per sub-batch, not once per instance:
// out[kb * stride_k + tb] += sum_n sum_q dq[kb][n][q] * xrow[n][q + tb*dw].
template <int TB, int KB>
static void gw_block(const float* const* dq, int64_t dq_n, const float* xrow, int64_t x_n, int64_t nbc, int64_t dw,
                     int64_t Qv, float* out, int64_t stride_k) {
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
        const vf x = loadu(xr + q + tb * dw);
#pragma GCC unroll 8
        for (int kb = 0; kb < KB; ++kb) acc[kb][tb] += d[kb] * x;
      }
    }
  }
  for (int kb = 0; kb < KB; ++kb)
    for (int tb = 0; tb < TB; ++tb) out[kb * stride_k + tb] += hsum(acc[kb][tb]);
}

// grad_weight of a sub-batch of nbc instances for all kept channels: gw[(k*Ci + c)*KH*KW + i*KW + j].
// dq plane of (k, n): dq_planes + (k*NB + n)*dq_stride; xp plane of (c, n): xp_planes + (c*NB + n)*xp_stride.
template <int TB, int KB>
static void gw_instances(const float* dq_planes, int64_t dq_stride, int64_t K, const float* xp_planes,
                         int64_t xp_stride, int64_t NB, int64_t nbc, int64_t Ci, int64_t KH, int64_t dh, int64_t dw,
                         int64_t Wp, int64_t Qv, float* gw) {
  const int64_t T = KH * TB;
  for (int64_t c = 0; c < Ci; ++c) {
    const float* xp = xp_planes + c * NB * xp_stride;
    for (int64_t i = 0; i < KH; ++i) {
      const float* xrow = xp + i * dh * Wp;
      int64_t k = 0;
      for (; k + KB <= K; k += KB) {
        const float* d[KB];
        for (int kb = 0; kb < KB; ++kb) d[kb] = dq_planes + (k + kb) * NB * dq_stride;
        gw_block<TB, KB>(d, dq_stride, xrow, xp_stride, nbc, dw, Qv, gw + (k * Ci + c) * T + i * TB, Ci * T);
      }
      for (; k < K; ++k) {
        const float* d[1] = {dq_planes + k * NB * dq_stride};
        gw_block<TB, 1>(d, dq_stride, xrow, xp_stride, nbc, dw, Qv, gw + (k * Ci + c) * T + i * TB, Ci * T);
      }
    }
  }
}

// CB input channels x RB vectors of padded positions starting at r:
// out[cb][rb*VW + l] = sum_k sum_t wt[(k*T + t)*Ci + c0 + cb] * dq[k][r + rb*VW + l - off[t]].
template <int CB, int RB>
static void gi_block(const float* dq_planes, int64_t dq_stride, int64_t K, const float* wt, int64_t Ci, int64_t c0,
                     const int64_t* off, int64_t T, int64_t r, float* out, int64_t out_stride) {
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
        d[rb] = loadu(dp + rb * VW);
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
  for (int cb = 0; cb < CB; ++cb)
    for (int rb = 0; rb < RB; ++rb) storeu(out + cb * out_stride + rb * VW, acc[cb][rb]);
}

// Runs gi_block over vectors [0, Rv/VW) of one channel block: RB vectors at a time, then singles.
template <int CB, int RB>
static void gi_rows(const float* dq_planes, int64_t dq_stride, int64_t K, const float* wt, int64_t Ci, int64_t c,
                    const int64_t* off, int64_t T, int64_t r_begin, int64_t Rv, float* gip) {
  const int64_t Rfull = Rv / (RB * VW) * (RB * VW);
  for (int64_t r = 0; r < Rfull; r += RB * VW)
    gi_block<CB, RB>(dq_planes, dq_stride, K, wt, Ci, c, off, T, r_begin + r, gip + c * Rv + r, Rv);
  int64_t r = Rfull;
  if (RB > 2)
    for (; r + 2 * VW <= Rv; r += 2 * VW)
      gi_block<CB, (RB > 2 ? 2 : 1)>(dq_planes, dq_stride, K, wt, Ci, c, off, T, r_begin + r, gip + c * Rv + r, Rv);
  for (; r < Rv; r += VW)
    gi_block<CB, 1>(dq_planes, dq_stride, K, wt, Ci, c, off, T, r_begin + r, gip + c * Rv + r, Rv);
}

// grad of the padded input rows [r_begin, r_begin + Rv) of one instance for every input channel
// into gip[c * Rv + ...]; Rv is a multiple of VW. The kept error maps of the instance are
// dq_planes + k*dq_stride. Channel blocks of CB, then CB/2, then singles.
template <int CB, int RB>
static void gi_instance(const float* dq_planes, int64_t dq_stride, int64_t K, const float* wt, int64_t Ci,
                        const int64_t* off, int64_t T, int64_t r_begin, int64_t Rv, float* gip) {
  int64_t c = 0;
  for (; c + CB <= Ci; c += CB) gi_rows<CB, RB>(dq_planes, dq_stride, K, wt, Ci, c, off, T, r_begin, Rv, gip);
  for (; c + CB / 2 <= Ci && CB / 2 > 1; c += CB / 2)
    gi_rows<(CB / 2 > 1 ? CB / 2 : 1), RB>(dq_planes, dq_stride, K, wt, Ci, c, off, T, r_begin, Rv, gip);
  for (; c < Ci; ++c) gi_rows<1, RB>(dq_planes, dq_stride, K, wt, Ci, c, off, T, r_begin, Rv, gip);
}
