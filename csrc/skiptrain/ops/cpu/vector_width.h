// Which vector instruction set the EMP CPU kernels can use on this CPU, decided once at run
// time: the kernels are compiled for AVX-512 and AVX2 (GCC on x86-64) whatever the build flags.
// SKIPTRAIN_EMP_VECTOR_WIDTH=8 (AVX2) or 0 (no direct kernels: ATen on the kept slice) narrows
// the choice, so the narrower paths can be tested and measured on an AVX-512 machine.
#pragma once

#include <cstdlib>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SKIPTRAIN_EMP_DIRECT 1
#include <immintrin.h>
#else
#define SKIPTRAIN_EMP_DIRECT 0
#endif

namespace skiptrain::cpu {

// 0: no direct kernel on this CPU (or this compiler); else floats per vector (16 or 8).
inline int emp_vector_width() {
#if SKIPTRAIN_EMP_DIRECT
  static const int width = [] {
    __builtin_cpu_init();
    const char* forced = std::getenv("SKIPTRAIN_EMP_VECTOR_WIDTH");
    const int most = forced ? std::atoi(forced) : 16;
    if (most >= 16 && __builtin_cpu_supports("avx512f")) return 16;
    if (most >= 8 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
    return 0;
  }();
  return width;
#else
  return 0;
#endif
}

}  // namespace skiptrain::cpu
