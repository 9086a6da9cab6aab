// A step learning-rate schedule: the base rate, multiplied by a factor at each milestone
// the run has passed, after an optional linear warm-up. The one rule behind
// --lr/--lr-milestones/--lr-gamma/--lr-warmup (the main model) and
// --eif-lr/--eif-lr-milestones/--eif-lr-factor (the filter, no warm-up).
#pragma once

#include <cstdint>
#include <vector>

namespace skiptrain::optim {

struct StepSchedule {
  double lr = 0.01;                 // the rate before the first milestone
  std::vector<int64_t> milestones;  // iterations at which the rate is multiplied; >= 0, strictly increasing
  double factor = 0.1;              // the multiplier at each milestone; > 0
  // Iterations of linear warm-up (He et al. 2016 warm ResNet-110 up; Goyal et al. 2017 large
  // steps): iteration i < warmup runs at (i + 1) / warmup of the step rate, milestones included
  // (a warm-up past the first milestone never reaches lr). 0: none; >= 0.
  int64_t warmup = 0;

  // lr * factor^(number of milestones <= iteration), times the warm-up's share.
  double at(int64_t iteration) const;

  // Throws InputError naming `milestones_flag` when a milestone is negative or the milestones are
  // not strictly increasing, `factor_flag` when the factor is not finite and > 0, and
  // `warmup_flag` when the warm-up is negative.
  void validate(const char* milestones_flag, const char* factor_flag, const char* warmup_flag = "warmup") const;
};

}  // namespace skiptrain::optim
