// SMD, E2-Train's stochastic mini-batch dropping: each incoming mini-batch is skipped
// whole with probability p (no forward, nothing spent) and otherwise trains in full.
// The coin comes from LibTorch's global generator, which checkpoints already save.
#pragma once

#include "skiptrain/train/methods/selector.h"

namespace skiptrain::train {

class SmdSelector : public Selector {
 public:
  // `drop_probability` in [0, 1).
  explicit SmdSelector(double drop_probability);

  Plan plan(const data::Batch& batch, cost::Ledger& ledger) override;

 private:
  double drop_probability_;
};

}  // namespace skiptrain::train
