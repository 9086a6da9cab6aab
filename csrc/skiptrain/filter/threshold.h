// The EIF's adaptive loss threshold T_l (method.md 3, step 5): R_TH is the share
// of the last n batches' incoming instances that were predicted High AND labelled
// High; after each batch T_l is multiplied by a1 (R_TH >= R_set) or a2 (otherwise)
// and clamped to [threshold_min, threshold_max]. Pure bookkeeping, no tensors ops.
#pragma once

#include "skiptrain/filter/options.h"
#include "skiptrain/state.h"

#include <cstdint>
#include <deque>
#include <string>

namespace skiptrain::filter {

class AdaptiveThreshold {
 public:
  // Starts at options.init_threshold with an empty window; options must be valid.
  explicit AdaptiveThreshold(const FilterOptions& options);

  // The current T_l: an instance is labelled High when its main-model loss >= value().
  double value() const { return value_; }
  // R_TH over the window: sum(hits) / sum(incoming); 0 while the window is empty.
  double r_th() const;
  // Records one batch (`hits` = predicted High and labelled High, of `incoming`) and updates T_l.
  // A batch of 0 incoming instances carries no information and changes nothing. Returns T_l.
  double update(int64_t hits, int64_t incoming);
  // Batches currently in the window (at most options.window).
  int64_t window_batches() const { return static_cast<int64_t>(window_.size()); }

  // "value" (float64 0-d) and "window" (int64 [k, 2] of (hits, incoming), oldest first).
  TensorState state() const;
  // Restores state(); a longer window than options.window keeps its newest entries.
  // Throws InputError naming `what` when an entry is missing or T_l is not a positive finite number.
  void load_state(const TensorState& state, const std::string& what);

 private:
  FilterOptions options_;
  double value_;
  std::deque<std::pair<int64_t, int64_t>> window_;
  int64_t window_hits_ = 0;
  int64_t window_incoming_ = 0;
};

}  // namespace skiptrain::filter
