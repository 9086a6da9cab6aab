// The one rounding rule for "a fraction of n items", shared by every selector and by Error Map
// Pruning: ceil(fraction * n), tolerant of floating-point error, so that a decimal fraction counts
// as the exact rational it stands for (0.3 * 10 = 3.0000000000000004 gives 3, 0.55 * 100 gives 55).
#pragma once

#include <cmath>
#include <cstdint>

namespace skiptrain {

// ceil(fraction * n) with products within 1e-9 above an integer rounded down to it; not clamped.
inline int64_t ceil_share(double fraction, int64_t n) {
  return static_cast<int64_t>(std::ceil(fraction * static_cast<double>(n) - 1e-9));
}

}  // namespace skiptrain
