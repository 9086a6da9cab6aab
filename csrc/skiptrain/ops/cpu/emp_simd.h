// The vector vocabulary of the EMP CPU kernels (emp_conv2d_direct.h, emp_conv2d_nhwc.h):
// a GCC vector type of SKIPTRAIN_VW floats and its loads, stores, broadcasts and sums, written
// once and compiled once per instruction set: a kernel file includes it inside a namespace
// under `#pragma GCC target(...)` with SKIPTRAIN_VW = floats per vector (16: AVX-512, 8: AVX2).
// (No include guard on purpose: included once per instruction set.)

static constexpr int VW = SKIPTRAIN_VW;
typedef float vf __attribute__((vector_size(SKIPTRAIN_VW * 4), __may_alias__));
typedef float vfu __attribute__((vector_size(SKIPTRAIN_VW * 4), __may_alias__, aligned(4)));

static inline __attribute__((always_inline)) vf loadu(const float* p) { return *reinterpret_cast<const vfu*>(p); }
static inline __attribute__((always_inline)) void storeu(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }
// set1, not `vf{} + s`: the latter costs a scalar add before the broadcast and keeps GCC from
// broadcasting straight from memory.
#if SKIPTRAIN_VW == 16
static inline __attribute__((always_inline)) vf bcast(float s) { return (vf)_mm512_set1_ps(s); }
static inline __attribute__((always_inline)) vf loadz(const float* p, unsigned m) {
  return (vf)_mm512_maskz_loadu_ps((__mmask16)m, p);
}
#else
// AVX2 has no load-port-only zero-masking load; the masked layout is AVX-512 only, masks are all ones here.
static inline __attribute__((always_inline)) vf loadz(const float* p, unsigned) { return loadu(p); }
static inline __attribute__((always_inline)) vf bcast(float s) { return (vf)_mm256_set1_ps(s); }
#endif
// Pins a loaded vector in a register: without it GCC folds the load into every FMA that uses
// it, re-reading memory once per use (measured: 3x the loads of the kernels below).
#define SKIPTRAIN_PIN(v) asm("" : "+v"(v))
// Tree reduction: a lane-by-lane loop is a chain of VW dependent extract+adds, and grad_weight
// pays KB*TB of these per block and sub-batch (many, relative to the FMAs, on 8x8 planes).
static inline __attribute__((always_inline)) float hsum(vf v) {
  // Constant __builtin_shuffle, not the intrinsics: GCC 12's _mm512_reduce_add_ps and
  // _mm512_shuffle_f32x4 warn (-Wuninitialized) from inside its own header.
  typedef int vi __attribute__((vector_size(SKIPTRAIN_VW * 4)));
#if SKIPTRAIN_VW == 16
  v += __builtin_shuffle(v, vi{8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7});
  v += __builtin_shuffle(v, vi{4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3});
  v += __builtin_shuffle(v, vi{2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1});
  v += __builtin_shuffle(v, vi{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0});
#else
  v += __builtin_shuffle(v, vi{4, 5, 6, 7, 0, 1, 2, 3});
  v += __builtin_shuffle(v, vi{2, 3, 0, 1, 2, 3, 0, 1});
  v += __builtin_shuffle(v, vi{1, 0, 1, 0, 1, 0, 1, 0});
#endif
  return v[0];
}
