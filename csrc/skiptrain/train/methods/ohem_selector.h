// OHEM, online hard example mining (Shrivastava et al. 2016) for classification: a no-grad
// loss forward on every incoming instance, then forward + backward on the ceil(ratio * m)
// highest-loss ones, re-batched. Pays the forward pass of every instance (LossOnlyForward)
// and the top-k as m * ceil(log2 m) comparisons, each counted as one MAC (Selection).
#pragma once

#include "skiptrain/train/methods/selector.h"

namespace skiptrain::train {

class OhemSelector : public SelectByLoss {
 public:
  // `ratio` in (0, 1]: the share of each batch that trains (at least one instance).
  explicit OhemSelector(double ratio);

  // Indices of the highest losses, in ascending index order.
  torch::Tensor select(const data::Batch& batch, const Plan& plan, const torch::Tensor& loss_only_losses,
                       cost::Ledger& ledger) override;

 private:
  double ratio_;
};

}  // namespace skiptrain::train
