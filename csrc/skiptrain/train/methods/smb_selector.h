// SMB, plain SGD on a smaller budget: trains on a fraction F of the incoming mini-batches,
// evenly spaced, and skips the others whole (no forward, nothing spent). Since the
// learning-rate schedule is in incoming iterations, this is SGD for F*N iterations with the
// schedule scaled by F; the dense reference stays the full stream of N batches.
#pragma once

#include "skiptrain/train/methods/selector.h"

namespace skiptrain::train {

class SmbSelector : public Selector {
 public:
  // `fraction` in (0, 1]: the share of incoming batches that train.
  explicit SmbSelector(double fraction);

  // Batch i (0-based) trains when ceil((i + 1) * F) > ceil(i * F): batch 0, then one every 1/F,
  // so that after n batches exactly ceil(n * F) have trained.
  Plan plan(const data::Batch& batch, cost::Ledger& ledger) override;
  // The count of batches seen ("batches"), which decides the next batch's fate.
  TensorState state() const override;
  void load_state(const TensorState& state, const std::string& what) override;

 private:
  double fraction_;
  int64_t batches_ = 0;
};

}  // namespace skiptrain::train
