// The step learning-rate schedule and its checks; messages name the flag, the rule and the value found.
#include "skiptrain/optim/step_schedule.h"

#include "skiptrain/errors.h"

#include <cmath>

namespace skiptrain::optim {

double StepSchedule::at(int64_t iteration) const {
  double value = lr;
  for (int64_t milestone : milestones)
    if (iteration >= milestone) value *= factor;
  if (iteration < warmup) value *= static_cast<double>(iteration + 1) / static_cast<double>(warmup);
  return value;
}

void StepSchedule::validate(const char* milestones_flag, const char* factor_flag, const char* warmup_flag) const {
  if (warmup < 0) reject_flag(warmup_flag, "non-negative", warmup);
  // Written so that NaN fails (comparisons with NaN are false).
  if (!(factor > 0 && std::isfinite(factor))) reject_flag(factor_flag, "> 0", factor);
  for (size_t i = 0; i < milestones.size(); ++i) {
    if (milestones[i] < 0) reject_flag(milestones_flag, "non-negative", milestones[i]);
    if (i > 0 && milestones[i] <= milestones[i - 1]) reject_flag(milestones_flag, "strictly increasing", milestones[i]);
  }
}

}  // namespace skiptrain::optim
