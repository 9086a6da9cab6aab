// The 2x2 max-pooling window rule of skiptrain's CPU code (max_pool2x2's kernel and the fused
// LeNet filter), as at::max_pool2d's CPU kernel has it: the first maximum in the order (0,0),
// (0,1), (1,0), (1,1) wins, a NaN wins over every number (the last NaN over earlier ones).
// Branch-free: on random data a branch per comparison is mispredicted half the time, which cost
// more than all the arithmetic of a pool at LeNet's sizes.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace skiptrain::cpu {

// The unsigned integer of T's width: selects done on bits have no branch for GCC to emit.
template <typename T>
using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;

// take ? a : b on bits (`take ? a : b` on floats becomes a branch in GCC's scalar loops).
template <typename T>
inline T select(bool take, T a, T b) {
  Bits<T> x, y;
  std::memcpy(&x, &a, sizeof(T));
  std::memcpy(&y, &b, sizeof(T));
  const Bits<T> mask = Bits<T>{0} - static_cast<Bits<T>>(take);
  x = (x & mask) | (y & ~mask);
  std::memcpy(&a, &x, sizeof(T));
  return a;
}

// Folds candidate v (window position k) into the running maximum m (position code): a later value
// wins only if strictly greater, or if it is NaN. Start with m = the window's first value, code 0.
// Codes are int32, not bytes: with values and codes in lanes of one width the loops vectorise at
// any map width; byte codes make GCC's vector loop 16 outputs wide, longer than LeNet's rows.
template <typename T>
inline void fold(T v, int32_t k, T& m, int32_t& code) {
  const bool take = (v > m) | (v != v);
  m = select(take, v, m);
  code = select(take, k, code);
}

// The position 0..3 of the rule's winner in a window v[0..3], for scalar loops that read a window
// at a time (the fused LeNet filter): the maximum by maxss, then the position by comparisons, is
// ~10% faster there than three dependent folds. fold suits loops that vectorise across windows.
template <typename T>
inline int32_t window_argmax(const T v[4]) {
  T max = v[0];
  for (int i = 1; i < 4; ++i) max = v[i] > max ? v[i] : max;  // maxss
  const int32_t nan = (v[0] != v[0]) | (v[1] != v[1]) | (v[2] != v[2]) | (v[3] != v[3]);
  if (nan) {
    for (int32_t i = 3; i >= 0; --i)
      if (v[i] != v[i]) return i;
  }
  const int32_t after0 = v[0] != max, after1 = v[1] != max, after2 = v[2] != max;
  return after0 * (1 + after1 * (1 + after2));
}

}  // namespace skiptrain::cpu
