// Direct float32 kernels of the pruned conv backward for channels-last (NHWC) tensors,
// stride 1, dilation 1, groups 1, C_in a multiple of the vector width: the layout that
// oneDNN's dense convolution is fastest in, so a channels-last model keeps it in backward.
// Written once and compiled once per instruction set: emp_backward_nhwc.cpp includes this file
// inside a namespace under `#pragma GCC target(...)` with SKIPTRAIN_VW = floats per vector.
// (No include guard on purpose: included once per instruction set.)
//
// Vectors run along C_in, so neither gradient needs a horizontal sum or an unaligned load:
//   grad_weight[k, i, j, c] = sum_(h,w) dq[h, w, k] * xp[h + i, w + j, c]
//   grad_input[h, w, c]     = sum_(k,i,j) W[k, i, j, c] * dqp[h + KH-1-i, w + KW-1-j, k]
// xp is the zero-padded input of one instance ([Hp, Wp, C_in]); dqp the kept error map
// ([Ho, Wo, K]) inside a zero border of KH-1-ph rows and KW-1-pw columns, so grad_input reads it
// without bounds checks. Both are rebuilt per instance in per-thread buffers (borders stay zero).
#include "skiptrain/ops/cpu/emp_simd.h"

static constexpr int kVecRegs = VW == 16 ? 32 : 16;  // zmm / ymm registers

// The kept channels idx[0..K) of one instance's error map go [Ho][Wo][Co] into dq (position
// stride K, row stride dq_row), and their per-channel sums added to gb (K floats). With AVX-512,
// 16 kept channels per instruction: a permute of the position's channels when C_out <= 32, a
// gather above; a scalar loop otherwise.
static void nhwc_gather(const float* go, int64_t Ho, int64_t Wo, int64_t Co, const int64_t* idx, int64_t K, float* dq,
                        int64_t dq_row, float* gb) {
#if SKIPTRAIN_VW == 16
  for (int64_t k0 = 0; k0 < K; k0 += 16) {
    const int64_t kc = std::min<int64_t>(16, K - k0);
    const __mmask16 out_mask = static_cast<__mmask16>((1u << kc) - 1);
    alignas(64) int32_t lanes[16] = {};
    for (int64_t l = 0; l < kc; ++l) lanes[l] = static_cast<int32_t>(idx[k0 + l]);
    const __m512i iv = _mm512_load_si512(lanes);
    const __mmask16 lo = static_cast<__mmask16>(Co >= 16 ? 0xFFFFu : (1u << Co) - 1);
    const __mmask16 hi = static_cast<__mmask16>(Co >= 32 ? 0xFFFFu : Co > 16 ? (1u << (Co - 16)) - 1 : 0u);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t ho = 0; ho < Ho; ++ho)
      for (int64_t wo = 0; wo < Wo; ++wo) {
        const float* src = go + (ho * Wo + wo) * Co;
        __m512 v;
        if (Co <= 16) {
          v = _mm512_maskz_permutexvar_ps(0xFFFF, iv, _mm512_maskz_loadu_ps(lo, src));  // maskz: GCC 12 warns on the unmasked form
        } else if (Co <= 32) {
          v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lo, src), iv, _mm512_maskz_loadu_ps(hi, src + 16));
        } else {
          v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), out_mask, iv, src, 4);
        }
        _mm512_mask_storeu_ps(dq + ho * dq_row + wo * K + k0, out_mask, v);
        sum = _mm512_add_ps(sum, v);
      }
    alignas(64) float sums[16];
    _mm512_store_ps(sums, sum);
    for (int64_t l = 0; l < kc; ++l) gb[k0 + l] += sums[l];
  }
#else
  for (int64_t ho = 0; ho < Ho; ++ho)
    for (int64_t wo = 0; wo < Wo; ++wo) {
      const float* src = go + (ho * Wo + wo) * Co;
      float* dst = dq + ho * dq_row + wo * K;
      for (int64_t k = 0; k < K; ++k) {
        dst[k] = src[idx[k]];
        gb[k] += dst[k];
      }
    }
#endif
}

// Kept channels per grad_weight block: KB*KW*CV accumulators + KB broadcasts + 1 input vector
// (and one spare) must fit the register file.
template <int KW, int CV>
static constexpr int nhwc_gw_kb() {
  constexpr int kb = (kVecRegs - 3) / (KW * CV + 1);
  return kb < 1 ? 1 : kb > 8 ? 8 : kb;
}

// KB kept channels x KW taps of kernel row i x CV vectors of input channels, over `rows` output
// rows of `cols` positions: acc[kb][j][cv] += dq[p, k0+kb] * xrow[p + j, c0 + cv*VW].
// dq: position (0, 0) of the block, row stride dq_row, position stride K; x: (row 0 + i, col 0,
// c0), row stride x_row, position stride Ci. out: gw_local at (k0, i, 0, c0), [K][KH][KW][Ci].
template <int KB, int KW, int CV>
static void nhwc_gw_block(const float* dq, int64_t dq_row, int64_t K, const float* x, int64_t x_row, int64_t Ci,
                          int64_t rows, int64_t cols, float* out, int64_t out_k) {
  vf acc[KB][KW][CV];
#pragma GCC unroll 8
  for (int kb = 0; kb < KB; ++kb)
#pragma GCC unroll 8
    for (int j = 0; j < KW; ++j)
#pragma GCC unroll 4
      for (int cv = 0; cv < CV; ++cv) acc[kb][j][cv] = vf{};
  for (int64_t r = 0; r < rows; ++r) {
    const float* dr = dq + r * dq_row;
    const float* xr = x + r * x_row;
    for (int64_t p = 0; p < cols; ++p) {
      vf b[KB];
#pragma GCC unroll 8
      for (int kb = 0; kb < KB; ++kb) {
        b[kb] = bcast(dr[p * K + kb]);
        SKIPTRAIN_PIN(b[kb]);
      }
#pragma GCC unroll 8
      for (int j = 0; j < KW; ++j)
#pragma GCC unroll 4
        for (int cv = 0; cv < CV; ++cv) {
          const vf xv = loadu(xr + (p + j) * Ci + cv * VW);
#pragma GCC unroll 8
          for (int kb = 0; kb < KB; ++kb) acc[kb][j][cv] += b[kb] * xv;
        }
    }
  }
#pragma GCC unroll 8
  for (int kb = 0; kb < KB; ++kb)
#pragma GCC unroll 8
    for (int j = 0; j < KW; ++j)
#pragma GCC unroll 4
      for (int cv = 0; cv < CV; ++cv) {
        float* o = out + kb * out_k + j * Ci + cv * VW;
        storeu(o, loadu(o) + acc[kb][j][cv]);
      }
}

// nhwc_gw_block<KB, ...> for a run-time block size r <= R.
template <int R, int KW, int CV>
static void nhwc_gw_block_n(int r, const float* dq, int64_t dq_row, int64_t K, const float* x, int64_t x_row,
                            int64_t Ci, int64_t rows, int64_t cols, float* out, int64_t out_k) {
  if constexpr (R > 1) {
    if (r < R) return nhwc_gw_block_n<R - 1, KW, CV>(r, dq, dq_row, K, x, x_row, Ci, rows, cols, out, out_k);
  }
  nhwc_gw_block<R, KW, CV>(dq, dq_row, K, x, x_row, Ci, rows, cols, out, out_k);
}

// grad_weight of one instance, added to gw [K][KH][KW][Ci]. dq: the kept error map's position
// (0, 0), row stride dq_row; xp: the padded input [Hp][Wp][Ci]. Output rows go in tiles whose
// input rows and error-map rows stay within L1 across the kept-channel blocks and kernel rows.
template <int KW, int CV>
static void nhwc_gw_instance(const float* dq, int64_t dq_row, int64_t K, const float* xp, int64_t Wp, int64_t Ci,
                             int64_t KH, int64_t Ho, int64_t Wo, float* gw) {
  constexpr int KB = nhwc_gw_kb<KW, CV>();
  const int64_t blocks = (K + KB - 1) / KB;
  const int64_t row_bytes = 4 * (Wp * CV * VW + Wo * K);
  const int64_t tile = std::max<int64_t>(1, (int64_t{32} << 10) / row_bytes - (KH - 1));
  const int64_t x_row = Wp * Ci, T = KH * KW;
  for (int64_t c0 = 0; c0 < Ci; c0 += CV * VW)
    for (int64_t h0 = 0; h0 < Ho; h0 += tile) {
      const int64_t rows = std::min(tile, Ho - h0);
      for (int64_t b = 0, k = 0; b < blocks; ++b) {
        const int r = static_cast<int>(K / blocks + (b < K % blocks ? 1 : 0));
        for (int64_t i = 0; i < KH; ++i)
          nhwc_gw_block_n<KB, KW, CV>(r, dq + h0 * dq_row + k, dq_row, K, xp + (h0 + i) * x_row + c0, x_row, Ci,
                                      rows, Wo, gw + (k * T + i * KW) * Ci + c0, T * Ci);
        k += r;
      }
    }
}

// Output positions per grad_input block: RB*CV accumulators + KW*CV weight vectors + 1 broadcast
// (and one spare); a power of two so that it divides the usual plane widths.
template <int KW, int CV>
static constexpr int nhwc_gi_rb() {
  int rb = 16;
  while (rb > 1 && rb * CV + KW * CV + 2 > kVecRegs) rb /= 2;
  return rb;
}

// RB consecutive input positions of one row x CV vectors of input channels:
// acc[r][cv] = sum_k sum_(i,j) W[k, i, j, c0 + cv*VW] * dqp[row + KH-1-i, w0 + r + KW-1-j, k].
// dq: dqp at (row, w0), row stride dq_row; wt: kept weights [K][KH][KW][Ci] at c0; out: grad_input
// at (row, w0, c0), position stride Ci. Dilation 1: tap j of position r and tap j+1 of position
// r+1 read the same error value, so each value is broadcast once per (k, i).
template <int RB, int KW, int CV>
static void nhwc_gi_block(const float* dq, int64_t dq_row, int64_t K, int64_t KH, const float* wt, int64_t Ci,
                          float* out) {
  vf acc[RB][CV];
#pragma GCC unroll 16
  for (int r = 0; r < RB; ++r)
#pragma GCC unroll 4
    for (int cv = 0; cv < CV; ++cv) acc[r][cv] = vf{};
  for (int64_t k = 0; k < K; ++k)
    for (int64_t i = 0; i < KH; ++i) {
      const float* wk = wt + ((k * KH + i) * KW) * Ci;
      const float* dr = dq + (KH - 1 - i) * dq_row + k;
      vf w[KW][CV];
#pragma GCC unroll 8
      for (int j = 0; j < KW; ++j)
#pragma GCC unroll 4
        for (int cv = 0; cv < CV; ++cv) {
          w[j][cv] = loadu(wk + j * Ci + cv * VW);
          SKIPTRAIN_PIN(w[j][cv]);
        }
#pragma GCC unroll 32
      for (int s = 0; s < RB + KW - 1; ++s) {
        const vf d = bcast(dr[s * K]);
#pragma GCC unroll 8
        for (int j = 0; j < KW; ++j) {
          const int r = s - (KW - 1 - j);
          if (r < 0 || r >= RB) continue;
#pragma GCC unroll 4
          for (int cv = 0; cv < CV; ++cv) acc[r][cv] += d * w[j][cv];
        }
      }
    }
#pragma GCC unroll 16
  for (int r = 0; r < RB; ++r)
#pragma GCC unroll 4
    for (int cv = 0; cv < CV; ++cv) storeu(out + r * Ci + cv * VW, acc[r][cv]);
}

// Positions [w0, W) of one row in blocks of RB, the remainder in halving blocks.
template <int RB, int KW, int CV>
static void nhwc_gi_row(int64_t w0, int64_t W, const float* dq, int64_t dq_row, int64_t K, int64_t KH,
                        const float* wt, int64_t Ci, float* out) {
  for (; w0 + RB <= W; w0 += RB) nhwc_gi_block<RB, KW, CV>(dq + w0 * K, dq_row, K, KH, wt, Ci, out + w0 * Ci);
  if constexpr (RB > 1) {
    if (w0 < W) nhwc_gi_row<RB / 2, KW, CV>(w0, W, dq, dq_row, K, KH, wt, Ci, out);
  }
}

// grad_input of one instance, [H][W][Ci]. dqp: the bordered kept error map, row stride dq_row.
template <int KW, int CV>
static void nhwc_gi_instance(const float* dqp, int64_t dq_row, int64_t K, int64_t KH, const float* wt, int64_t Ci,
                             int64_t H, int64_t W, float* gi) {
  constexpr int RB = nhwc_gi_rb<KW, CV>();
  for (int64_t h = 0; h < H; ++h)
    for (int64_t c0 = 0; c0 < Ci; c0 += CV * VW)
      nhwc_gi_row<RB, KW, CV>(0, W, dqp + h * dq_row, dq_row, K, KH, wt + c0, Ci, gi + h * W * Ci + c0);
}
