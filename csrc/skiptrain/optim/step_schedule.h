// A step learning-rate schedule: the base rate, multiplied by a factor at each milestone
// the run has passed. The one rule behind --lr/--lr-milestones/--lr-gamma (the main model)
// and --eif-lr/--eif-lr-milestones/--eif-lr-factor (the filter).
#pragma once

#include <cstdint>
#include <vector>

namespace skiptrain::optim {

struct StepSchedule {
  double lr = 0.01;                 // the rate before the first milestone
  std::vector<int64_t> milestones;  // iterations at which the rate is multiplied; >= 0, strictly increasing
  double factor = 0.1;              // the multiplier at each milestone; > 0

  // lr * factor^(number of milestones <= iteration).
  double at(int64_t iteration) const;

  // Throws InputError naming `milestones_flag` when a milestone is negative or the milestones are
  // not strictly increasing, and `factor_flag` when the factor is not finite and > 0.
  void validate(const char* milestones_flag, const char* factor_flag) const;
};

}  // namespace skiptrain::optim
