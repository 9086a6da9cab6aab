// Unbiased channel sampling of Error Map Pruning (skiptrain::sample_channels): each output channel is
// drawn with an inclusion probability proportional to its score (capped at 1, summing to the kept
// count), exactly that many channels are drawn, and each drawn channel's gradients are scaled by
// 1 / its probability, so the pruned gradients equal the dense ones in expectation. Plain loops on raw
// arrays for host and device: the CPU kernel and the CUDA kernel (in one thread) run this same code.
#pragma once

#include <c10/macros/Macros.h>

#include <cstdint>

namespace skiptrain::sampling {

// Every channel's score is raised by this share of the mean score before the probabilities are
// taken: no channel's probability is zero, and no drawn channel's scale exceeds about
// c / (k * kScoreFloor) (200 at keep 0.5), which bounds the estimate's variance and keeps the scales
// finite in half precision.
constexpr double kScoreFloor = 0.01;

// Inclusion probabilities of k of c channels (1 <= k < c) from their scores (>= 0; a NaN, infinite
// or negative score counts as 0): p[j] = min(1, t * (score[j] / sum + floor / c)), t such that the p
// sum to k (the channels that reach 1 are capped and the rest share what is left, pass after pass).
// The shares are taken of the scores' sum first, so any scale of scores (any gamma) gives the same
// probabilities and t stays near k. `p` may be `score` (computed in place).
C10_HOST_DEVICE inline void inclusion_probabilities(const double* score, int64_t c, int64_t k, double* p) {
  double sum = 0;
  for (int64_t j = 0; j < c; ++j) {
    const double s = score[j];
    p[j] = s > 0.0 && s <= 1e300 ? s : 0.0;
    sum += p[j];
  }
  for (int64_t j = 0; j < c; ++j) p[j] = (sum > 0.0 ? p[j] / sum : 0.0) + kScoreFloor / static_cast<double>(c);
  // A capped channel is marked -1 until the last pass; each pass caps at least one or ends.
  int64_t capped = 0;
  for (;;) {
    double rest = 0;
    for (int64_t j = 0; j < c; ++j)
      if (p[j] >= 0.0) rest += p[j];
    const double t = capped < k && rest > 0.0 ? static_cast<double>(k - capped) / rest : 0.0;
    int64_t newly = 0;
    for (int64_t j = 0; j < c; ++j)
      if (p[j] >= 0.0 && p[j] * t >= 1.0) {
        p[j] = -1.0;
        ++newly;
      }
    if (newly == 0) {
      for (int64_t j = 0; j < c; ++j) p[j] = p[j] < 0.0 ? 1.0 : p[j] * t;
      return;
    }
    capped += newly;
  }
}

// One unit of systematic_sample's fixed-point lengths, and a probability's length in it.
constexpr uint64_t kUnit = uint64_t{1} << 32;
C10_HOST_DEVICE inline uint64_t fixed_point_length(double q) {
  return q >= 1.0 ? kUnit : q > 0.0 ? static_cast<uint64_t>(q * static_cast<double>(kUnit)) : 0;
}

// Draws exactly k of c channels with inclusion probabilities p (each in [0, 1], summing to k) by
// systematic sampling: the k points u, u+1, ..., u+k-1 (u uniform in [0, 1)) fall on the channels'
// consecutive intervals of lengths p[j]. The lengths are fixed-point integers (2^32 per unit, each at
// most one unit) and the points are spread over their exact total, so no interval holds two points and
// every point lands: the count is exact whatever the rounding. Writes the drawn channels ascending to
// kept[0..k) and 1 / p of each to scale[0..k); returns how many it drew (k: the callers check it).
C10_HOST_DEVICE inline int64_t systematic_sample(const double* p, int64_t c, int64_t k, double u, int64_t* kept,
                                                 double* scale) {
  uint64_t total = 0;
  for (int64_t j = 0; j < c; ++j) total += fixed_point_length(p[j]);
  // The last point u' + (k-1) units must stay below the total: u' is drawn from [0, span).
  const uint64_t whole = static_cast<uint64_t>(k) * kUnit;
  const uint64_t span = kUnit - (total < whole ? whole - total : 0);
  uint64_t point = static_cast<uint64_t>(u * static_cast<double>(span));
  if (point >= span) point = span - 1;
  uint64_t edge = 0;
  int64_t drawn = 0;
  for (int64_t j = 0; j < c && drawn < k; ++j) {
    edge += fixed_point_length(p[j]);
    if (point < edge) {
      kept[drawn] = j;
      scale[drawn] = 1.0 / p[j];
      ++drawn;
      point += kUnit;
    }
  }
  return drawn;
}

}  // namespace skiptrain::sampling
